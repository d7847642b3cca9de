import Foundation
import Logging
import VigilConfig
import VigilCore
import VigilStore

/// The trial-level rules (docs/ARCHITECTURE.md §4 "Stopping rules"), evaluated inside the same transaction as
/// the records that may trigger them, and on a timer for what time alone changes (subjects becoming
/// evaluable at Day 10, SUSAR reporting deadlines).
struct TrialMonitor {
    let configuration: VigilConfiguration
    let now: Date

    var stopping: StoppingConfiguration { configuration.stopping }

    /// The zone a date-only onset's day is counted in (the one the ingest read it in).
    var siteZone: TimeZone { TimeZone(identifier: configuration.trial.siteTimeZone) ?? .gmt }

    /// New or amended adverse events: immediate-halt rules and SUSAR clocks; then the monitoring rules
    /// and the SUSAR reminders. The monitoring rules read every subject's infusion and adverse events,
    /// so they run only when `applied` holds an adverse event or an infusion, or when `fullPass` says
    /// something else may have moved them (the timer, withdrawn records, a replay): files of vitals and
    /// labs, nearly all of the traffic, cannot change them, and the 5 s timer catches what time alone
    /// changes (a subject reaching Day 10).
    func evaluate(applied: [Record], fullPass: Bool, in tx: StoreTransaction) throws -> [Alert] {
        var alerts: [Alert] = []
        let touchesTrial = applied.contains { record in
            switch record {
            case .adverseEvent: true
            case .event(let event): event.kind == "infusion"
            case .observation: false
            }
        }
        guard touchesTrial || fullPass else { return try clockReminders(in: tx) }
        let infusions = try tx.infusions().mapValues { $0.period(zone: siteZone) }
        for record in applied {
            guard case .adverseEvent(let ae) = record else { continue }
            for rule in stopping.haltRules where rule.matches(ae, infusion: infusions[ae.subject], zone: siteZone) {
                alerts += try halt(rule: "halt-\(rule.id)", triggerKey: ae.id, subject: ae.subject, records: [ae.id],
                                   reason: "Immediate-halt rule '\(rule.id)': \(rule.description).",
                                   evidence: evidence(ae, infusion: infusions[ae.subject]), in: tx)
            }
            if SUSARClock.isSUSAR(ae) {
                let clock = SUSARClock(ae, awareFallback: now)
                try tx.startClock(clock)
            }
        }
        alerts += try monitoring(infusions: infusions, in: tx)
        alerts += try clockReminders(in: tx)
        return alerts
    }

    func evidence(_ ae: AdverseEvent, infusion: ReportedPeriod?) -> [Evidence] {
        var items = [Evidence(label: "adverse event", value: "\(ae.term)\(ae.meddraPT.map { " (PT \($0))" } ?? "")", time: ae.onsetTime, record: ae.id)]
        items.append(Evidence(label: "grade / causality", value: "\(ae.grade.map { "grade \($0)" } ?? "grade ?"), \(ae.related ?? "causality not given")", time: nil, record: ae.id))
        if ae.isSerious { items.append(Evidence(label: "seriousness (ICH E2A)", value: ae.serious.joined(separator: ", ").ifEmpty("fatal outcome"), time: nil, record: ae.id)) }
        if let expected = ae.expected { items.append(Evidence(label: "expectedness", value: expected ? "expected" : "unexpected", time: nil, record: ae.id)) }
        if let infusion {
            items.append(Evidence(label: "infusion (D0)", value: infusion.isInstant ? "D0" : "D0 (date only: the whole day counted)", time: infusion.start, record: nil))
        }
        return items
    }

