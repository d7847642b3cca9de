import Foundation

/// Whether a raised alert is mailed now, and when an unacknowledged one is escalated: the alert
/// lifecycle of docs/ARCHITECTURE.md §3.3, as Alertmanager stages it (silence, then repeat interval),
/// decided here and carried out by the daemon's emitter. Every alert reaches the journal whatever
/// this decides; only mail is held. Pure: the facts (a silence in force, earlier mail of the same
/// rule and subject) and the time come in.
public struct DeliveryPolicy: Sendable, Equatable {
    /// The same rule and subject is not mailed again within this time unless its severity rises;
    /// 0 mails every alert.
    public var repeatInterval: TimeInterval
    /// An unacknowledged critical or halt alert is mailed to the escalation list after this time.
    public var escalateAfter: TimeInterval

    /// Rules each of whose alerts is a distinct regulatory event (a SUSAR reporting deadline),
    /// mailed whatever the repeat interval. Halts are always mailed too.
    public static let alwaysMailedRules: Set<String> = ["susar-clock"]

    public init(repeatInterval: TimeInterval, escalateAfter: TimeInterval) {
        self.repeatInterval = repeatInterval
        self.escalateAfter = escalateAfter
    }

    /// A maintenance silence in force that matches the alert.
    public struct SilenceInForce: Sendable, Equatable {
        public var id: String
        public var until: Date
        public var reason: String

        public init(id: String, until: Date, reason: String) {
            self.id = id
            self.until = until
            self.reason = reason
        }
    }

    /// What to do with an alert's mail.
    public enum MailDecision: Sendable, Equatable {
        case send
        /// Held, for the reason given (journalled as `VIGIL_MAIL`).
        case hold(String)
    }

    /// The decision for `alert`. `mailedWithin(interval)` answers whether the same rule and subject
    /// was mailed at this severity or higher, as another alert, within `interval` before now.
    public func mail(_ alert: Alert, silence: SilenceInForce?, mailedWithin: (TimeInterval) -> Bool) -> MailDecision {
        if let silence {
            return .hold("silenced by \(silence.id) until \(ISO8601Coding.string(from: silence.until)): \(silence.reason)")
        }
        guard repeatInterval > 0, alert.severity != .halt, !Self.alwaysMailedRules.contains(alert.rule) else { return .send }
        if mailedWithin(repeatInterval) {
            return .hold("repeat interval: \(alert.rule) for \(alert.subject ?? "trial") already mailed within \(Int(repeatInterval / 60)) min")
        }
        return .send
    }

    /// The raise time before which an unacknowledged critical or halt alert is due for escalation.
    public func escalationCutoff(now: Date) -> Date { now.addingTimeInterval(-escalateAfter) }

    /// Whether an alert of `severity` raised at `raisedAt`, not acknowledged, is escalated at `now`.
    public func isDueForEscalation(severity: Severity, raisedAt: Date, now: Date) -> Bool {
        severity >= .critical && raisedAt <= escalationCutoff(now: now)
    }
}
