import Foundation
import VigilCore

/// Reads HL7 v2.x files: ORU^R01 lab and vital-sign results, ADT^A02 transfers and ADT^A03
/// discharges. Several messages per file, with or without MLLP framing, with FHS/BHS batch
/// envelopes, segments ended by CR, LF or CRLF. Errors name the segment index (1-based over the
/// file) and the field (e.g. `OBX-6`).
public struct HL7Parser: Sendable {
    public let options: IngestOptions

    public init(options: IngestOptions) {
        self.options = options
    }

    public func parse(_ data: Data) -> ParseResult {
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        // MLLP framing: <VT> message <FS><CR>. The frame bytes only separate messages.
        for i in bytes.indices where bytes[i] == 0x0B || bytes[i] == 0x1C { bytes[i] = 0x0D }
        if String(validating: bytes, as: UTF8.self) == nil {
            guard let latin1 = String(bytes: bytes, encoding: .isoLatin1), latin1.contains("8859") else {
                return ParseResult(errors: [RecordError(segment: 1, error: "file is neither UTF-8 nor declared ISO 8859-1 (MSH-18)", expected: "UTF-8 text")])
            }
            bytes = Array(latin1.utf8)  // MSH-18 declared ISO 8859-1
        }
        // Segments end at CR, LF or CRLF (an empty line between CR and LF is dropped with the rest).
        let lines = bytes.split(omittingEmptySubsequences: true) { $0 == 0x0D || $0 == 0x0A }
            .map { String(decoding: $0, as: UTF8.self).trimmingSpaces() }
            .filter { !$0.isEmpty }

        var result = ParseResult()
        var message: [HL7Segment] = []
        var encoding = HL7Encoding()
        func flush() {
            if !message.isEmpty { read(message, into: &result) }
            message.removeAll()
        }
        for (offset, line) in lines.enumerated() {
            let index = offset + 1
            if line.hasPrefix("MSH") || line.hasPrefix("FHS") || line.hasPrefix("BHS") {
                guard let found = HL7Encoding(mshLine: "MSH" + line.dropFirst(3)) else {
                    flush()
                    result.errors.append(RecordError(segment: index, field: "\(line.prefix(3))-2", value: String(line.prefix(12)),
                                                     error: "cannot read the field separator and encoding characters", expected: "e.g. MSH|^~\\&|"))
                    continue
                }
                encoding = found
                if line.hasPrefix("MSH") {
                    flush()
                    message.append(HL7Segment(index: index, line: line, encoding: encoding))
                }
                continue
            }
            let id = String(line.prefix(3))
            if id == "BTS" || id == "FTS" { continue }
            guard !message.isEmpty else {
                result.errors.append(RecordError(segment: index, field: id, error: "segment \(id) before any MSH", expected: "an MSH segment first"))
                continue
            }
            message.append(HL7Segment(index: index, line: line, encoding: encoding))
        }
        flush()
        if result.records.isEmpty, result.errors.isEmpty, result.retractions.isEmpty, result.notes.isEmpty {
            result.errors.append(RecordError(segment: 1, error: "file holds no HL7 message", expected: "MSH segments"))
        }
        return result
    }

    func read(_ segments: [HL7Segment], into result: inout ParseResult) {
        let msh = segments[0]
        let type = [msh.component(9, 1), msh.component(9, 2)].compactMap { $0 }.joined(separator: "^")
        var reader = HL7MessageReader(segments: segments, options: options)
        switch type {
        case "ORU^R01": reader.readResults()
        case "ADT^A02", "ADT^A03": reader.readTransfer(trigger: msh.component(9, 2) ?? "")
        default:
            reader.fail(msh, "MSH-9", type.isEmpty ? nil : type, "unsupported message type", expected: "ORU^R01, ADT^A02 or ADT^A03")
        }
        result.records += reader.records
        result.errors += reader.errors
        result.notes += reader.notes
        result.retractions += reader.retractions
    }
}

/// Reads one HL7 message into records.
struct HL7MessageReader {
    let segments: [HL7Segment]
    let options: IngestOptions
    var records: [LocatedRecord] = []
    var errors: [RecordError] = []
    var notes: [String] = []
    var retractions: [String] = []

    init(segments: [HL7Segment], options: IngestOptions) {
        self.segments = segments
        self.options = options
    }

