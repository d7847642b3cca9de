/// How urgently an alert needs a person, from a trial halt down to information only (docs/ARCHITECTURE.md §3.3).
public enum Severity: String, Sendable, Codable, CaseIterable, Comparable {
    case info
    case warning
    case critical
    case halt

    /// syslog priority written to the journal's `PRIORITY` field.
    public var journalPriority: Int {
        switch self {
        case .halt: 1
        case .critical: 2
        case .warning: 4
        case .info: 6
        }
    }

    private var rank: Int {
        switch self {
        case .info: 0
        case .warning: 1
        case .critical: 2
        case .halt: 3
        }
    }

    public static func < (lhs: Severity, rhs: Severity) -> Bool { lhs.rank < rhs.rank }
}
