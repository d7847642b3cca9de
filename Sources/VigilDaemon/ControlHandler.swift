import Foundation
import Glibc
import Synchronization
import VigilCentral
import VigilConfig
import VigilControl
import VigilCore
import VigilOutbox
import VigilStore
import VigilSystemd

/// Answers control-socket requests from the store and the daemon state. Reads go through the
/// store's WAL readers, so they never wait for the ingest transaction.
public struct ControlHandler: Sendable {
    let store: VigilStore
    let state: DaemonState
    let journal: JournalWriter
    let outbox: Outbox
    let clock: @Sendable () -> Date
    let reload: @Sendable () -> (ok: Bool, message: String)

    public init(store: VigilStore, state: DaemonState, journal: JournalWriter, outbox: Outbox, clock: @escaping @Sendable () -> Date,
                reload: @escaping @Sendable () -> (ok: Bool, message: String)) {
        self.store = store
        self.state = state
        self.journal = journal
        self.outbox = outbox
        self.clock = clock
        self.reload = reload
    }

    public func handle(_ line: String, peer: PeerCredentials?) -> String {
        let request: ControlRequest
        switch ControlRequest.parse(line) {
        case .success(let parsed):
            request = parsed
        case .failure(let failure):
            // A privileged command is refused to an unauthorised peer before its arguments count.
            if let command = failure.command, ControlRequest.access(for: command) == .authorised, peer.flatMap(authorisedName) == nil {
                return denied(command)
            }
            return ControlReply.error(failure.message)
        }
        let command = request.command
        // The one permission check, against `ControlRequest.accessTable`.
        let authorised = peer.flatMap(authorisedName)
        if ControlRequest.access(for: command) == .authorised, authorised == nil { return denied(command) }
        let who = authorised ?? ""
        do {
            switch request {
            case .ping:
                return ControlReply.ok(PingReply(ok: true, pong: true, version: VigilVersion.string, pid: getpid()))
            case .status:
                return ControlReply.ok(try status())
            case .alerts(let openOnly, let limit):
                return try alerts(openOnly: openOnly, limit: limit)
            case .subjects:
                return try subjects()
            case .subject(let id):
                return try subject(id)
            case .rules:
                return try rules()
            case .report:
                return try report()
            case .trial:
                guard let central = state.central else {
                    return ControlReply.error("this site runs alone: the configuration has no central: section")
                }
                return ControlReply.ok(TrialReply(ok: true, overview: try Self.blocking { try await central.overview() }))
            case .acknowledge(let alertID, let reported, let by):
                return try acknowledge(alertID, reported: reported, by: by, who: who)
            case .resume(let by, let reason):
                if let central = state.central {
                    // A multi-site trial resumes everywhere or nowhere: the decision is the central daemon's.
                    guard central.database.settings.role == .central else {
                        return ControlReply.error("resuming is decided centrally: run vigilctl resume on the central daemon")
                    }
                    let now = clock()
                    let published = try Self.blocking { try await central.database.publishResume(by: "\(by) (\(who))", reason: reason, at: now) }
                    let local = try store.resumeTrial(by: "\(by) (\(who))", reason: reason, at: now)
                    guard published || local != nil else { return ControlReply.error("the trial is not halted") }
                    return ControlReply.ok(ActionReply(ok: true, message: "trial \(state.configuration.trial.id) RUNNING again at every site; resumed centrally by \(by) (\(who)): \(reason)"))
                }
                guard let resumed = try store.resumeTrial(by: "\(by) (\(who))", reason: reason, at: clock()) else {
                    return ControlReply.error("the trial is not halted")
                }
                return ControlReply.ok(ActionReply(ok: true, message: "trial \(state.configuration.trial.id) RUNNING again; resumed by \(resumed.resumedBy ?? by): \(resumed.resumeReason ?? "")"))
            case .reload:
                let result = reload()
                return result.ok ? ControlReply.ok(ActionReply(ok: true, message: result.message)) : ControlReply.error(result.message)
            case .silence(let target, let minutes, let reason):
                return try silence(target, minutes: minutes, reason: reason, who: who)
            case .silences:
                return ControlReply.ok(SilencesReply(ok: true, silences: try store.activeSilences(at: clock())))
            case .backup(let path):
                try store.backup(to: path)
                return ControlReply.ok(ActionReply(ok: true, message: "store backed up to \(path) (SQLite online backup, consistent as of \(ISO8601DateFormatter().string(from: clock())))"))
            case .replay(let configPath, let since):
                let candidate: VigilConfiguration
                do {
                    candidate = try VigilConfiguration.load(path: configPath)
                } catch {
                    return ControlReply.error("replay: candidate configuration refused: \(error)")
                }
                return ControlReply.ok(try Replay(live: store, current: state.configuration, candidate: candidate).run(since: since))
            }
        } catch {
            return ControlReply.error("\(command) failed: \(error)")
        }
    }

