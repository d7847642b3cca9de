import Foundation

/// One value that made a rule fire, with its time and the record it came from: the evidence an
/// on-call clinician checks before acting.
public struct Evidence: Sendable, Equatable, Codable {
    public var label: String
    public var value: String
    public var time: Date?
    public var record: String?

    public init(label: String, value: String, time: Date?, record: String?) {
        self.label = label
        self.value = value
        self.time = time
        self.record = record
    }
}

/// A safety alert raised by a rule, or the journal note that a signal has ended (docs/ARCHITECTURE.md §3.3).
public struct Alert: Sendable, Equatable, Codable {
    /// Whether the alert announces a signal, its end, or its return within the hold-down (the same
    /// episode continuing); an end and a return go to the journal only, never to mail.
    public enum Phase: String, Sendable, Codable {
        case raised
        case resolved
        case reentered
    }

    /// Deterministic id: first 16 hex of SHA-256(rule, subject or "trial", trigger key).
    public var id: String
    public var rule: String
    public var phase: Phase
    public var severity: Severity
    /// Trial subject id, or nil for a trial-level alert.
    public var subject: String?
    public var trial: String
    /// Ids of the records that triggered the alert.
    public var records: [String]
    /// The headline value, e.g. "4.5 mmol/L".
    public var value: String
    /// One line: what fired, for whom.
    public var title: String
    /// Why the rule fired (threshold and its source).
    public var reason: String
    /// What the reader should do next.
    public var action: String
    public var evidence: [Evidence]
    public var raisedAt: Date

    public init(
        rule: String, phase: Phase = .raised, severity: Severity, subject: String?, trial: String,
        triggerKey: String, records: [String], value: String, title: String, reason: String, action: String,
        evidence: [Evidence], raisedAt: Date
    ) {
        self.id = Alert.makeID(rule: rule, subject: subject, triggerKey: triggerKey)
        self.rule = rule
        self.phase = phase
        self.severity = severity
        self.subject = subject
        self.trial = trial
        self.records = records
        self.value = value
        self.title = title
        self.reason = reason
        self.action = action
        self.evidence = evidence
        self.raisedAt = raisedAt
    }

    /// Same inputs, same id: a replay after a crash finds the alert it already wrote.
    public static func makeID(rule: String, subject: String?, triggerKey: String) -> String {
        String(Digest.sha256Hex("\(rule)\u{1F}\(subject ?? "trial")\u{1F}\(triggerKey)").prefix(16))
    }
}