    /// Raises a `halt` alert and, if the trial is running, halts it with this rule as the reason.
    func halt(rule: String, triggerKey: String, subject: String?, records: [String], reason: String, evidence: [Evidence], in tx: StoreTransaction) throws -> [Alert] {
        var state = try tx.trialState()
        let alert = Alert(
            rule: rule, severity: .halt, subject: subject, trial: configuration.trial.id, triggerKey: triggerKey, records: records,
            value: state.phase == .halted ? "trial already halted" : "trial halted",
            title: "TRIAL \(configuration.trial.id) HALTED: \(reason.prefix(120))",
            reason: reason + (state.phase == .halted ? " The trial was already halted (\(state.rule ?? "?"))." : ""),
            action: "Stop enrolment and infusions now; inform the sponsor and the DSMB per protocol. "
                + "Resuming needs: vigilctl resume --by NAME --reason TEXT (authorised group).",
            evidence: evidence, raisedAt: now)
        guard try tx.record(alert) else { return [] }
        if state.phase == .running {
            state = TrialState(phase: .halted, rule: rule, reason: reason, evidence: evidence, since: now, alertID: alert.id,
                               resumedBy: state.resumedBy, resumedAt: state.resumedAt, resumeReason: state.resumeReason)
            try tx.saveTrialState(state)
        }
        return [alert]
    }

    /// Bayesian and count rules on the subjects evaluable now.
    func monitoring(infusions: [String: ReportedPeriod], in tx: StoreTransaction) throws -> [Alert] {
        let toxicity = stopping.toxicity
        // Each subject's adverse events come from the transaction's per-subject cache: decoding the
        // whole trial's at every adverse-event file made the cost grow with the store.
        let evaluable = try toxicity.evaluable(infusions: infusions, now: now, zone: siteZone) { try tx.subjectHistory(subject: $0).adverseEvents }
        guard let decision = toxicity.stopDecision(evaluable) else { return [] }
        let toxic = evaluable.filter { $0.toxicity != nil }
        let evidence = evaluable.map { Evidence(label: $0.subject, value: $0.toxicity.map { "toxicity \($0)" } ?? "no toxicity by Day \(Int(toxicity.windowDays))", time: $0.evaluableAt, record: $0.toxicity) }
        // Keyed by the counts, so the same data never alerts twice and more toxicity alerts again.
        return try halt(rule: decision.rule, triggerKey: "\(toxic.count)/\(evaluable.count)", subject: nil,
                        records: toxic.compactMap(\.toxicity), reason: "Toxicity monitoring: \(decision.reason).", evidence: evidence, in: tx)
    }

    /// Reminders 24 h before a SUSAR report is due and once it is overdue, until it is reported.
    func clockReminders(in tx: StoreTransaction) throws -> [Alert] {
        var alerts: [Alert] = []
        for stored in try tx.susarClocks() where stored.reportedAt == nil {
            guard let kind = stored.clock.reminder(at: now) else { continue }
            let clock = stored.clock
            let hours = Int((clock.due.timeIntervalSince(now) / 3600).rounded())
            let alert = Alert(
                rule: "susar-clock", severity: .critical, subject: clock.subject, trial: configuration.trial.id,
                triggerKey: "\(clock.adverseEvent)|\(kind)", records: [clock.adverseEvent],
                value: kind == "overdue" ? "overdue by \(-hours) h" : "due in \(hours) h",
                title: kind == "overdue" ? "SUSAR \(clock.adverseEvent) report OVERDUE (\(clock.days)-day clock)" : "SUSAR \(clock.adverseEvent) report due within 24 h (\(clock.days)-day clock)",
                reason: "SUSAR awareness \(ISO8601DateFormatter().string(from: clock.aware)); expedited report due \(ISO8601DateFormatter().string(from: clock.due)) "
                    + "(\(clock.days) days: \(clock.days == 7 ? "fatal or life-threatening" : "other SUSAR"); ICH E2A, EU Regulation 536/2014 art. 42).",
                action: "Submit the expedited report, then: vigilctl ack ALERT_ID --reported",
                evidence: [Evidence(label: "aware", value: "day 0", time: clock.aware, record: clock.adverseEvent),
                           Evidence(label: "due", value: "day \(clock.days)", time: clock.due, record: nil)],
                raisedAt: now)
            if try tx.record(alert) { alerts.append(alert) }
        }
        return alerts
    }
}

extension String {
    func ifEmpty(_ replacement: String) -> String { isEmpty ? replacement : self }
}
