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
    /// The highest severity of the current (or last) episode: a return within the hold-down at or
    /// below it continues the episode; above it, it is a rise and is raised.
    public var peak: Severity?
    /// When the last episode ended (evidence time) and the alert that opened it, for the hold-down.
    public var endedAt: Date?
    public var endedAlertID: String?

    public init(rule: String, subject: String, severity: Severity?, since: Date?, evidenceTime: Date, alertID: String?,
                peak: Severity? = nil, endedAt: Date? = nil, endedAlertID: String? = nil) {
        self.rule = rule
        self.subject = subject
        self.severity = severity
        self.since = since
        self.evidenceTime = evidenceTime
        self.alertID = alertID
        self.peak = peak
        self.endedAt = endedAt
        self.endedAlertID = endedAlertID
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