    var msh: HL7Segment { segments[0] }
    var controlID: String { msh.component(10) ?? "segment\(msh.index)" }

    /// The message is named by its control id (MSH-10), cut short: it locates the record, and the
    /// rendering rule keeps it to one visible line.
    mutating func fail(_ segment: HL7Segment, _ field: String, _ value: String?, withheld: Bool = false, _ error: String, expected: String?) {
        errors.append(RecordError(segment: segment.index, field: field, value: value, withheld: withheld,
                                  error: "message \(ProducerText.visible(controlID, limit: 64)): \(error)", expected: expected))
    }

    /// The trial subject id from PID-3, through the configured authority or identifier map.
    mutating func subject() -> String? {
        guard let pid = segments.first(where: { $0.id == "PID" }) else {
            fail(msh, "PID", nil, "no PID segment", expected: "a PID segment with the subject identifier in PID-3")
            return nil
        }
        for repetition in pid.repetitions(3) {
            guard let id = pid.component(3, 1, repetition: repetition) else { continue }
            let authority = pid.component(3, 4, repetition: repetition)?
                .split(separator: pid.encoding.subcomponent, omittingEmptySubsequences: false).first.map(String.init)
            if let wanted = options.hl7.subjectAuthority, authority == wanted, options.isValidSubject(id) { return id }
            if let mapped = options.hl7.subjectMap[id], options.isValidSubject(mapped) { return mapped }
        }
        // The identifiers may be hospital numbers: never echo them, not even to `vigilctl check`.
        fail(pid, "PID-3", pid.value(3), withheld: true, "no PID-3 identifier maps to a trial subject id",
             expected: options.hl7.subjectAuthority.map { "an identifier with assigning authority \($0) matching \(options.subjectPattern), or one listed in hl7.subject_map" }
                ?? "an identifier listed in hl7.subject_map")
        return nil
    }

    mutating func time(_ segment: HL7Segment, _ n: Int, name: String, requireMinutes: Bool) -> Date? {
        guard let text = segment.component(n, 1) else { return nil }
        guard let parsed = HL7Time.parse(text, zone: options.siteTimeZone), !requireMinutes || parsed.digits >= 12 else {
            fail(segment, name, text, "not an HL7 date/time" + (requireMinutes ? " to the minute" : ""), expected: "YYYYMMDDHHMM[SS][+ZZZZ]")
            return nil
        }
        if !parsed.hadOffset {
            notes.append("segment \(segment.index): \(name) has no UTC offset; read in site time zone \(options.siteTimeZone.identifier)")
        }
        return parsed.date
    }

    mutating func readResults() {
        guard let subject = subject() else {
            let skipped = segments.filter { $0.id == "OBX" }.count
            if skipped > 0 { notes.append("message \(controlID): \(skipped) result(s) not applied: no trial subject id") }
            return
        }
        var obr: HL7Segment?
        var orderTime: Date?
        for segment in segments {
            switch segment.id {
            case "OBR":
                obr = segment
                orderTime = time(segment, 7, name: "OBR-7", requireMinutes: true)
            case "OBX":
                readObservation(segment, subject: subject, obr: obr, orderTime: orderTime)
            default:
                continue
            }
        }
    }

    static let statuses: [String: String] = ["F": "final", "C": "corrected", "P": "preliminary", "R": "preliminary"]

