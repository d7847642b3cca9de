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
        var charsetWarning: RecordError?
        if String(validating: bytes, as: UTF8.self) == nil {
            let declared = Self.declaredCharacterSet(bytes)
            switch declared.flatMap(HL7CharacterSet.init(msh18:)) {
            case .utf8?:
                return ParseResult(errors: [RecordError(segment: 1, field: "MSH-18", error: "MSH-18 declares UTF-8 or ASCII but the file is not valid UTF-8",
                                                        expected: "UTF-8 text, or MSH-18 naming the character set used (8859/1, 8859/15, ...)")])
            case let set?:
                bytes = Array(set.decode(bytes).utf8)
            case nil:
                if options.hl7.strict || declared != nil {
                    return ParseResult(errors: [RecordError(segment: 1, field: "MSH-18", value: declared,
                                                            error: declared == nil ? "file is not UTF-8 and MSH-18 declares no character set" : "character set in MSH-18 not read",
                                                            expected: "UTF-8 text, or MSH-18 one of " + HL7CharacterSet.names)])
                }
                // Undeclared 8-bit text: Windows-1252 (a superset of ISO 8859-1's printable characters)
                // is what such senders use; numbers and codes are ASCII either way.
                bytes = Array(HL7CharacterSet.windows1252.decode(bytes).utf8)
                charsetWarning = RecordError(segment: 1, field: "MSH-18", error: "file is not UTF-8 and declares no character set; read as Windows-1252",
                                             expected: "MSH-18 naming the character set (e.g. 8859/1)")
            }
        }
        // Segments end at CR, LF or CRLF (an empty line between CR and LF is dropped with the rest).
        let lines = bytes.split(omittingEmptySubsequences: true) { $0 == 0x0D || $0 == 0x0A }
            .map { String(decoding: $0, as: UTF8.self).trimmingSpaces() }
            .filter { !$0.isEmpty }

        var result = ParseResult()
        if let charsetWarning { result.warnings.append(charsetWarning) }
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

    /// MSH-18 (first repetition, first component) of the file's first MSH, read on its bytes before
    /// the text is decoded: the field separator is MSH's fourth byte.
    static func declaredCharacterSet(_ bytes: [UInt8]) -> String? {
        let lines = bytes.split(omittingEmptySubsequences: true) { $0 == 0x0D || $0 == 0x0A }
        guard let msh = lines.first(where: { $0.starts(with: Array("MSH".utf8)) }), msh.count > 3 else { return nil }
        let separator = msh[msh.startIndex + 3]
        let fields = msh.split(separator: separator, omittingEmptySubsequences: false)
        guard fields.count > 17 else { return nil }
        let field = fields[17].prefix { $0 != 0x7E && $0 != 0x5E }  // first repetition, first component
        let text = String(decoding: field, as: UTF8.self).trimmingSpaces()
        return text.isEmpty ? nil : text
    }

    func read(_ segments: [HL7Segment], into result: inout ParseResult) {
        let msh = segments[0]
        let type = [msh.component(9, 1), msh.component(9, 2)].compactMap { $0 }.joined(separator: "^")
        var reader = HL7MessageReader(segments: segments, options: options)
        switch type {
        case "ORU^R01": reader.readResults()
        case "ADT^A02", "ADT^A03": reader.readTransfer(trigger: msh.component(9, 2) ?? "")
        // Peers read an ORU without its trigger event, or with another result trigger (R30-R32:
        // point-of-care results), as results: so does Vigil, unless hl7.strict is set.
        case let other where !options.hl7.strict && ["ORU", "ORU^R30", "ORU^R31", "ORU^R32"].contains(other):
            reader.notes.append("segment \(msh.index): message type \(other) read as ORU^R01 (hl7.strict is false)")
            reader.readResults()
        default:
            reader.fail(msh, "MSH-9", type.isEmpty ? nil : type, "unsupported message type", expected: "ORU^R01, ADT^A02 or ADT^A03")
        }
        result.records += reader.records
        result.errors += reader.errors
        result.warnings += reader.warnings
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
    /// Results kept without an auxiliary field, or read leniently.
    var warnings: [RecordError] = []
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

    /// The result is kept; `field` was left out or read leniently, as `error` says.
    mutating func warn(_ segment: HL7Segment, _ field: String, _ value: String?, _ error: String, expected: String?) {
        warnings.append(RecordError(segment: segment.index, field: field, value: value,
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

    /// OBX-11 result statuses that carry a value (HL7 v2.5, table 0085): S (partial) is preliminary,
    /// U (changed to final without retransmission, when the value is sent again) final.
    /// A (amended on the placer's adjustments, HL7 v2.5.1) is a correction.
    static let statuses: [String: String] = ["F": "final", "C": "corrected", "A": "corrected", "P": "preliminary", "R": "preliminary", "S": "preliminary", "U": "final"]

    mutating func readObservation(_ obx: HL7Segment, subject: String, obr: HL7Segment?, orderTime: Date?) {
        // Identity: the order (filler, else placer, else message), the test code and the sub-id,
        // so P → F → C versions of one result share an id and later ones amend earlier ones.
        let identifier = obx.component(3, 1) ?? ""
        let order = obr.flatMap { $0.component(3, 1) ?? $0.component(2, 1) } ?? controlID
        let subID = obx.component(4, 1) ?? obx.component(1, 1) ?? "1"
        let id = "HL7-\(order)-\(identifier)-\(subID)"

        // A result the trial does not monitor is skipped before anything else is checked.
        let lookup = codeLookup(obx)
        if lookup == .ignored {
            notes.append("segment \(obx.index): \(ProducerText.visible(obx.component(3, 1) ?? "?", limit: 64)) is not monitored (mapping ignore list); result skipped")
            return
        }
        var statusCode = obx.component(11, 1)?.uppercased() ?? "F"
        switch statusCode {
        case "D", "W":
            retractions.append(id)
            notes.append("segment \(obx.index): result \(id) withdrawn by the sender (OBX-11 \(statusCode))")
            return
        case "X", "I", "N", "O":
            // X cannot be obtained, I pending, N not asked, O order detail only: no result yet.
            notes.append("segment \(obx.index): result \(id) has no value (OBX-11 \(statusCode)); nothing applied")
            return
        case "P" where !options.hl7.acceptPreliminary, "R" where !options.hl7.acceptPreliminary, "S" where !options.hl7.acceptPreliminary:
            notes.append("segment \(obx.index): preliminary result \(id) not applied (hl7.accept_preliminary is false)")
            return
        default:
            if Self.statuses[statusCode] == nil {
                let expected = "F, C, A, P, R, S, U (a result), X, I, N, O (none yet) or D, W (withdrawn)"
                if options.hl7.strict {
                    fail(obx, "OBX-11", statusCode, "unknown result status", expected: expected)
                    return
                }
                // A local status (Z…) or a typo: the value may matter, so it is read as a final
                // result and the sender is told.
                warn(obx, "OBX-11", statusCode, "unknown result status; the value is read as a final result", expected: expected)
                statusCode = "F"
            }
        }

        guard case .code(let code) = lookup else {
            let shown = [obx.component(3, 1), obx.component(3, 2), obx.component(3, 3)].compactMap { $0 }.joined(separator: "^")
            fail(obx, "OBX-3", shown, "unknown observation code",
                 expected: "a LOINC code listed in mapping.loinc or a local code listed in mapping.local")
            return
        }
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
            // A comparator before an NM value ("<0.5") is common from analysers; peers keep it.
            var numberText = Substring(rawText)
            if let first = numberText.first, "<>".contains(first) {
                comparator = String(numberText.prefix { "<>=".contains($0) })
                numberText = numberText.dropFirst(comparator!.count)
            }
            guard let number = CanonicalCodes.parseNumber(String(numberText)) else {
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
            let expected = "NM, SN, ST, TX, FT, CWE, CE or CNE"
            if options.hl7.strict {
                fail(obx, "OBX-2", valueType, "unsupported value type", expected: expected)
            } else {
                notes.append("segment \(obx.index): result \(id) has value type \(ProducerText.visible(valueType, limit: 16)), which Vigil does not read; result skipped")
            }
            return
        }
        // A text or coded value where the code is measured ("see comment", "hemolysed") is not a
        // result to read: skipped with a note, unless hl7.strict is set.
        if case .text = raw, ["ST", "TX", "FT", "CWE", "CE", "CNE", "CF"].contains(valueType), !options.hl7.strict,
           case .numeric? = CanonicalCodes.all[code]?.kind {
            notes.append("segment \(obx.index): result \(id) is text of type \(valueType) where a number is monitored; result skipped")
            return
        }
        let unit: String?
        switch MDCUnits.read(identifier: obx.component(6, 1), text: obx.component(6, 2)) {
        case .notMDC: unit = obx.component(6, 1) ?? obx.component(6, 2)
        case .unit(let spelling): unit = spelling
        case .conflict(let reason):
            fail(obx, "OBX-6", obx.value(6), reason, expected: "an IEEE 11073 MDC unit whose code and reference id agree, one of: "
                 + MDCUnits.byReferenceID.keys.sorted().joined(separator: ", "))
            return
        }
        do {
            let normal = try CanonicalCodes.normalise(code: code, raw: raw, unit: unit, units: options.units)
            var low: Double?
            var high: Double?
            // A reference range that cannot be read never drops the result: kept without it.
            if let range = obx.value(7) {
                if let bounds = Self.referenceRange(range) {
                    low = bounds.low.map(normal.conversion.apply)
                    high = bounds.high.map(normal.conversion.apply)
                    if low?.isFinite == false || high?.isFinite == false {
                        warn(obx, "OBX-7", range, ReferenceLimit.outOfRange(unit: normal.unit) + "; result kept without a range", expected: ReferenceLimit.expected)
                        low = nil
                        high = nil
                    }
                } else {
                    warn(obx, "OBX-7", range, "reference range not understood; result kept without it", expected: "low-high, <high or >low, e.g. 0.5-2.2")
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

    /// OBX-3 through the mapping: the LOINC table for coding system LN, the local table otherwise,
    /// primary coding then alternate. A monitored code wins; otherwise ignored when some coding is
    /// on the ignore list, else unknown.
    func codeLookup(_ obx: HL7Segment) -> CodeMapping.Lookup {
        var ignored = false
        for case let (code?, system) in [(obx.component(3, 1), obx.component(3, 3)), (obx.component(3, 4), obx.component(3, 6))] {
            switch options.mapping.lookup(code, in: system?.uppercased() == "LN" ? .loinc : .local) {
            case .code(let canonical): return .code(canonical)
            case .ignored: ignored = true
            case .unknown: continue
            }
        }
        return ignored ? .ignored : .unknown
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

/// The character sets an HL7 v2 sender may declare in MSH-18 (HL7 v2.5, table 0211) that Vigil reads.
enum HL7CharacterSet: Equatable {
    case utf8
    case latin1
    case latin2
    case latin9
    case windows1252

    static let names = "UNICODE UTF-8, ASCII, 8859/1, 8859/2, 8859/15, ISO IR6, ISO IR100, ISO IR101, WINDOWS-1252"

    init?(msh18 text: String) {
        switch text.uppercased().replacingOccurrences(of: "_", with: " ").replacingOccurrences(of: "-", with: " ") {
        case "UNICODE UTF 8", "UTF 8", "UTF8", "ASCII", "ISO IR6", "ISO IR 6": self = .utf8
        case "8859/1", "ISO IR100", "ISO IR 100", "ISO 8859 1", "LATIN1": self = .latin1
        case "8859/2", "ISO IR101", "ISO IR 101", "ISO 8859 2": self = .latin2
        case "8859/15", "ISO 8859 15": self = .latin9
        case "WINDOWS 1252", "CP1252": self = .windows1252
        default: return nil
        }
    }

    /// `bytes` as text; every byte decodes to some character in these single-byte sets.
    func decode(_ bytes: [UInt8]) -> String {
        switch self {
        case .utf8: return String(decoding: bytes, as: UTF8.self)
        case .latin1: return String(bytes: bytes, encoding: .isoLatin1) ?? String(decoding: bytes, as: UTF8.self)
        case .latin2: return String(bytes: bytes, encoding: .isoLatin2) ?? String(decoding: bytes, as: UTF8.self)
        case .windows1252: return String(bytes: bytes, encoding: .windowsCP1252) ?? HL7CharacterSet.latin1.decode(bytes)
        case .latin9:
            // ISO 8859-15 is ISO 8859-1 with eight positions changed.
            let changed: [UInt8: Unicode.Scalar] = [0xA4: "\u{20AC}", 0xA6: "\u{160}", 0xA8: "\u{161}", 0xB4: "\u{17D}",
                                                   0xB8: "\u{17E}", 0xBC: "\u{152}", 0xBD: "\u{153}", 0xBE: "\u{178}"]
            var scalars = String.UnicodeScalarView()
            for byte in bytes { scalars.append(changed[byte] ?? Unicode.Scalar(byte)) }
            return String(scalars)
        }
    }
}
