import Foundation

/// Measures of how Vigil's alerts serve the team: time to acknowledge by severity, alerts
/// per subject-day by rule and severity, and for the clinical-deterioration rules the share of alerts
/// followed by a confirmed outcome. Pure: the store supplies the rows, the caller the clock.
///
/// Why these: alert fatigue is the failure mode of sepsis alerting (external validation of a widely
/// used proprietary sepsis model: Wong et al., JAMA Intern Med 2021;181:1065-1070), and a sepsis
/// alert cut mortality when it was confirmed within 3 h (TREWS: Adams et al., Nat Med
/// 2022;28:1455-1460).
public enum AlertMetrics {
    /// One raised alert as the metrics need it.
    public struct RaisedAlert: Sendable, Equatable {
        public var rule: String
        public var severity: Severity
        public var subject: String?
        public var raisedAt: Date
        public var acknowledgedAt: Date?
        /// When the data behind the alert were observed (its newest evidence time, else `raisedAt`).
        public var observedAt: Date

        public init(rule: String, severity: Severity, subject: String?, raisedAt: Date, acknowledgedAt: Date?, observedAt: Date) {
            self.rule = rule
            self.severity = severity
            self.subject = subject
            self.raisedAt = raisedAt
            self.acknowledgedAt = acknowledgedAt
            self.observedAt = observedAt
        }
    }

    /// A confirmed outcome: positive blood culture, an infection adverse event, or an ICU transfer.
    public struct Outcome: Sendable, Equatable {
        public var subject: String
        public var time: Date
        public var kind: String

        public init(subject: String, time: Date, kind: String) {
            self.subject = subject
            self.time = time
            self.kind = kind
        }
    }

    /// Median and 90th percentile of time to acknowledge, for one severity.
    public struct AcknowledgementSummary: Sendable, Equatable, Codable {
        public var severity: String
        public var raised: Int
        public var acknowledged: Int
        public var medianMinutes: Double?
        public var p90Minutes: Double?
    }

    /// Alerts per subject-day for one rule and severity, with the confirmed share where it applies.
    public struct BurdenRow: Sendable, Equatable, Codable {
        public var rule: String
        public var severity: String
        public var alerts: Int
        public var perSubjectDay: Double?
        /// For deterioration rules: alerts followed within the window by a confirmed outcome.
        public var confirmed: Int?
        public var confirmedShare: Double?
    }

    /// Rules whose alerts predict deterioration (sepsis, ICU transfer), and so can be confirmed by an outcome.
    public static let confirmableRules: Set<String> = [
        "news2", "qsofa", "sirs", "lactate", "sofa-sepsis", "septic-shock", "scorten", "bsa-detached", "spo2-on-oxygen",
    ]

    /// Percentile by linear interpolation between closest ranks (the "R-7" / NumPy default definition).
    public static func percentile(_ sorted: [Double], _ p: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rank = p * Double(sorted.count - 1)
        let low = Int(rank.rounded(.down))
        let high = min(low + 1, sorted.count - 1)
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - Double(low))
    }

    /// Time to acknowledge per severity, most severe first; unacknowledged alerts count as raised only.
    public static func acknowledgement(_ alerts: [RaisedAlert]) -> [AcknowledgementSummary] {
        Severity.allCases.sorted(by: >).compactMap { severity in
            let raised = alerts.filter { $0.severity == severity }
            guard !raised.isEmpty else { return nil }
            let minutes = raised.compactMap { alert in alert.acknowledgedAt.map { max(0, $0.timeIntervalSince(alert.raisedAt)) / 60 } }.sorted()
            return AcknowledgementSummary(severity: severity.rawValue, raised: raised.count, acknowledged: minutes.count,
                                          medianMinutes: percentile(minutes, 0.5), p90Minutes: percentile(minutes, 0.9))
        }
    }

    /// The oldest unacknowledged alert at or above `floor` severity that is not resolved (given as ids).
    public static func oldestUnacknowledged(_ alerts: [RaisedAlert], floor: Severity = .critical) -> RaisedAlert? {
        alerts.filter { $0.severity >= floor && $0.acknowledgedAt == nil }.min { $0.raisedAt < $1.raisedAt }
    }

    /// Subject-days under observation: for each subject, first to last record, rounded up, at least one day.
    public static func subjectDays(spans: [(first: Date, last: Date)]) -> Double {
        spans.reduce(0) { $0 + max(1, ($1.last.timeIntervalSince($1.first) / 86_400).rounded(.up)) }
    }

    /// Alerts per subject-day by rule and severity; for `confirmableRules`, how many were followed
    /// within `window` (default 48 h) of the data that raised them by an outcome in the same subject.
    public static func burden(_ alerts: [RaisedAlert], outcomes: [Outcome], subjectDays: Double, window: TimeInterval = 48 * 3600) -> [BurdenRow] {
        let groups = Dictionary(grouping: alerts) { "\($0.rule)\u{1F}\($0.severity.rawValue)" }
        return groups.map { _, group in
            let first = group[0]
            var row = BurdenRow(rule: first.rule, severity: first.severity.rawValue, alerts: group.count,
                                perSubjectDay: subjectDays > 0 ? Double(group.count) / subjectDays : nil)
            if confirmableRules.contains(first.rule) {
                let confirmed = group.filter { alert in
                    outcomes.contains { $0.subject == alert.subject && $0.time > alert.observedAt && $0.time <= alert.observedAt.addingTimeInterval(window) }
                }.count
                row.confirmed = confirmed
                row.confirmedShare = Double(confirmed) / Double(group.count)
            }
            return row
        }.sorted { ($0.rule, Severity(rawValue: $1.severity) ?? .info) < ($1.rule, Severity(rawValue: $0.severity) ?? .info) }
    }
}
