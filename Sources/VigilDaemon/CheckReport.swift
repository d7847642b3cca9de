import Foundation
import VigilCore
import VigilIngest

/// The text `vigilctl check` prints: each record in one line, then each error with its location.
public enum CheckReport {
    public static func render(file: String, result: ParseResult, json: Bool, timeZone: String) -> String {
        let zone = TimeZone(identifier: timeZone) ?? .gmt
        var lines: [String] = []
        for located in result.records {
            let place = located.line.map { "line \($0)" } ?? located.segment.map { "segment \($0)" } ?? "-"
            if json {
                guard let json = try? Digest.canonicalJSON(located.record) else {
                    lines.append("error: \(file): \(place): record \(located.record.id) cannot be written as JSON (a non-finite number)")
                    continue
                }
                lines.append(String(decoding: json, as: UTF8.self))
                continue
            }
            lines.append("\(place): " + describe(located.record, zone: zone))
        }
        for id in result.retractions { lines.append("withdrawn: \(id)") }
        for note in result.notes { lines.append("note: \(note)") }
        for error in result.errors { lines.append("error: \(file): \(error.summary)" + (error.value.map { " [value: \($0)]" } ?? "")) }
        lines.append("\(file): \(result.records.count) record(s), \(result.errors.count) error(s)")
        return lines.joined(separator: "\n")
    }

    static func describe(_ record: Record, zone: TimeZone) -> String {
        let time = { (date: Date) in AlertMail.siteTime(date, zone: zone) }
        switch record {
        case .observation(let o):
            return "observation \(o.id) \(o.subject) \(o.code) = \(o.comparator ?? "")\(o.value)\(o.unit.map { " \($0)" } ?? "") at \(time(o.time))"
                + (o.status.map { " (\($0))" } ?? "")
        case .adverseEvent(let a):
            return "adverse_event \(a.id) \(a.subject) '\(a.term)' grade \(a.grade.map(String.init) ?? "-") onset \(a.onset)"
                + (a.serious.isEmpty ? "" : " serious: \(a.serious.joined(separator: ","))") + (a.related.map { " related: \($0)" } ?? "")
        case .event(let e):
            return "event \(e.id) \(e.subject) \(e.kind) at \(time(e.time))"
        }
    }
}
