import Foundation

/// The value of one observation: a number in the code's canonical unit, a text (culture result,
/// consciousness level) or a yes/no flag (on supplemental oxygen).
public enum ObservationValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case number(Double)
    case text(String)
    case flag(Bool)

    public var number: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    public var description: String {
        switch self {
        case .number(let value): Self.format(value)
        case .text(let text): text
        case .flag(let flag): flag ? "true" : "false"
        }
    }

    /// Short decimal text without trailing zeros, so alerts read "4.5", not "4.500000".
    public static func format(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e12 { return String(Int64(value)) }
        // The shortest text that reads back as this value, when it has at most 3 decimals and no
        // exponent, is what "%.3f" gives once its trailing zeros are cut: the value lies within half a
        // unit in the last place of that text, far from any rounding boundary of the third decimal.
        // It costs a fraction of String(format:), which goes through NSString.
        let shortest = value.description
        let utf8 = shortest.utf8
        if let point = utf8.firstIndex(of: UInt8(ascii: ".")), !utf8.contains(UInt8(ascii: "e")), utf8.distance(from: point, to: utf8.endIndex) <= 4 {
            return shortest
        }
        return roundedToThousandths(value) ?? trimmed(String(format: "%.3f", value))
    }

    /// `value` to 3 decimals, trailing zeros cut, as "%.3f" would give it, from integer arithmetic;
    /// nil when the value is too large or lies so near a rounding tie of the third decimal that only
    /// printf's exact decimal expansion can decide.
    static func roundedToThousandths(_ value: Double) -> String? {
        let scaled = abs(value) * 1000
        guard scaled.isFinite, scaled < 1e15, abs(scaled - scaled.rounded(.down) - 0.5) > 1e-6 else { return nil }
        let thousandths = Int64(scaled.rounded())
        var text = String(thousandths / 1000)
        var fraction = thousandths % 1000
        if fraction != 0 {
            var digits = 3
            while fraction % 10 == 0 {
                fraction /= 10
                digits -= 1
            }
            let decimals = String(fraction)
            text += "." + String(repeating: "0", count: digits - decimals.count) + decimals
        }
        return value < 0 ? "-" + text : text  // printf keeps the sign of a value that rounds to 0: "-0"
    }

    private static func trimmed(_ printed: String) -> String {
        var text = printed
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }
}

/// One measured or charted value for a subject, already normalised to Vigil's canonical code and unit.
public struct Observation: Sendable, Equatable, Codable {
    public var id: String
    public var subject: String
    public var time: Date
    public var code: String
    public var value: ObservationValue
    /// Canonical unit after conversion (nil for text and flag values).
    public var unit: String?
    /// Value and unit exactly as the producer sent them, kept as evidence for audits.
    public var originalValue: String?
    public var originalUnit: String?
    public var loinc: String?
    public var low: Double?
    public var high: Double?
    /// "<" or ">" (or "<=", ">=") when the laboratory reported a bound, not an exact value (HL7 SN).
    public var comparator: String?
    /// Result status as sent: `final`, `corrected` or `preliminary` (nil when the format has none).
    public var status: String?
    /// The laboratory's abnormal flags (HL7 OBX-8, e.g. "HH"), as sent.
    public var abnormalFlags: String?
    /// The time as sent when it had no time of day or no minutes (`2014-01-02`, `2014-01-02T10`):
    /// `time` is then the first instant of that day or hour in the site's zone, so the value's age
    /// is never under-estimated (docs/ARCHITECTURE.md §3.2). Nil for a time to the minute or second.
    public var reportedTime: String?

    public init(
        id: String, subject: String, time: Date, code: String, value: ObservationValue, unit: String?,
        originalValue: String? = nil, originalUnit: String? = nil, loinc: String? = nil,
        low: Double? = nil, high: Double? = nil, comparator: String? = nil, status: String? = nil,
        abnormalFlags: String? = nil, reportedTime: String? = nil
    ) {
        self.reportedTime = reportedTime
        self.id = id
        self.subject = subject
        self.time = time
        self.code = code
        self.value = value
        self.unit = unit
        self.originalValue = originalValue
        self.originalUnit = originalUnit
        self.loinc = loinc
        self.low = low
        self.high = high
        self.comparator = comparator
        self.status = status
        self.abnormalFlags = abnormalFlags
    }
}

/// An adverse event as reported by the investigator (docs/ARCHITECTURE.md §3.2), with the fields the stopping
/// rules and SUSAR clocks need.
public struct AdverseEvent: Sendable, Equatable, Codable {
    public var id: String
    public var subject: String
    /// ISO 8601 date, possibly partial (`2026-11`), kept as sent.
    public var onset: String
    public var onsetTime: Date?
    public var term: String
    public var meddraPT: String?
    public var grade: Int?
    public var serious: [String]
    public var related: String?
    public var expected: Bool?
    public var outcome: String?
    public var aware: Date?

    public init(
        id: String, subject: String, onset: String, onsetTime: Date?, term: String, meddraPT: String?,
        grade: Int?, serious: [String], related: String?, expected: Bool?, outcome: String?, aware: Date?
    ) {
        self.id = id
        self.subject = subject
        self.onset = onset
        self.onsetTime = onsetTime
        self.term = term
        self.meddraPT = meddraPT
        self.grade = grade
        self.serious = serious
        self.related = related
        self.expected = expected
        self.outcome = outcome
        self.aware = aware
    }
}

/// A dated event in a subject's course: enrolment, infusion (D0), ICU transfer, death, withdrawal.
public struct ClinicalEvent: Sendable, Equatable, Codable {
    /// Event kinds docs/ARCHITECTURE.md §3.2 defines.
    public static let kinds: Set<String> = [
        "enrolment", "infusion", "icu_transfer", "icu_discharge", "death", "withdrawal",
    ]

    public var id: String
    public var subject: String
    public var time: Date
    public var kind: String
    /// Further kind-specific fields (enrolment: `age`, `malignancy`, `index_date`), as text.
    public var attributes: [String: String]

    public init(id: String, subject: String, time: Date, kind: String, attributes: [String: String] = [:]) {
        self.id = id
        self.subject = subject
        self.time = time
        self.kind = kind
        self.attributes = attributes
    }
}

/// One record arriving through the inbox, whatever its file format.
public enum Record: Sendable, Equatable, Codable {
    case observation(Observation)
    case adverseEvent(AdverseEvent)
    case event(ClinicalEvent)

    public var id: String {
        switch self {
        case .observation(let o): o.id
        case .adverseEvent(let a): a.id
        case .event(let e): e.id
        }
    }

    public var subject: String {
        switch self {
        case .observation(let o): o.subject
        case .adverseEvent(let a): a.subject
        case .event(let e): e.subject
        }
    }

    /// The record type as written in the JSON contract (`observation`, `adverse_event`, `event`).
    public var typeName: String {
        switch self {
        case .observation: "observation"
        case .adverseEvent: "adverse_event"
        case .event: "event"
        }
    }

    /// The clinically relevant time of the record (observation time, AE onset or awareness, event time).
    public var time: Date? {
        switch self {
        case .observation(let o): o.time
        case .adverseEvent(let a): a.onsetTime ?? a.aware
        case .event(let e): e.time
        }
    }
}