    func status() throws -> StatusReport {
        let now = clock()
        let configuration = state.configuration
        let stats = try store.statistics()
        let backlog = outbox.backlog(now: now)
        let relayState = MailRelay.loadState(outbox: outbox)
        let degraded = state.degradedReasons.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        var open: [String: Int] = [:]
        for severity in Severity.allCases { open[severity.rawValue] = stats.openAlerts[severity] ?? 0 }
        let journalReachable = journal.isReachable ?? FileManager.default.fileExists(atPath: JournalWriter.socketPath)
        let trialState = try store.trialState()
        let oldest = try store.oldestUnacknowledged().map { item in
            UnacknowledgedAlert(id: item.alert.id, severity: item.alert.severity.rawValue, rule: item.alert.rule, subject: item.alert.subject ?? "trial",
                                raisedAt: item.alert.raisedAt, ageSeconds: max(0, now.timeIntervalSince(item.alert.raisedAt)))
        }
        return StatusReport(
            ok: true, version: VigilVersion.string, pid: getpid(), uptimeSeconds: now.timeIntervalSince(state.startedAt),
            configPath: state.configPath, configDigest: configuration.digest, lastReloadError: state.lastReloadError,
            trial: .init(id: configuration.trial.id, state: trialState.phase.rawValue,
                         reason: trialState.phase == .halted ? "\(trialState.rule ?? "?"): \(trialState.reason ?? "") since \(trialState.since.map { ISO8601DateFormatter().string(from: $0) } ?? "?")" : nil,
                         origin: trialState.phase == .halted ? trialState.origin : nil),
            state: degraded.isEmpty ? "ok" : "degraded", degraded: degraded,
            inboxBacklog: InboxWatcher.scan(directory: configuration.directories.inbox).count,
            lastFileAt: stats.lastFileAt, busySeconds: state.busyFor(now: now),
            records: .init(applied: stats.recordsApplied, rejected: stats.recordsRejected, stored: stats.storedRecords,
                           files: stats.files, filesRejected: stats.filesRejected),
            openAlerts: open, oldestUnacknowledged: oldest, subjectsWithActiveSignals: stats.subjectsWithActiveSignals,
            outbox: .init(backlog: backlog.count, oldestAgeSeconds: backlog.oldestAgeSeconds, failing: relayState.count,
                          lastRelayError: relayState.values.max { $0.nextAttempt < $1.nextAttempt }?.lastError),
            journal: .init(reachable: journalReachable, detail: journalReachable ? nil : (journal.lastError ?? "no journal socket at \(JournalWriter.socketPath)"),
                           pendingEntries: stats.undeliveredJournal),
            store: .init(path: store.path, bytes: store.sizeOnDisk()), pipelineCost: state.pipelineCost,
            central: state.central.map { central in
                let link = central.state
                return .init(site: central.database.settings.siteID, role: central.database.settings.role.rawValue, reachable: link.reachable,
                             backlog: link.backlog, lastContact: link.lastContact, lastError: link.lastError)
            })
    }

    func subjects() throws -> String {
        let entries = try store.subjects().map { subject in
            SubjectsReply.Entry(subject: subject, activeSignals: try store.signalStates(subject: subject).filter { $0.severity != nil }.map(\.rule))
        }
        return ControlReply.ok(SubjectsReply(ok: true, subjects: entries))
    }

