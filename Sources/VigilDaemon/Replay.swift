import Foundation
import VigilConfig
import VigilControl
import VigilCore
import VigilStore

/// Re-runs the stored history under a candidate configuration, in scratch copies, to show a safety
/// team what a threshold change would have done before it is deployed: alerts that would have fired
/// that did not, alerts that would not have fired, and alerts whose severity would differ; with the
/// alert burden under each configuration. The live store is only read (through an online backup).
public struct Replay {
    let live: VigilStore
    let current: VigilConfiguration
    let candidate: VigilConfiguration

    public init(live: VigilStore, current: VigilConfiguration, candidate: VigilConfiguration) {
        self.live = live
        self.current = current
        self.candidate = candidate
    }

    /// Replays every stored file in order; `since` limits the comparison (not the replay, which must
    /// rebuild the subjects' state) to alerts on data observed from then on.
    public func run(since: Date?) throws -> ReplayReply {
        let scratch = NSTemporaryDirectory() + "vigil-replay-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        try live.backup(to: "\(scratch)/live.sqlite")
        let snapshot = try VigilStore(path: "\(scratch)/live.sqlite")
        let history = try snapshot.history()
        let replayed = try VigilStore(path: "\(scratch)/candidate.sqlite")
        var records = 0
        for batch in history {
            records += batch.records.count
            try replayed.transaction { tx in
                var applied: [Record] = []
                for record in batch.records {
                    if case .unchanged = try tx.apply(record, fileSHA256: batch.fileSHA256, at: batch.receivedAt) { continue }
                    applied.append(record)
                }
                _ = try Evaluator(configuration: candidate, now: batch.receivedAt).evaluate(applied, in: tx)
                // Full pass: a replay has no timer, so each batch stands in for the time that passed before it.
                _ = try TrialMonitor(configuration: candidate, now: batch.receivedAt).evaluate(applied: applied, fullPass: true, in: tx)
            }
        }
        let before = try snapshot.metricInputs(infectionTerm: current.clinical.infectionTermPattern)
        let after = try replayed.metricInputs(infectionTerm: candidate.clinical.infectionTermPattern)
        let liveAlerts = try snapshot.alerts(openOnly: false, limit: Int.max).map(\.alert).filter { compared($0, since) }
        let candidateAlerts = try replayed.alerts(openOnly: false, limit: Int.max).map(\.alert).filter { compared($0, since) }
        let liveIDs = Set(liveAlerts.map(\.id))
        let candidateIDs = Set(candidateAlerts.map(\.id))
        var onlyLive = liveAlerts.filter { !candidateIDs.contains($0.id) }
        var onlyCandidate = candidateAlerts.filter { !liveIDs.contains($0.id) }
        // The same rule, subject and triggering records at another severity is a change, not two alerts.
        var changed: [ReplayReply.Change] = []
        for alert in onlyLive {
            if let index = onlyCandidate.firstIndex(where: { $0.rule == alert.rule && $0.subject == alert.subject && $0.records == alert.records }) {
                changed.append(.init(live: .init(alert), candidate: .init(onlyCandidate[index])))
                onlyCandidate.remove(at: index)
            }
        }
        onlyLive.removeAll { alert in changed.contains { $0.live.id == alert.id } }
        return ReplayReply(
            ok: true, liveDigest: current.digest, candidateDigest: candidate.digest, since: since, files: history.count, records: records,
            liveAlerts: liveAlerts.count, candidateAlerts: candidateAlerts.count,
            wouldFire: onlyCandidate.map(ReplayReply.Item.init), wouldNotFire: onlyLive.map(ReplayReply.Item.init), changed: changed,
            subjectDays: after.subjectDays,
            liveBurden: AlertMetrics.burden(before.alerts.filter { $0.rule != "data-quality" }, outcomes: before.outcomes, subjectDays: before.subjectDays),
            candidateBurden: AlertMetrics.burden(after.alerts, outcomes: after.outcomes, subjectDays: after.subjectDays))
    }

    /// Alerts are compared on the time of the data behind them, so `since` means the same in both runs.
    /// Data-quality warnings (rejected records are not stored, so not replayed) and SUSAR-clock
    /// reminders (driven by the wall clock, not by data) are left out of the comparison.
    func compared(_ alert: Alert, _ since: Date?) -> Bool {
        guard alert.rule != "data-quality", alert.rule != "susar-clock" else { return false }
        guard let since else { return true }
        return (alert.evidence.compactMap(\.time).max() ?? alert.raisedAt) >= since
    }
}
