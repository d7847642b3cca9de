import Foundation
import GRDB
import VigilCore

/// What `AlertMetrics` needs from the ledger and the records: every raised alert, the confirmed
/// outcomes (positive blood cultures, infection adverse events, ICU transfers) and each subject's
/// span of observation.
public struct MetricInputs: Sendable {
    public var alerts: [AlertMetrics.RaisedAlert]
    public var outcomes: [AlertMetrics.Outcome]
    public var subjectDays: Double
}

extension VigilStore {
    /// Reads the metric inputs in one read transaction; `infectionTerm` picks the infection adverse events.
    public func metricInputs(infectionTerm: String) throws -> MetricInputs {
        let infection = try Regex(infectionTerm)
        return try pool.read { db in
            let alerts = try StoredAlert.fetch(db, where: "phase = 'raised'", limit: nil).map { stored in
                let alert = stored.alert
                return AlertMetrics.RaisedAlert(
                    rule: alert.rule, severity: alert.severity, subject: alert.subject, raisedAt: alert.raisedAt, acknowledgedAt: stored.ackedAt,
                    observedAt: alert.evidence.compactMap(\.time).max() ?? alert.raisedAt)
            }
            var outcomes: [AlertMetrics.Outcome] = []
            for data in try Data.fetchAll(db, sql: """
                SELECT payload FROM records WHERE retracted_at IS NULL AND (code = 'blood_culture' OR type IN ('adverse_event', 'event'))
                """)
            {
                switch try SubjectQueries.decoder.decode(VigilCore.Record.self, from: data) {
                case .observation(let o):
                    if case .text(let result) = o.value, result == "positive" { outcomes.append(.init(subject: o.subject, time: o.time, kind: "positive blood culture")) }
                case .adverseEvent(let ae):
                    if ae.term.contains(infection) || (ae.meddraPT?.contains(infection) ?? false), let start = ae.onsetTime { outcomes.append(.init(subject: ae.subject, time: start, kind: "infection adverse event")) }
                case .event(let event):
                    if event.kind == "icu_transfer" { outcomes.append(.init(subject: event.subject, time: event.time, kind: "icu_transfer")) }
                }
            }
            let spans = try Row.fetchAll(db, sql: "SELECT MIN(time) AS first, MAX(time) AS last FROM records WHERE time IS NOT NULL GROUP BY subject").map { row in
                (first: Date(timeIntervalSince1970: row["first"]), last: Date(timeIntervalSince1970: row["last"]))
            }
            return MetricInputs(alerts: alerts, outcomes: outcomes, subjectDays: AlertMetrics.subjectDays(spans: spans))
        }
    }
}

extension VigilStore {
    /// The oldest critical or halt alert not yet acknowledged (resolved or not: nobody has confirmed seeing it).
    public func oldestUnacknowledged() throws -> StoredAlert? {
        try pool.read { db in
            try StoredAlert.fetch(db, where: "phase = 'raised' AND severity IN ('critical', 'halt') AND acked_at IS NULL", limit: 1).first
        }
    }
}