    /// Scores as of now, with the configured freshness windows: what the on-call person needs to
    /// see is what Vigil can say about the subject at this moment, and what it cannot.
    func subject(_ id: String) throws -> String {
        let configuration = state.configuration
        guard (try? configuration.ingestOptions().isValidSubject(id)) == true else {
            return ControlReply.error("'\(id.prefix(40))' is not a trial subject id")
        }
        let now = clock()
        let inputs = try store.subjectInputs(subject: id, asOf: now)
        guard !inputs.latest.isEmpty || !inputs.events.isEmpty || !inputs.adverseEvents.isEmpty else {
            return ControlReply.error("no record for subject \(id)")
        }
        let snapshot = Evaluator(configuration: configuration, now: now).snapshot(subject: id, asOf: now, inputs: inputs)
        let view = { (result: ScoreResult, note: String?) in
            SubjectReply.Score(
                name: result.name, total: result.total, complete: result.isComplete,
                components: result.components.map { c in
                    SubjectReply.Component(name: c.name, value: c.value, points: c.points, time: c.time,
                                           ageSeconds: c.time.map { now.timeIntervalSince($0) }, record: c.record)
                }, missing: result.missing, note: note)
        }
        let scorten = SCORTEN.evaluate(snapshot)
        let scores = [
            view(NEWS2.evaluate(snapshot), snapshot.hypercapnic ? "SpO2 scale 2 (hypercapnic)" : nil),
            view(QSOFA.evaluate(snapshot), nil), view(SIRS.evaluate(snapshot), nil), view(SOFAScore.evaluate(snapshot), nil),
            view(scorten, scorten.isComplete
                ? "predicted mortality \(String(format: "%.1f", SCORTEN.predictedMortality(score: scorten.total) * 100)) % (Bastuji-Garin 2000)"
                : "predicted mortality needs all seven factors"),
        ]
        let signals = try store.signalStates(subject: id).compactMap { state in
            state.severity.map { SubjectReply.Signal(rule: state.rule, severity: $0.rawValue, since: state.since, alertId: state.alertID) }
        }
        return ControlReply.ok(SubjectReply(
            ok: true, subject: id, asOf: now, latestDataAt: inputs.latest.values.map(\.time).max(), scores: scores,
            sofaBaseline: try store.fact(SOFABaseline.self, subject: id, key: "sofa_baseline")?.value, signals: signals))
    }

    /// The peer's name when it may acknowledge and resume: root, the daemon's own user, or a member
    /// of `control.authorised_groups` (checked through SO_PEERCRED and the group database).
    func authorisedName(_ peer: PeerCredentials) -> String? {
        let name = getpwuid(peer.uid).map { String(cString: $0.pointee.pw_name) } ?? "uid \(peer.uid)"
        if peer.uid == 0 || peer.uid == getuid() { return name }
        for group in state.configuration.authorisedGroups {
            guard let entry = getgrnam(group) else { continue }
            if entry.pointee.gr_gid == peer.gid { return name }
            var member = entry.pointee.gr_mem
            while let pointer = member?.pointee {
                if String(cString: pointer) == name { return name }
                member = member?.advanced(by: 1)
            }
        }
        return nil
    }

    func denied(_ command: String) -> String {
        ControlReply.error("access denied: \(command) needs root or a member of \(state.configuration.authorisedGroups.joined(separator: ", "))")
    }

    /// `ack`, its arguments checked by `ControlRequest.parse`.
    func acknowledge(_ id: String, reported: Bool, by: String?, who: String) throws -> String {
        let person = by.map { "\($0) (\(who))" } ?? who
        guard let result = try store.acknowledge(alertID: id, by: person, at: clock(), reported: reported) else {
            return ControlReply.error("no alert \(id)")
        }
        if reported, result.clockReported == nil { return ControlReply.error("alert \(id) acknowledged by \(person), but it belongs to no open SUSAR clock") }
        return ControlReply.ok(ActionReply(ok: true, message: "alert \(id) acknowledged by \(person)" + (result.clockReported.map { "; SUSAR \($0) marked reported" } ?? "")))
    }

