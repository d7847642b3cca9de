import Foundation
import VigilConfig
import VigilCore
import VigilIngest
import VigilStore

/// Runs the clinical rules on the subjects a file touched, inside the same transaction, so records
/// and the alerts they cause are committed together or not at all. Each subject is evaluated at every
/// distinct time of its new records, in order, as the data stood then: a file holding a 72-hour course
/// raises what a live feed would have raised, and a replay raises the same alerts again (same ids).
///
/// Incremental (docs/ARCHITECTURE.md §4): the subject's mark is the moment it was last evaluated at
/// (in processing order, under the same configuration). At a later moment only the signals whose
/// inputs changed, are newer than the mark or went stale since are read (`SignalDependencies`);
/// SOFA and SCORTEN always are. Every other signal would give the reading it gave at the mark, which
/// the signal engine took then, and a repeated reading changes nothing. A moment at or before the
/// mark (a late record), a changed configuration, and a subject this process has no mark for (after
/// a start-up, a withdrawal or an amendment) are evaluated in full.
struct Evaluator {
    let configuration: VigilConfiguration
    let now: Date
    /// False reads every signal at every moment (the reference the incremental path is tested against).
    var incremental = true

    var signals: ClinicalSignals { ClinicalSignals(rules: configuration.clinical, ctcae: configuration.ctcae) }

    func evaluate(_ applied: [Record], in tx: StoreTransaction) throws -> [Alert] {
        var alerts: [Alert] = []
        let bySubject = Dictionary(grouping: applied, by: \.subject)
        let signals = signals
        for subject in bySubject.keys.sorted() {
            let times = Set(bySubject[subject]!.compactMap { record -> Date? in
                if case .observation(let o) = record { return o.time }
                if case .event(let e) = record { return e.time }
                return nil
            }).sorted()
            guard !times.isEmpty else { continue }
            // Carried from one time point to the next and written only when it changes. Signal states
            // and the subject's history need no such carrying: the transaction keeps them (EvaluationCache).
            var baseline = try tx.sofaBaseline(subject: subject)
            let records = bySubject[subject]!
            var mark = incremental ? try tx.evaluationMark(subject: subject) : nil
            if mark?.configuration != configuration.digest { mark = nil }
            var changed = [Bool](repeating: false, count: ObservationSlots.codes.count)
            for time in times {
                for case .observation(let o) in records where o.time == time {
                    if let slot = ObservationSlots.slot(of: o.code) { changed[slot] = true }
                }
                let since = mark.flatMap { $0.through < time ? $0.through : nil }
                alerts += try evaluate(subject: subject, asOf: time, baseline: &baseline, signals: signals, changedSince: since.map { ($0, changed) }, in: tx)
                mark = EvaluationMark(through: time, configuration: configuration.digest)
            }
            if incremental, let mark {
                try tx.setEvaluationMark(mark, subject: subject)
            }
        }
        for record in applied {
            if case .event(let event) = record, event.kind == "icu_transfer" {
                let alert = try icuTransferAlert(event, in: tx)
                if try tx.record(alert) { alerts.append(alert) }
            }
        }
        return alerts
    }

    func snapshot(subject: String, asOf: Date, inputs: SubjectInputs) -> SubjectSnapshot {
        snapshot(subject: subject, asOf: asOf, latest: ObservationSlots(inputs.latest), events: inputs.events)
    }

    func snapshot(subject: String, asOf: Date, latest: ObservationSlots, events: [ClinicalEvent]) -> SubjectSnapshot {
        let enrolment = events.last { $0.kind == "enrolment" }?.attributes ?? [:]
        return SubjectSnapshot(
            subject: subject, asOf: asOf, latest: latest, freshness: configuration.clinical.freshness, enrolment: enrolment,
            infusionTime: events.first { $0.kind == "infusion" }?.time, hypercapnic: configuration.hypercapnicSubjects.contains(subject))
    }

