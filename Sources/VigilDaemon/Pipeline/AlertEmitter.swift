import Foundation
import Glibc
import Logging
import Synchronization
import VigilControl
import VigilCore
import VigilOutbox
import VigilStore
import VigilSystemd

/// Stage 5 of a file's trip (docs/ARCHITECTURE.md §1), deliver: sends ledger alerts to their two
/// destinations, journal and outbox, as `DeliveryPolicy` decides, and marks each delivery in
/// the store. An alert interrupted by a crash is finished on the next pass: the outbox is keyed by
/// alert id, and the journal is searched for the alert id before a resend, so neither gets it twice.
public final class AlertEmitter: Sendable {
    let store: VigilStore
    let journal: JournalWriter
    let outbox: Outbox
    let state: DaemonState
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Set when a pass could not record its deliveries in the ledger: the next pass then checks the
    /// journal before sending, as after a crash, so an entry already there is not sent twice.
    let unrecordedDeliveries = Mutex(false)
    /// Delivery passes run here, one at a time, whichever thread asks for them: two passes at once
    /// could both find the same alert pending and send it twice.
    let deliveryQueue = DispatchQueue(label: "vigil.delivery")
    /// A `deliverPendingSoon` pass is queued and has not started: a further request is that pass.
    let passQueued = Atomic(false)

    public init(store: VigilStore, journal: JournalWriter, outbox: Outbox, state: DaemonState, logger: Logger, clock: @escaping @Sendable () -> Date) {
        self.store = store
        self.journal = journal
        self.outbox = outbox
        self.state = state
        self.logger = logger
        self.clock = clock
    }

    /// Delivers every pending alert. `recovering` is true after a start-up, when an alert may have
    /// reached journald just before the previous process died without the ledger knowing; a pass
    /// after one that could not record its deliveries checks the journal the same way.
    ///
    /// Escalation is driven by the clock, not by files: only a timed pass (`escalating`, the
    /// watcher's tick and the start-up pass) looks for unacknowledged alerts past
    /// `mail.escalation.after_minutes`, so a file's pass costs nothing for it. The tick's interval
    /// is the most an escalation waits past its due time.
    public func deliverPending(recovering restarted: Bool = false, escalating: Bool = false) {
        deliveryQueue.sync { deliveryPass(recovering: restarted, escalating: escalating || restarted) }
    }

    /// Delivers every pending alert on the delivery thread, without waiting, then reports what the
    /// pass cost to `done`. A backlog's transaction asks for this, so that the next one is applied
    /// while its alerts go out instead of after them (the pass's fsyncs and ledger write would
    /// otherwise hold up the writing thread). Nothing changes for the alerts: they are in the ledger
    /// already, a pass delivers everything pending when it starts, and passes run one at a time; a
    /// request made while one is still queued is that pass. After a crash the start-up pass finishes
    /// what was pending, as for any pass. `deliverPending` waits for a pass still queued or running.
    public func deliverPendingSoon(done: @escaping @Sendable (PipelineCost.Stage) -> Void) {
        guard !passQueued.exchange(true, ordering: .acquiringAndReleasing) else { return }
        deliveryQueue.async { [self] in
            passQueued.store(false, ordering: .releasing)
            let timer = StageTimer()
            deliveryPass(recovering: false, escalating: false)
            done(timer.elapsed)
        }
    }

    private func deliveryPass(recovering restarted: Bool, escalating: Bool) {
        let recovering = restarted || unrecordedDeliveries.withLock { $0 }
        let pending: [StoredAlert]
        do {
            pending = try store.undeliveredAlerts()
        } catch {
            logger.error("cannot read the alert ledger: \(error)")
            state.setDegraded("store", "alert ledger unreadable: \(error)")
            return
        }
        let mail = AlertMail(configuration: state.configuration)
        if restarted, !pending.isEmpty {
            logger.notice("recovery: \(pending.count) alert(s) not fully delivered before the last stop; finishing them")
        }
        if recovering, pending.contains(where: { $0.journalAt == nil }) { journalBarrier(pending: pending.count) }
        var journalFailed = false
        var outboxFailure: String?
        // Read only when an alert may be mailed: most passes of a backlog have none.
        let silences = pending.contains { $0.alert.phase == .raised && $0.outboxAt == nil } ? (try? store.activeSilences(at: clock())) ?? [] : []
        // What this pass delivered, recorded in the ledger together at its end.
        var journalled: [String] = []
        var mailed: [Alert] = []
        var held: [(id: String, reason: String)] = []
        for item in pending {
            let alert = item.alert
            let hold = alert.phase == .raised && item.outboxAt == nil ? mailHold(alert, silences: silences, mailedInThisPass: mailed) : nil
            if item.journalAt == nil, !journalFailed {
                let alreadyThere = recovering
                    && JournalReader.contains([(field: "VIGIL_ALERT_ID", value: alert.id), (field: "VIGIL_INSTANCE", value: store.instanceID)]) == true
                if alreadyThere { logger.notice("recovery: alert \(alert.id) was already in the journal; not sent again") }
                var fields = alert.journalFields(timeZone: mail.timeZone, instance: store.instanceID)
                if alert.phase == .raised { fields.append(("VIGIL_MAIL", hold ?? "sent")) }
                if alreadyThere || journal.send(fields) {
                    journalled.append(alert.id)
                } else {
                    // journald is down: keep the remaining entries queued in the ledger, in order.
                    journalFailed = true
                }
            }
            if let hold {
                logger.notice("alert \(alert.id): no mail (\(hold)); the journal has it")
                held.append((alert.id, hold))
            } else if alert.phase == .raised, item.outboxAt == nil {
                do {
                    try outbox.deliver(alertID: alert.id, message: mail.render(alert))
                    mailed.append(alert)
                } catch {
                    outboxFailure = "\(error)"
                    logger.error("outbox write failed for alert \(alert.id): \(error)")
                }
            }
        }
        record(journalled: journalled, mailed: mailed, held: held)
        if escalating, !journalFailed { escalate(mail) }
        state.setDegraded("journal", journalFailed ? (journal.lastError ?? "journal unreachable") : nil)
        state.setDegraded("outbox", outboxFailure.map { "outbox write failed: \($0)" })
    }