    mutating func readObservation(_ obx: HL7Segment, subject: String, obr: HL7Segment?, orderTime: Date?) {
        // Identity: the order (filler, else placer, else message), the test code and the sub-id,
        // so P → F → C versions of one result share an id and later ones amend earlier ones.
        let identifier = obx.component(3, 1) ?? ""
        let order = obr.flatMap { $0.component(3, 1) ?? $0.component(2, 1) } ?? controlID
        let subID = obx.component(4, 1) ?? obx.component(1, 1) ?? "1"
        let id = "HL7-\(order)-\(identifier)-\(subID)"

        let statusCode = obx.component(11, 1)?.uppercased() ?? "F"
        switch statusCode {
        case "D", "W":
            retractions.append(id)
            notes.append("segment \(obx.index): result \(id) withdrawn by the sender (OBX-11 \(statusCode))")
            return
        case "X", "I", "N":
            notes.append("segment \(obx.index): result \(id) has no value (OBX-11 \(statusCode)); nothing applied")
            return
        case "P" where !options.hl7.acceptPreliminary, "R" where !options.hl7.acceptPreliminary:
            notes.append("segment \(obx.index): preliminary result \(id) not applied (hl7.accept_preliminary is false)")
            return
        default:
            guard Self.statuses[statusCode] != nil else {
                fail(obx, "OBX-11", statusCode, "unknown result status", expected: "F, C, P, R, X, D, W, I or N")
                return
            }
        }

        guard let code = canonicalCode(obx) else { return }
        guard let time = obx.component(14, 1) != nil ? time(obx, 14, name: "OBX-14", requireMinutes: true) : orderTime else {
            if obx.component(14, 1) == nil { fail(obx, "OBX-14", nil, "result has no time (neither OBX-14 nor OBR-7)", expected: "YYYYMMDDHHMM[SS][+ZZZZ]") }
            return
        }
        let valueType = obx.component(2, 1)?.uppercased() ?? ""
        var comparator: String?
        let raw: ObservationValue
        let rawText = obx.value(5) ?? ""
        guard !rawText.isEmpty else {
            fail(obx, "OBX-5", nil, "empty result value", expected: "a value of type \(valueType)")
            return
        }
        switch valueType {
        case "NM":
            guard let number = CanonicalCodes.parseNumber(rawText) else {
                fail(obx, "OBX-5", rawText, "NM value is not a number", expected: "a number")
                return
            }
            raw = .number(number)
        case "SN":
            let parts = [1, 2, 3, 4].map { obx.component(5, $0) }
            guard parts[2] == nil, parts[3] == nil, let number = parts[1].flatMap(CanonicalCodes.parseNumber) else {
                fail(obx, "OBX-5", rawText, "structured numeric must be [comparator]^number", expected: "e.g. <^0.5 or ^4.2 (ranges and ratios are not read)")
                return
            }
            if let c = parts[0], c != "=" { comparator = c }
            raw = .number(number)
        case "ST", "TX", "FT":
            raw = CanonicalCodes.parseNumber(rawText).map(ObservationValue.number) ?? .text(rawText)
        case "CWE", "CE", "CNE", "CF":
            raw = .text(obx.component(5, 2) ?? obx.component(5, 1) ?? rawText)
        default:
            fail(obx, "OBX-2", valueType, "unsupported value type", expected: "NM, SN, ST, TX, FT, CWE, CE or CNE")
            return
        }
        let unit = obx.component(6, 1) ?? obx.component(6, 2)
        do {
            let normal = try CanonicalCodes.normalise(code: code, raw: raw, unit: unit)
            var low: Double?
            var high: Double?
            if let range = obx.value(7) {
                guard let bounds = Self.referenceRange(range) else {
                    fail(obx, "OBX-7", range, "reference range not understood", expected: "low-high, <high or >low, e.g. 0.5-2.2")
                    return
                }
                low = bounds.low.map(normal.conversion.apply)
                high = bounds.high.map(normal.conversion.apply)
                guard low?.isFinite != false, high?.isFinite != false else {
                    fail(obx, "OBX-7", range, ReferenceLimit.outOfRange(unit: normal.unit), expected: ReferenceLimit.expected)
                    return
                }
            }
            let flags = obx.repetitions(8).compactMap { obx.component(8, 1, repetition: $0) }
            records.append(LocatedRecord(record: .observation(Observation(
                id: id, subject: subject, time: time, code: normal.code, value: normal.value, unit: normal.unit,
                originalValue: rawText, originalUnit: unit, loinc: obx.component(3, 3) == "LN" ? identifier : nil,
                low: low, high: high, comparator: comparator, status: Self.statuses[statusCode],
                abnormalFlags: flags.isEmpty ? nil : flags.joined(separator: "~"))), segment: obx.index))
        } catch {
            let field = error.field == "unit" ? "OBX-6" : error.field == "code" ? "OBX-3" : "OBX-5"
            fail(obx, field, error.field == "unit" ? (unit ?? "") : rawText, error.message, expected: error.expected)
        }
    }

