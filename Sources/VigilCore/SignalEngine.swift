import Foundation

/// What one rule concludes about one subject at one moment, before comparing with the past.
public struct SignalReading: Sendable, Equatable {
    /// What an alert made from the reading says. Built only when an alert is: nearly every reading
    /// raises none, and making these texts for every reading would be wasted work on the hot path.
    public struct Details: Sendable, Equatable {
        public var value: String
        public var title: String
        public var reason: String
        public var action: String
        public var evidence: [Evidence]

        public init(value: String, title: String, reason: String, action: String, evidence: [Evidence]) {
            self.value = value
            self.title = title
            self.reason = reason
            self.action = action
            self.evidence = evidence
        }
    }

    public var rule: String
    public var subject: String
    /// The severity the evidence supports now; nil when the rule is not met.
    public var severity: Severity?
    /// False when inputs were missing or stale and the rule was not met on what was there: the
    /// signal can then neither start nor end (an incomplete score is a lower bound, never "normal").
    public var conclusive: Bool
    /// Time of the newest evidence; a reading older than the state's evidence is ignored.
    public var evidenceTime: Date
    /// Records behind the reading, the trigger key of a raised alert.
    public var records: [String]
    private let makeDetails: @Sendable () -> Details

    /// The texts, made now (each call makes them again: take them once).
    public var details: Details { makeDetails() }
    public var value: String { details.value }
    public var title: String { details.title }
    public var reason: String { details.reason }
    public var action: String { details.action }
    public var evidence: [Evidence] { details.evidence }

    /// A reading whose texts are made by `details` when they are needed.
    public init(rule: String, subject: String, severity: Severity?, conclusive: Bool = true, evidenceTime: Date, records: [String],
                details: @escaping @Sendable () -> Details) {
        self.rule = rule
        self.subject = subject
        self.severity = severity
        self.conclusive = conclusive
        self.evidenceTime = evidenceTime
        self.records = records
        makeDetails = details
    }

    public init(rule: String, subject: String, severity: Severity?, conclusive: Bool = true, value: String, title: String,
                reason: String, action: String, evidence: [Evidence], evidenceTime: Date, records: [String]) {
        let details = Details(value: value, title: title, reason: reason, action: action, evidence: evidence)
        self.init(rule: rule, subject: subject, severity: severity, conclusive: conclusive, evidenceTime: evidenceTime, records: records) { details }
    }

    public static func == (a: SignalReading, b: SignalReading) -> Bool {
        a.rule == b.rule && a.subject == b.subject && a.severity == b.severity && a.conclusive == b.conclusive
            && a.evidenceTime == b.evidenceTime && a.records == b.records && a.details == b.details
    }
}

/// Turns readings into alerts with Alertmanager's lifecycle: an alert when a signal starts or its
/// severity rises, nothing while it holds or falls, a `resolved` journal entry when it ends. A signal
/// that starts again within `holdDown` of its end, at no higher severity than the episode reached,
/// continues that episode (a `reentered` journal entry, no mail): a value hovering around a
/// threshold is one episode, not a stream of alerts.
public enum SignalEngine {
    public static func advance(_ reading: SignalReading, previous: SignalState?, trial: String, now: Date, holdDown: TimeInterval = 0) -> SignalOutcome? {
        if let previous, reading.evidenceTime < previous.evidenceTime { return nil }
        let before = previous?.severity
        var state = previous ?? SignalState(rule: reading.rule, subject: reading.subject, severity: nil, since: nil,
                                            evidenceTime: reading.evidenceTime, alertID: nil)
        guard let severity = reading.severity else {
            guard reading.conclusive else { return nil }
            state.evidenceTime = reading.evidenceTime
            state.severity = nil
            state.since = nil
            guard before != nil, let opened = previous?.alertID else {
                return previous == state ? nil : SignalOutcome(state: state, alert: nil)
            }
            state.alertID = nil
            state.endedAt = reading.evidenceTime
            state.endedAlertID = opened
            let details = reading.details
            let resolved = Alert(
                rule: reading.rule, phase: .resolved, severity: before!, subject: reading.subject, trial: trial,
                triggerKey: "resolved|\(opened)|\(reading.records.joined(separator: ","))", records: reading.records, value: details.value,
                title: "\(reading.subject) \(reading.rule) signal ended", reason: "\(details.reason) The signal opened by alert \(opened) has ended.",
                action: "No action needed; recorded for the audit trail.", evidence: details.evidence, raisedAt: now)
            return SignalOutcome(state: state, alert: resolved)
        }
        state.evidenceTime = reading.evidenceTime
        state.severity = severity
        if before == nil {
            state.since = reading.evidenceTime
            if holdDown > 0, let ended = previous?.endedAt, let episode = previous?.endedAlertID,
               reading.evidenceTime.timeIntervalSince(ended) < holdDown, let peak = previous?.peak, severity <= peak {
                state.alertID = episode
                state.endedAt = nil
                state.endedAlertID = nil
                let minutes = Int(reading.evidenceTime.timeIntervalSince(ended) / 60)
                let details = reading.details
                let reentered = Alert(
                    rule: reading.rule, phase: .reentered, severity: severity, subject: reading.subject, trial: trial,
                    triggerKey: "reentered|\(episode)|\(reading.records.joined(separator: ","))", records: reading.records, value: details.value,
                    title: "\(reading.subject) \(reading.rule) signal back after \(minutes) min",
                    reason: "\(details.reason) The signal returned \(minutes) min after it ended, within the \(Int(holdDown / 60))-min hold-down, "
                        + "so it continues the episode opened by alert \(episode): no new mail.",
                    action: "Follow the episode's alert \(episode); no separate action.", evidence: details.evidence, raisedAt: now)
                return SignalOutcome(state: state, alert: reentered)
            }
            state.peak = severity
            state.endedAt = nil
            state.endedAlertID = nil
        } else if severity > (state.peak ?? severity) {
            state.peak = severity
        }
        guard before == nil || severity > before! else { return SignalOutcome(state: state, alert: nil) }
        state.peak = max(state.peak ?? severity, severity)
        let details = reading.details
        let alert = Alert(
            rule: reading.rule, severity: severity, subject: reading.subject, trial: trial,
            triggerKey: "\(reading.records.joined(separator: ","))|\(severity.rawValue)", records: reading.records, value: details.value,
            title: details.title, reason: details.reason, action: details.action, evidence: details.evidence, raisedAt: now)
        state.alertID = alert.id
        return SignalOutcome(state: state, alert: alert)
    }
}
