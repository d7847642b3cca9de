import Foundation
import VigilCore

/// Validates the fields of one JSON record object and builds the `Record`, collecting a located
/// error for every field that is missing or wrong.
struct FieldReader {
    typealias Name = RecordFields.Name

    let fields: RecordFields
    let line: Int
    let options: IngestOptions
    private(set) var errors: [RecordError] = []
    private(set) var notes: [String] = []

    init(fields: RecordFields, line: Int, options: IngestOptions) {
        self.fields = fields
        self.line = line
        self.options = options
    }

    mutating func fail(_ field: String?, _ value: Any?, withheld: Bool = false, _ error: String, expected: String?) {
        errors.append(RecordError(line: line, field: field, value: value.map(Self.show), shape: value.flatMap(Self.shape),
                                  withheld: withheld, error: error, expected: expected))
    }

    /// The shape of a JSON value that is not text; nil for text, which `ProducerText.shape` describes.
    static func shape(_ value: Any) -> String? {
        switch value {
        case is String: nil
        case let json as JSONValue:
            switch json {
            case .string: nil
            case .null: "null"
            case .bool: "true or false"
            case .number: "a number"
            case .array(let list): list.count == 1 ? "a list of 1 item" : "a list of \(list.count) items"
            case .object: "an object"
            }
        case is Double, is Int: "a number"
        default: "a JSON value"
        }
    }

    static func show(_ value: Any) -> String {
        switch value {
        case let s as String: s
        case let json as JSONValue: json.text
        default: "\(value)"
        }
    }

    /// A field's value; nil when absent or JSON null.
    func present(_ name: Name) -> JSONValue? {
        guard let value = fields[name], value != .null else { return nil }
        return value
    }

    mutating func string(_ name: Name, required: Bool = true) -> String? {
        let key = name.key
        guard let raw = present(name) else {
            if required { fail(key, nil, "missing field '\(key)'", expected: "a text value") }
            return nil
        }
        guard case .string(let text) = raw, !text.trimmingSpaces().isEmpty else {
            fail(key, raw, "'\(key)' must be a non-empty text", expected: "a text value")
            return nil
        }
        return text
    }

    mutating func number(_ name: Name) -> Double? {
        guard let raw = present(name) else { return nil }
        if case .number(let n, _) = raw { return n }
        if case .string(let s) = raw, let n = Double(s) { return n }
        fail(name.key, raw, "'\(name.key)' must be a number", expected: "a number")
        return nil
    }

    mutating func time(_ name: Name, required: Bool = true) -> Date? {
        let key = name.key
        guard let text = string(name, required: required) else { return nil }
        guard let parsed = ISO8601.parse(text, zone: options.siteTimeZone) else {
            fail(key, text, "not an ISO 8601 date-time", expected: "e.g. 2026-11-23T06:40:00+01:00")
            return nil
        }
        if !parsed.hadOffset {
            notes.append("line \(line): \(key) has no UTC offset; read in site time zone \(options.siteTimeZone.identifier)")
        }
        return parsed.date
    }

    mutating func subject() -> String? {
        guard let subject = string(.subject) else { return nil }
        guard options.isValidSubject(subject) else {
            // The value may be a patient identifier: never echo it, not even to `vigilctl check`.
            fail("subject", subject, withheld: true, "subject is not a trial subject id", expected: "an id matching \(options.subjectPattern)")
            return nil
        }
        return subject
    }

    mutating func record() -> Record? {
        guard let type = string(.type) else { return nil }
        switch type {
        case "observation": return observation()
        case "adverse_event": return adverseEvent()
        case "event": return event()
        default:
            fail("type", type, "unknown record type", expected: "observation, adverse_event or event")
            return nil
        }
    }

    mutating func observation() -> Record? {
        let before = errors.count
        let id = string(.id)
        let subject = subject()
        let time = time(.time)
        let code = string(.code)
        let unit = string(.unit, required: false)
        let raw: ObservationValue?
        switch present(.value) {
        case nil:
            fail("value", nil, "missing field 'value'", expected: "a number, text or true/false")
            raw = nil
        case .bool(let flag)?: raw = .flag(flag)
        case .number(let n, _)?: raw = .number(n)
        case .string(let s)?: raw = .text(s)
        case let other?:
            fail("value", other, "'value' must be a number, text or true/false", expected: "a number, text or true/false")
            raw = nil
        }
        let low = number(.low)
        let high = number(.high)
        let loinc = string(.loinc, required: false)
        guard errors.count == before, let id, let subject, let time, let code, let raw else { return nil }
        do {
            let normal = try CanonicalCodes.normalise(code: code, raw: raw, unit: unit, units: options.units)
            var bounds: [Double?] = []
            for (key, bound) in [("low", low), ("high", high)] {
                let converted = bound.map(normal.conversion.apply)
                // A huge limit can overflow in the conversion (°F → °C); an infinite one cannot be stored.
                if let bound, converted?.isFinite == false {
                    fail(key, bound, ReferenceLimit.outOfRange(unit: normal.unit), expected: ReferenceLimit.expected)
                    return nil
                }
                bounds.append(converted)
            }
            return .observation(Observation(
                id: id, subject: subject, time: time, code: normal.code, value: normal.value, unit: normal.unit,
                originalValue: raw.description, originalUnit: unit, loinc: loinc, low: bounds[0], high: bounds[1]))
        } catch {
            let value: Any? = switch error.field {
            case "code": code
            case "unit": unit ?? ""
            default: fields[.value] ?? .string(raw.description)
            }
            fail(error.field, value, error.message, expected: error.expected)
            return nil
        }
    }