    /// OBX-3 → canonical code through the LOINC table (coding system LN, primary or alternate) or the local table.
    mutating func canonicalCode(_ obx: HL7Segment) -> String? {
        let codings = [(obx.component(3, 1), obx.component(3, 3)), (obx.component(3, 4), obx.component(3, 6))]
        var ignored = false
        for case let (code?, system) in codings {
            let table: CodeMapping.System = system?.uppercased() == "LN" ? .loinc : .local
            switch options.mapping.lookup(code, in: table) {
            case .code(let canonical): return canonical
            case .ignored: ignored = true
            case .unknown: continue
            }
        }
        if ignored {
            notes.append("segment \(obx.index): \(obx.component(3, 1) ?? "?") is not monitored (mapping ignore list); result skipped")
            return nil
        }
        let shown = [obx.component(3, 1), obx.component(3, 2), obx.component(3, 3)].compactMap { $0 }.joined(separator: "^")
        fail(obx, "OBX-3", shown, "unknown observation code",
             expected: "a LOINC code listed in mapping.loinc or a local code listed in mapping.local")
        return nil
    }

    /// "0.5-2.2", "<5", ">3.5", "3.5 - 5.0".
    static func referenceRange(_ text: String) -> (low: Double?, high: Double?)? {
        let trimmed = text.trimmingSpaces()
        if trimmed.hasPrefix("<") { return CanonicalCodes.parseNumber(String(trimmed.drop { "<=".contains($0) })).map { (nil, $0) } }
        if trimmed.hasPrefix(">") { return CanonicalCodes.parseNumber(String(trimmed.drop { ">=".contains($0) })).map { ($0, nil) } }
        let body = trimmed.hasPrefix("-") ? trimmed.dropFirst() : Substring(trimmed)
        guard let dash = body.firstIndex(of: "-") else { return nil }
        let lowText = (trimmed.hasPrefix("-") ? "-" : "") + body[..<dash]
        guard let low = CanonicalCodes.parseNumber(String(lowText)), let high = CanonicalCodes.parseNumber(String(body[body.index(after: dash)...])) else { return nil }
        return (low, high)
    }

    mutating func readTransfer(trigger: String) {
        guard let subject = subject() else { return }
        guard let pv1 = segments.first(where: { $0.id == "PV1" }) else {
            fail(msh, "PV1", nil, "no PV1 segment", expected: "PV1 with the patient location in PV1-3")
            return
        }
        let evn = segments.first { $0.id == "EVN" }
        var when: Date?
        if let evn, evn.component(6, 1) != nil { when = time(evn, 6, name: "EVN-6", requireMinutes: true) }
        else if let evn, evn.component(2, 1) != nil { when = time(evn, 2, name: "EVN-2", requireMinutes: true) }
        else if msh.component(7, 1) != nil { when = time(msh, 7, name: "MSH-7", requireMinutes: true) }
        guard let when else {
            if !errors.isEmpty { return }
            fail(evn ?? msh, evn == nil ? "MSH-7" : "EVN-2", nil, "transfer has no time", expected: "EVN-6, EVN-2 or MSH-7")
            return
        }
        let location = pv1.component(3, 1) ?? ""
        let prior = pv1.component(6, 1) ?? ""
        var attributes: [String: String] = [:]
        if !location.isEmpty { attributes["location"] = location }
        if !prior.isEmpty { attributes["prior_location"] = prior }
        func add(_ kind: String, at time: Date, extra: [String: String] = [:]) {
            records.append(LocatedRecord(record: .event(ClinicalEvent(
                id: "ADT-\(controlID)-\(kind)", subject: subject, time: time, kind: kind, attributes: attributes.merging(extra) { a, _ in a })), segment: pv1.index))
        }
        if trigger == "A02" {
            if options.hl7.isICU(location) { add("icu_transfer", at: when) }
            else if options.hl7.isICU(prior) { add("icu_discharge", at: when) }
            else { notes.append("message \(controlID): transfer between non-ICU locations; nothing applied") }
            return
        }
        // A03 discharge: a death (PID-30 = Y) and/or the end of an ICU stay.
        if let pid = segments.first(where: { $0.id == "PID" }), pid.component(30, 1)?.uppercased() == "Y" {
            let died = pid.component(29, 1) != nil ? time(pid, 29, name: "PID-29", requireMinutes: false) : when
            if let died { add("death", at: died, extra: ["source": "ADT^A03 PID-30"]) }
        }
        if options.hl7.isICU(location) { add("icu_discharge", at: when) }
        if records.isEmpty, errors.isEmpty { notes.append("message \(controlID): discharge from a non-ICU location; nothing applied") }
    }
}