    /// `silence TARGET MINUTES REASON…`: holds mail for a rule or a subject (the journal still gets
    /// every alert); the silence itself is written to the journal.
    func silence(_ target: String, minutes: Double, reason: String, who: String) throws -> String {
        let knownRule = RuleFamily.family(of: target) != "other" || ["lactate", "data-quality", "susar-clock"].contains(target)
        guard knownRule || (try? state.configuration.ingestOptions().isValidSubject(target)) == true else {
            return ControlReply.error("'\(target.prefix(40))' is neither a rule id nor a trial subject id")
        }
        let now = clock()
        let silence = Silence(id: "S" + String(UUID().uuidString.prefix(8)).lowercased(), matcher: target, startsAt: now,
                              endsAt: now.addingTimeInterval(minutes * 60), reason: reason, createdBy: who)
        try store.addSilence(silence)
        // The operator's words go through the same rendering rule as producer text (ProducerText).
        let shown = (who: ProducerText.visible(who), target: ProducerText.visible(target), reason: ProducerText.visible(silence.reason))
        journal.send([
            ("MESSAGE", "Vigil silence \(silence.id) by \(shown.who): no mail for \(shown.target) until \(ISO8601DateFormatter().string(from: silence.endsAt)) (\(shown.reason)); alerts still reach the journal"),
            ("PRIORITY", "5"), ("SYSLOG_IDENTIFIER", "vigild"), ("VIGIL_TRIAL", ProducerText.visible(state.configuration.trial.id)),
            ("VIGIL_SILENCE", silence.id), ("VIGIL_SILENCE_MATCHER", shown.target),
        ])
        return ControlReply.ok(ActionReply(ok: true, message: "silence \(silence.id): no mail for \(target) until \(ISO8601DateFormatter().string(from: silence.endsAt))"))
    }

    func rules() throws -> String {
        let stopping = state.configuration.stopping
        let t = stopping.toxicity
        let halts = stopping.haltRules.map {
            RulesReply.Halt(id: $0.id, description: $0.description, terms: $0.terms, termPattern: $0.termPattern, minimumGrade: $0.minimumGrade,
                            relatedAtLeast: $0.relatedAtLeast, windowHours: $0.windowHours, fatal: $0.requiresFatal, susar: $0.requiresSUSAR)
        }
        let toxicity = RulesReply.Toxicity(
            definition: "grade ≥ \(t.minimumGrade), causality ≥ \(t.relatedAtLeast), onset by Day \(ObservationValue.format(t.windowDays)) after infusion",
            priorA: t.bayesian.priorA, priorB: t.bayesian.priorB, maxToxicityRate: t.bayesian.maxToxicityRate,
            posteriorThreshold: t.bayesian.threshold, minimumEvaluable: t.bayesian.minimumEvaluable, enrolmentTarget: t.enrolmentTarget,
            countRules: t.countRules, boundaries: t.bayesian.boundaries(upTo: t.enrolmentTarget))
        return ControlReply.ok(RulesReply(ok: true, trialState: try store.trialState().phase.rawValue, haltRules: halts, toxicity: toxicity,
                                          susarClockDays: ["fatal or life-threatening": 7, "other": 15]))
    }