    /// The delivery policy in force (`mail.repeat_interval_minutes`, `mail.escalation.after_minutes`).
    var policy: DeliveryPolicy {
        let mail = state.configuration.mail
        return DeliveryPolicy(repeatInterval: mail.repeatInterval, escalateAfter: mail.escalateAfter)
    }

    /// Why an alert's mail must be held, as `DeliveryPolicy` decides; nil: send. This gathers the
    /// facts: the first matching silence, and earlier mail of the same rule and subject (the ledger
    /// knows the mails of earlier passes; those of this pass are recorded at its end).
    func mailHold(_ alert: Alert, silences: [Silence], mailedInThisPass: [Alert]) -> String? {
        let silence = silences.first { $0.matches(alert) }.map { DeliveryPolicy.SilenceInForce(id: $0.id, until: $0.endsAt, reason: $0.reason) }
        let decision = policy.mail(alert, silence: silence) { interval in
            mailedInThisPass.contains { $0.rule == alert.rule && $0.subject == alert.subject && $0.id != alert.id && $0.severity >= alert.severity }
                || (try? store.recentlyNotified(alert, within: interval, before: clock())) == true
        }
        switch decision {
        case .send: return nil
        case .hold(let reason): return reason
        }
    }

    /// Re-notifies unacknowledged critical and halt alerts to the escalation list, once each.
    func escalate(_ mail: AlertMail) {
        let now = clock()
        guard !mail.escalationRecipients.isEmpty,
              let due = try? store.alertsToEscalate(raisedBefore: policy.escalationCutoff(now: now))
        else { return }
        let silences = (try? store.activeSilences(at: now)) ?? []
        for item in due where policy.isDueForEscalation(severity: item.alert.severity, raisedAt: item.alert.raisedAt, now: now)
            && !silences.contains(where: { $0.matches(item.alert) }) {
            let alert = item.alert
            let minutes = Int(now.timeIntervalSince(alert.raisedAt) / 60)
            do {
                try outbox.deliver(alertID: "\(alert.id)-escalation", message: mail.renderEscalation(alert, unacknowledgedFor: minutes, at: now))
                let matches = [(field: "VIGIL_ALERT_ID", value: alert.id), (field: "VIGIL_PHASE", value: "escalated"), (field: "VIGIL_INSTANCE", value: store.instanceID)]
                if JournalReader.contains(matches) != true {
                    var fields = alert.journalFields(timeZone: mail.timeZone, instance: store.instanceID)
                    fields = fields.map { $0.0 == "VIGIL_PHASE" ? ("VIGIL_PHASE", "escalated") : $0.0 == "MESSAGE" ? ("MESSAGE", "ESCALATED after \(minutes) min unacknowledged to \(mail.escalationRecipients.joined(separator: ", ")): " + $0.1) : $0 }
                    guard journal.send(fields) else { return }
                }
                try store.markEscalated(alert.id, at: now)
                logger.warning("alert \(alert.id) unacknowledged for \(minutes) min: escalated to \(mail.escalationRecipients.joined(separator: ", "))")
            } catch {
                logger.error("escalation of alert \(alert.id) failed, will retry: \(error)")
            }
        }
    }

    /// Before asking the journal whether an alert already reached it, make sure journald has read
    /// everything the previous process sent: journald reads its socket in order, so once an entry
    /// sent now is visible, every earlier datagram has been stored too.
    private func journalBarrier(pending: Int) {
        let marker = UUID().uuidString
        guard journal.send([
            ("MESSAGE", "vigild: recovering after an unclean stop; checking \(pending) undelivered alert(s) against the journal"),
            ("PRIORITY", "5"), ("SYSLOG_IDENTIFIER", "vigild"), ("VIGIL_RECOVERY_MARKER", marker),
        ]) else { return }
        let deadline = clock().addingTimeInterval(5)
        while clock() < deadline {
            if JournalReader.contains(field: "VIGIL_RECOVERY_MARKER", value: marker) == true { return }
            usleep(10_000)
        }
        logger.warning("journal recovery marker not visible after 5 s; checking pending alerts anyway")
    }

    /// Records a pass's deliveries in one transaction. If that fails, the deliveries stay pending in the
    /// ledger, and the next pass checks the journal first (`unrecordedDeliveries`); the outbox is keyed
    /// by alert id, so neither destination gets an alert twice.
    private func record(journalled: [String], mailed: [Alert], held: [(id: String, reason: String)]) {
        guard !journalled.isEmpty || !mailed.isEmpty || !held.isEmpty else { return }
        do {
            try store.markDelivered(journal: journalled, outbox: mailed.map(\.id), held: held, at: clock())
            unrecordedDeliveries.withLock { $0 = false }
        } catch {
            unrecordedDeliveries.withLock { $0 = true }
            logger.error("cannot record \(journalled.count + mailed.count + held.count) delivery(ies) in the alert ledger: \(error); the next pass checks the journal before sending")
        }
    }
}
