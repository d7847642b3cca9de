import VigilCore

/// A parsed record with the place in its file it came from.
public struct LocatedRecord: Sendable, Equatable {
    public var record: Record
    public var line: Int?
    public var segment: Int?

    public init(record: Record, line: Int? = nil, segment: Int? = nil) {
        self.record = record
        self.line = line
        self.segment = segment
    }
}
