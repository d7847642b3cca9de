import Foundation

/// Where one rule stands for one subject: the severity it currently signals (nil when quiet), since
/// when, the time of the newest evidence used, and the alert that opened the episode.
public struct SignalState: Sendable, Equatable, Codable {
    public var rule: String
    public var subject: String
    public var severity: Severity?
    public var since: Date?
    public var evidenceTime: Date
    public var alertID: String?

    public init(rule: String, subject: String, severity: Severity?, since: Date?, evidenceTime: Date, alertID: String?) {
        self.rule = rule
        self.subject = subject
        self.severity = severity
        self.since = since
        self.evidenceTime = evidenceTime
        self.alertID = alertID
    }
}

/// What evaluating a signal produced: the new state to persist and, if any, the alert to emit.
/// As in Alertmanager, an alert is raised when a signal starts or its severity rises; a fall in
/// severity is recorded without notifying, and the signal's end is a `resolved` journal entry.
public struct SignalOutcome: Sendable, Equatable {
    public var state: SignalState
    public var alert: Alert?

    public init(state: SignalState, alert: Alert?) {
        self.state = state
        self.alert = alert
    }
}
