/// One bad record in an inbox file, located precisely enough that the producer can fix it:
/// the line (JSON, CSV) or segment index (HL7), the field, the offending value and what was expected.
public struct RecordError: Error, Sendable, Equatable, Codable {
    public var line: Int?
    public var segment: Int?
    public var field: String?
    public var value: String?
    public var error: String
    public var expected: String?

    public init(line: Int? = nil, segment: Int? = nil, field: String? = nil, value: String? = nil, error: String, expected: String? = nil) {
        self.line = line
        self.segment = segment
        self.field = field
        self.value = value
        self.error = error
        self.expected = expected
    }

    /// The error and what was expected, without the location.
    public var detail: String {
        expected.map { "\(error) (expected \($0))" } ?? error
    }

    /// "line 3, field unit: unknown unit 'mg%' for lactate (expected one of: mg/dl, mmol/l)".
    public var summary: String {
        var location: [String] = []
        if let line { location.append("line \(line)") }
        if let segment { location.append("segment \(segment)") }
        if let field { location.append("field \(field)") }
        return location.isEmpty ? detail : location.joined(separator: ", ") + ": " + detail
    }
}

/// What parsing one file produced: the valid records with their lines, the located errors, and
/// notes worth logging (such as a time read in the site time zone because it had no offset).
public struct ParseResult: Sendable, Equatable {
    public var records: [LocatedRecord]
    public var errors: [RecordError]
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