    /// `changedSince`: the mark and the codes applied so far, for an incremental evaluation; nil
    /// evaluates every signal.
    func evaluate(subject: String, asOf: Date, baseline previousBaseline: inout SOFABaseline?, signals: ClinicalSignals,
                  changedSince: (mark: Date, codes: [Bool])? = nil, in tx: StoreTransaction) throws -> [Alert] {
        let history = try tx.subjectHistory(subject: subject)
        let snapshot = snapshot(subject: subject, asOf: asOf, latest: try tx.latestValues(subject: subject, asOf: asOf), events: history.events)
        let due = changedSince.map {
            SignalDependencies.due(changedSlots: $0.codes, latest: snapshot.latest, freshness: snapshot.freshness, mark: $0.mark, asOf: asOf)
        }
        let sofa = SOFAScore.evaluate(snapshot)
        let baseline = SOFABaseline.update(previousBaseline, total: sofa.total, asOf: asOf)
        if baseline != previousBaseline {
            previousBaseline = try tx.saveSOFABaseline(baseline, subject: subject)
        }
        let infection = signals.suspectedInfection(snapshot, adverseEvents: history.adverseEvents)
        var alerts: [Alert] = []
        for reading in signals.readings(snapshot, sofaBaseline: baseline.value, infection: infection, sofa: sofa, only: due) {
            let previous = try tx.signalStates(subject: subject)[reading.rule]
            guard let outcome = SignalEngine.advance(reading, previous: previous, trial: configuration.trial.id, now: now,
                                                     holdDown: configuration.clinical.holdDown) else { continue }
            if outcome.state != previous { try tx.saveSignalState(outcome.state) }
            if let alert = outcome.alert {
                let closes = alert.phase == .resolved ? previous?.alertID : nil
                let reopens = alert.phase == .reentered ? outcome.state.alertID : nil
                if try tx.record(alert, closing: closes, reopening: reopens) { alerts.append(alert) }
            }
        }
        return alerts
    }

    /// A recorded ICU transfer: `info`, with the trial's running count (a secondary endpoint).
    func icuTransferAlert(_ event: ClinicalEvent, in tx: StoreTransaction) throws -> Alert {
        let count = try tx.countEvents(kind: "icu_transfer")
        return Alert(
            rule: "icu-transfer", severity: .info, subject: event.subject, trial: configuration.trial.id, triggerKey: event.id,
            records: [event.id], value: "transfer \(count)", title: "\(event.subject) transferred to intensive care",
            reason: "ICU transfer recorded\(event.attributes["location"].map { " (\($0))" } ?? ""); ICU transfers in the trial so far: \(count) (secondary endpoint).",
            action: "No action from Vigil; the transfer is counted for the ICU-transfer endpoint.",
            evidence: [Evidence(label: "icu_transfer", value: event.attributes["location"] ?? "ICU", time: event.time, record: event.id)],
            raisedAt: now)
    }

    /// The `data-quality` warning raised for every file with rejected records (docs/ARCHITECTURE.md §3.1).
    /// Warnings (records kept without a field, or with a term read conservatively) are listed after
    /// the errors.
    func dataQualityAlert(fileName: String, triggerKey: String, errors: [RecordError], warnings: [RecordError] = [], applied: Int) -> Alert {
        let count = errors.count
        let noun = count == 1 ? "record" : "records"
        let evidence = (errors.map { ($0, "") } + warnings.map { ($0, "kept: ") }).prefix(10).map { error, prefix in
            let place = [error.line.map { "line \($0)" }, error.segment.map { "segment \($0)" }, error.field].compactMap { $0 }
            return Evidence(label: place.isEmpty ? "file" : place.joined(separator: ", "), value: prefix + error.detail, time: nil, record: nil)
        }
        let kept = warnings.count == 1 ? "1 record kept with a warning" : "\(warnings.count) records kept with warnings"
        let title: String
        let reason: String
        switch (count, warnings.count) {
        case (_, 0):
            title = "\(count) \(noun) rejected in inbox file \(fileName)"
            reason = "\(count) \(noun) in \(fileName) could not be used (\(applied) applied). Safety rules could not evaluate what those records carried."
        case (0, _):
            title = "\(kept) in inbox file \(fileName)"
            reason = "\(kept) in \(fileName) (\(applied) applied): a field could not be read and was left out, or a term no vocabulary maps was read conservatively."
        default:
            title = "\(count) \(noun) rejected, \(kept) in inbox file \(fileName)"
            reason = "\(count) \(noun) in \(fileName) could not be used and \(kept) (\(applied) applied). Safety rules could not evaluate what the rejected records carried."
        }
        return Alert(
            rule: "data-quality", severity: .warning, subject: nil, trial: configuration.trial.id, triggerKey: triggerKey,
            records: [], value: warnings.isEmpty ? "\(count) rejected" : "\(count) rejected, \(warnings.count) kept with warnings",
            title: title, reason: reason,
            action: "Read rejected/\(fileName).errors.json, correct the records at the source (or map the term in vocabularies: of vigil.yaml) and drop a corrected file in the inbox.",
            evidence: Array(evidence), raisedAt: now)
    }
}
