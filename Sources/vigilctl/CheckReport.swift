import Foundation
import VigilCore
import VigilIngest

/// The text `vigilctl check` prints: each record in one line, then each error with its location.
/// Every field from the file is rendered by the producer-text rule (`ProducerText`), and so is each
/// line. The rejected value is shown here, and only here: the operator named the file and holds it.
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
        for id in result.retractions { lines.append("withdrawn: \(v(id))") }
        for note in result.notes { lines.append("note: \(v(note))") }
        for error in result.errors {
            lines.append("error: \(v(file)): \(error.summary)" + (error.rejectedValue.map { " [value: \(v($0))]" } ?? ""))
        }
        lines.append("\(v(file)): \(result.records.count) record(s), \(result.errors.count) error(s)")
        return lines.map { ProducerText.visible($0, limit: .max / 2) }.joined(separator: "\n")
    }

    static func v(_ text: String) -> String { ProducerText.visible(text) }

    static func v(_ text: String?) -> String { text.map { ProducerText.visible($0) } ?? "" }

    static func v(_ value: ObservationValue) -> String { ProducerText.visible(value.description)
    }

    static func describe(_ record: Record, zone: TimeZone) -> String {
        let time = { (date: Date) in TextFormat.siteTime(date, zone: zone) }
        switch record {
        case .observation(let o):
            return "observation \(v(o.id)) \(v(o.subject)) \(v(o.code)) = \(v(o.comparator))\(v(o.value))\(o.unit.map { " \(v($0))" } ?? "") at \(time(o.time))"
                + (o.status.map { " (\(v($0)))" } ?? "")
        case .adverseEvent(let a):
            return "adverse_event \(v(a.id)) \(v(a.subject)) '\(v(a.term))' grade \(a.grade.map(String.init) ?? "-") onset \(v(a.onset))"
                + (a.serious.isEmpty ? "" : " serious: \(v(a.serious.joined(separator: ",")))") + (a.related.map { " related: \(v($0))" } ?? "")
        case .event(let e):
            return "event \(v(e.id)) \(v(e.subject)) \(v(e.kind)) at \(time(e.time))"
        }
    }
}