    mutating func adverseEvent() -> Record? {
        let before = errors.count
        let id = string(.id)
        let subject = subject()
        let onset = string(.onset)
        var onsetTime: Date?
        if let onset {
            onsetTime = ISO8601.parsePartialDate(onset, zone: options.siteTimeZone)
            if onsetTime == nil { fail("onset", onset, "not an ISO 8601 date", expected: "e.g. 2026-11-22 or 2026-11") }
        }
        let term = string(.term)
        let pt = string(.meddraPT, required: false)
        var grade: Int?
        if let g = number(.grade) {
            if g == g.rounded(), (1...5).contains(g) { grade = Int(g) } else { fail("grade", g, "grade must be a CTCAE grade", expected: "an integer 1 to 5") }
        }
        var serious: [String] = []
        switch present(.serious) {
        case nil: break
        case .array(let list)?:
            for item in list {
                guard case .string(let criterion) = item, AdverseEventVocabulary.seriousness.contains(criterion) else {
                    fail("serious", item, "unknown seriousness criterion", expected: "any of " + AdverseEventVocabulary.seriousness.sorted().joined(separator: ", "))
                    continue
                }
                serious.append(criterion)
            }
        case let other?: fail("serious", other, "'serious' must be a list", expected: "a JSON array of criteria")
        }
        let related = string(.related, required: false)
        if let related, !AdverseEventVocabulary.relatedness.contains(related) {
            fail("related", related, "unknown relatedness", expected: "one of " + AdverseEventVocabulary.relatedness.joined(separator: ", "))
        }
        var expectedness: Bool?
        switch present(.expected) {
        case nil: break
        case .bool(let flag)?: expectedness = flag
        case let other?: fail("expected", other, "'expected' must be true or false", expected: "true or false")
        }
        let outcome = string(.outcome, required: false)
        let aware = time(.aware, required: false)
        guard errors.count == before, let id, let subject, let onset, let term else { return nil }
        return .adverseEvent(AdverseEvent(
            id: id, subject: subject, onset: onset, onsetTime: onsetTime, term: term, meddraPT: pt, grade: grade,
            serious: serious, related: related, expected: expectedness, outcome: outcome, aware: aware))
    }

    mutating func event() -> Record? {
        let before = errors.count
        let id = string(.id)
        let subject = subject()
        let time = time(.time)
        let kind = string(.kind)
        if let kind, !ClinicalEvent.kinds.contains(kind) {
            fail("kind", kind, "unknown event kind", expected: "one of " + ClinicalEvent.kinds.sorted().joined(separator: ", "))
        }
        var attributes: [String: String] = [:]
        for name in [Name.age, .malignancy, .indexDate, .location, .cause] {
            if let value = present(name) { attributes[name.key] = value.text }
        }
        guard errors.count == before, let id, let subject, let time, let kind else { return nil }
        return .event(ClinicalEvent(id: id, subject: subject, time: time, kind: kind, attributes: attributes))
    }
}

/// The error for a reference limit that is no finite number once converted to the canonical unit,
/// shared by the JSON, SDTM and HL7 readers.
enum ReferenceLimit {
    static func outOfRange(unit: String?) -> String {
        "reference limit out of range: not a finite number in \(unit ?? "the canonical unit")"
    }

    static let expected = "a reference limit of the size of a measured value"
}

/// Controlled vocabularies for adverse-event fields.
public enum AdverseEventVocabulary {
    /// ICH E2A seriousness criteria.
    public static let seriousness: Set<String> = [
        "death", "life_threatening", "hospitalisation", "disability", "congenital_anomaly", "medically_important",
        "unspecified",
    ]
    /// Investigator's causality assessment, weakest to strongest.
    /// `related` is a binary "yes" from forms that do not grade causality; it counts as related.
    public static let relatedness = ["not_related", "unlikely", "possible", "probable", "definite", "related"]
}
