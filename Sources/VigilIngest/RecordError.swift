import VigilCore

/// One bad record in an inbox file, located precisely enough that the producer can fix it: the line
/// (JSON, CSV) or segment index (HL7), the field, the shape of the offending value and what was
/// expected.
///
/// The offending value itself is producer text that may carry anything, a patient's name included,
/// so it is described only by its shape (`ProducerText.shape`) in everything Vigil writes: errors.json,
/// the file ledger, the data-quality alert, logs. The original file in `rejected/` is the one place
/// that keeps the value (docs/ARCHITECTURE.md §3.1). `rejectedValue` is kept in memory for `vigilctl check`,
/// which shows the operator the file they named, and is never encoded.
public struct RecordError: Error, Sendable, Equatable, Codable {
    public var line: Int?
    public var segment: Int?
    public var field: String?
    /// What the rejected value looked like ("text of 58 characters: letters, spaces"), never the value.
    public var valueShape: String?
    public var error: String
    public var expected: String?
    /// The rejected value, for `vigilctl check` only: not encoded, not written by the daemon.
    public var rejectedValue: String?

    enum CodingKeys: String, CodingKey {
        case line, segment, field, valueShape = "value_shape", error, expected
    }

    /// `value` is the rejected value as the producer sent it; only its shape is kept for reports
    /// (`shape` when the caller knows it better, as for a JSON number or list). `withheld` keeps the
    /// value even from `vigilctl check` (a subject id that may be a patient's name).
    public init(line: Int? = nil, segment: Int? = nil, field: String? = nil, value: String? = nil, shape: String? = nil,
                withheld: Bool = false, error: String, expected: String? = nil) {
        self.line = line
        self.segment = segment
        self.field = field
        self.valueShape = shape ?? value.map(ProducerText.shape)
        self.error = error
        self.expected = expected
        self.rejectedValue = withheld ? nil : value
    }

    /// The error, the shape of what was found and what was expected, without the location.
    public var detail: String {
        var text = error
        switch (valueShape, expected) {
        case let (shape?, expected?): text += " (found \(shape); expected \(expected))"
        case let (shape?, nil): text += " (found \(shape))"
        case let (nil, expected?): text += " (expected \(expected))"
        case (nil, nil): break
        }
        return ProducerText.visible(text)
    }

    /// "line 3, field unit: unknown unit for lactate (found text of 3 characters: letters, punctuation
    /// or symbols; expected one of: mg/dL, mmol/L)", rendered by the producer-text rule.
    public var summary: String {
        var location: [String] = []
        if let line { location.append("line \(line)") }
        if let segment { location.append("segment \(segment)") }
        if let field { location.append("field \(ProducerText.visible(field))") }
        return location.isEmpty ? detail : location.joined(separator: ", ") + ": " + detail
    }
}

/// What parsing one file produced: the valid records with their lines, the located errors, the
/// warnings, and notes worth logging (such as a time read in the site time zone because it had no
/// offset).
public struct ParseResult: Sendable, Equatable {
    public var records: [LocatedRecord]
    /// Records that could not be used at all: each is left out.
    public var errors: [RecordError]
    /// Records kept without an auxiliary field that could not be read (a reference range), or with
    /// a term no vocabulary maps (read conservatively): each raises the file's data-quality warning.
    public var warnings: [RecordError] = []
    public var notes: [String]
    /// Ids of earlier records the sender withdrew (HL7 OBX-11 = D or W): no longer current values.
    public var retractions: [String]

    public init(records: [LocatedRecord] = [], errors: [RecordError] = [], notes: [String] = [], retractions: [String] = []) {
        self.records = records
        self.errors = errors
        self.notes = notes
        self.retractions = retractions
    }
}