    func report() throws -> String {
        let configuration = state.configuration
        let now = clock()
        let zone = TimeZone(identifier: configuration.trial.siteTimeZone) ?? .gmt
        let infusions = try store.infusions().mapValues { $0.period(zone: zone) }
        let adverseEvents = try store.allAdverseEvents()
        let infused = infusions.keys.sorted()
        func rate(_ subjects: Set<String>) -> ReportReply.Rate {
            let within = subjects.filter { infusions[$0] != nil }.sorted()
            return .init(subjects: within, count: within.count, of: infused.count,
                         percent: infused.isEmpty ? nil : (Double(within.count) / Double(infused.count) * 1000).rounded() / 10)
        }
        // The stopping rules' window reading (ReportedPeriod): counted when some instant of the
        // reported period lies in the window the infusion opens.
        func within(_ period: ReportedPeriod?, of subject: String, days: Double) -> Bool {
            guard let period, let d0 = infusions[subject] else { return false }
            return d0.windowContains(period, seconds: days * 86400)
        }
        let primary = Set(adverseEvents.filter { within($0.onsetPeriod(zone: zone), of: $0.subject, days: 10) }.map(\.subject))
        let septicTerm = try Regex("(?i)(sepsis|septic)")
        let sepsis = try store.subjectsWithAlerts(rules: ["sofa-sepsis", "septic-shock"])
            .union(adverseEvents.filter { (try? septicTerm.firstMatch(in: $0.term)) != nil }.map(\.subject))
        let icu = Set(try store.events(kind: "icu_transfer").map(\.subject))
        let deaths = Set(try store.events(kind: "death").filter { within($0.period(zone: zone), of: $0.subject, days: 30) }.map(\.subject))
            .union(adverseEvents.filter { $0.isFatal && within($0.onsetPeriod(zone: zone), of: $0.subject, days: 30) }.map(\.subject))
        // SCORTEN on day 1 (the score's own definition): values of the first 24 h after the infusion day starts.
        var predicted = 0.0
        var complete: [String] = []
        var incomplete: [String] = []
        for subject in infused {
            let asOf = min(infusions[subject]!.start.addingTimeInterval(86400), now)
            let inputs = try store.subjectInputs(subject: subject, asOf: asOf)
            let score = SCORTEN.evaluate(Evaluator(configuration: configuration, now: now).snapshot(subject: subject, asOf: asOf, inputs: inputs))
            if score.isComplete {
                predicted += SCORTEN.predictedMortality(score: score.total)
                complete.append(subject)
            } else {
                incomplete.append(subject)
            }
        }
        let observedAmongComplete = deaths.intersection(complete).count
        let evaluable = configuration.stopping.toxicity.evaluable(infusions: infusions, adverseEvents: adverseEvents, now: now, zone: zone)
        let metrics = try store.metricInputs(infectionTerm: configuration.clinical.infectionTermPattern)
        return ControlReply.ok(ReportReply(
            ok: true, trial: configuration.trial.id, infused: infused.count, primarySafety: rate(primary), sepsis: rate(sepsis), icuTransfer: rate(icu),
            mortalityOneMonth: .init(observedDeaths: deaths.sorted(), predictedDeaths: (predicted * 100).rounded() / 100,
                                     subjectsWithCompleteScorten: complete.count, subjectsWithoutCompleteScorten: incomplete,
                                     observedOverPredicted: predicted > 0 ? (Double(observedAmongComplete) / predicted * 100).rounded() / 100 : nil),
            evaluableForToxicity: evaluable.count, toxicities: evaluable.filter { $0.toxicity != nil }.count,
            acknowledgement: AlertMetrics.acknowledgement(metrics.alerts), subjectDays: metrics.subjectDays,
            burden: AlertMetrics.burden(metrics.alerts, outcomes: metrics.outcomes, subjectDays: metrics.subjectDays)))
    }

    func alerts(openOnly: Bool, limit: Int) throws -> String {
        let list = try store.alerts(openOnly: openOnly, limit: limit).map { item in
            AlertSummary(
                id: item.alert.id, rule: item.alert.rule, severity: item.alert.severity.rawValue,
                subject: item.alert.subject ?? "trial", title: item.alert.title, value: item.alert.value,
                raisedAt: item.alert.raisedAt, journalAt: item.journalAt, outboxAt: item.outboxAt,
                ackedAt: item.ackedAt, ackedBy: item.ackedBy, resolvedAt: item.resolvedAt)
        }
        return ControlReply.ok(AlertsReply(ok: true, alerts: list))
    }
}

extension ControlHandler {
    /// A central query, from the control socket's own thread (the socket serves each connection on
    /// a thread; the PostgreSQL client is async). Gives up after 10 s, with the reason.
    static func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
        let result = Mutex<Result<T, any Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            let outcome: Result<T, any Error>
            do { outcome = .success(try await body()) } catch { outcome = .failure(error) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success, let outcome = result.withLock({ $0 }) else {
            throw CentralTimeout()
        }
        return try outcome.get()
    }
}

/// The central database did not answer a control request in time.
struct CentralTimeout: Error, CustomStringConvertible {
    var description: String { "the central database did not answer within 10 s" }
}
