import Foundation
import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization
import VigilConfig
import VigilControl
import VigilCore
import VigilStore

/// What the central tier looks like from this daemon, for `vigilctl status` and `vigilctl trial`.
public struct CentralLinkState: Sendable, Equatable {
    public var reachable = false
    public var lastError: String?
    public var lastContact: Date?
    public var backlog = 0
}

/// The site's (or the central daemon's) side of the trial-wide tier (docs/ARCHITECTURE.md §6), as a
/// service beside the inbox: every `poll_seconds` it sends the replication outbox to PostgreSQL,
/// publishes a halt decided here, follows the trial state (a halt decided elsewhere halts this site
/// too, with an alert; a central resume resumes it) and, on the central daemon, runs the pooled
/// rules. The site's own work never waits for it: with the network down the site runs alone and
/// catches up when it comes back.
public final class CentralService: Service, Sendable {
    public let database: CentralDatabase
    let store: VigilStore
    let configuration: @Sendable () -> VigilConfiguration
    let deliver: @Sendable () -> Void
    let clock: @Sendable () -> Date
    let logger: Logger
    let linkState = Mutex(CentralLinkState())

    public init(database: CentralDatabase, store: VigilStore, configuration: @escaping @Sendable () -> VigilConfiguration,
                clock: @escaping @Sendable () -> Date, logger: Logger, deliver: @escaping @Sendable () -> Void) {
        self.database = database
        self.store = store
        self.configuration = configuration
        self.deliver = deliver
        self.clock = clock
        self.logger = logger
    }

    public var state: CentralLinkState { linkState.withLock { $0 } }

    /// The name this daemon publishes its own halts under.
    var origin: String { database.settings.role == .central ? "central" : database.settings.siteID }

    public func run() async throws {
        try store.enableReplication(now: clock())
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.database.client.run() }
            group.addTask { await cancelWhenGracefulShutdown { await self.loop() } }
            await group.next()
            group.cancelAll()
        }
    }

    func loop() async {
        var migrated = false
        while !Task.isCancelled {
            do {
                if !migrated {
                    try await database.migrate()
                    migrated = true
                }
                // The client waits for a connection as long as the server is away: a round that
                // takes too long is given up, so `status` says the tier is unreachable.
                try await Self.withTimeout(seconds: max(5, database.settings.pollSeconds * 4)) { try await self.cycle() }
                linkState.withLock {
                    if !$0.reachable { logger.notice("central database reachable: \(database.settings.host):\(database.settings.port)") }
                    $0.reachable = true
                    $0.lastError = nil
                    $0.lastContact = clock()
                }
            } catch is CancellationError {
                return
            } catch {
                let text = String(describing: error)
                linkState.withLock {
                    if $0.reachable || $0.lastError == nil { logger.warning("central database unreachable, this site keeps working alone: \(text)") }
                    $0.reachable = false
                    $0.lastError = text
                }
            }
            try? await Task.sleep(for: .milliseconds(Int(database.settings.pollSeconds * 1000)))
        }
    }

    /// `body`, cancelled after `seconds` (a lease of a connection is cancellable; a query on a
    /// connection whose server went away fails by itself).
    static func withTimeout<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int(seconds * 1000)))
                throw CentralUnanswered(seconds: seconds)
            }
            defer { group.cancelAll() }
            guard let first = try await group.next() else { throw CentralUnanswered(seconds: seconds) }
            return first
        }
    }

    /// One round: replicate, publish, follow, and on the central daemon evaluate.
    public func cycle() async throws {
        try await replicate()
        if database.settings.role == .central { try await evaluatePooled() }
        try await followTrialState()
    }

    func replicate() async throws {
        while true {
            let (records, through, remaining) = try store.replicationBatch(limit: database.settings.batchSize)
            guard let through else { break }
            try await database.push(site: database.settings.siteID, records: records, through: through, backlog: remaining)
            // Committed centrally: only now is it forgotten here. A crash before this line sends the
            // batch again, which the central rows' sequence numbers make a no-op.
            try store.acknowledgeReplication(through: through)
            linkState.withLock { $0.backlog = remaining }
        }
        try await database.heartbeat(site: database.settings.siteID, backlog: 0)
        linkState.withLock { $0.backlog = 0 }
    }

    /// Publishes a halt decided here; follows a halt decided elsewhere and a central resume.
    func followTrialState() async throws {
        let decision = try await database.trialState()
        let central = decision.state
        let local = try store.trialState()
        let now = clock()
        if local.phase == .halted, local.origin == nil, let since = local.since, central.phase == .running,
           (central.resumedAt ?? .distantPast) < since {
            if try await database.publishHalt(origin: origin, rule: local.rule ?? "halt", reason: local.reason ?? "", since: since) {
                logger.notice("trial halt published to every site: \(local.rule ?? "halt")")
            }
            return
        }
        if central.phase == .halted, local.phase == .running, central.origin != origin, let since = central.since,
           (local.resumedAt ?? .distantPast) < since {
            let trial = configuration().trial.id
            let where_ = central.origin == "central" ? "the central pooled rules" : "site \(central.origin ?? "?")"
            let reason = "Halted by \(where_): \(central.reason ?? central.rule ?? "")"
            let alert = Alert(
                rule: central.rule ?? "halt", severity: .halt, subject: nil, trial: trial, triggerKey: "remote:\(central.origin ?? "?"):\(decision.version)",
                records: [], value: "trial halted at \(central.origin ?? "?")",
                title: "TRIAL \(trial) HALTED by \(where_)",
                reason: reason,
                action: "Stop enrolment and infusions at this site now. Resuming is decided centrally: vigilctl resume on the central daemon.",
                evidence: [Evidence(label: "decided by", value: central.origin ?? "?", time: since, record: nil),
                           Evidence(label: "rule", value: central.rule ?? "?", time: nil, record: nil)],
                raisedAt: now)
            if try store.applyRemoteHalt(alert, origin: central.origin ?? "?", reason: reason, since: since) {
                logger.notice("trial halted by \(where_) (\(central.rule ?? "?"))")
                deliver()
            }
            return
        }
        if central.phase == .running, local.phase == .halted, let resumedAt = central.resumedAt, resumedAt >= (local.since ?? .distantPast) {
            if try store.resumeTrial(by: "central: \(central.resumedBy ?? "?")", reason: central.resumeReason ?? "", at: resumedAt) != nil {
                logger.notice("trial resumed centrally by \(central.resumedBy ?? "?")")
            }
        }
    }

    /// The central daemon's pooled rules: a stop decision over every site's subjects halts the
    /// trial here (alert through the journal and the outbox) and, through the trial state, at
    /// every site.
    func evaluatePooled() async throws {
        let configuration = configuration()
        let zone = TimeZone(identifier: configuration.trial.siteTimeZone) ?? .gmt
        let now = clock()
        let evaluation = PooledMonitoring(monitoring: configuration.stopping.toxicity, zone: zone).evaluate(try await database.pooledRecords(), now: now)
        guard let decision = evaluation.decision else { return }
        let toxic = evaluation.evaluable.filter { $0.toxicity != nil }
        let alert = Alert(
            rule: decision.rule, severity: .halt, subject: nil, trial: configuration.trial.id,
            triggerKey: "pooled \(toxic.count)/\(evaluation.evaluable.count)", records: toxic.compactMap(\.toxicity),
            value: "trial halted (pooled over \(evaluation.perSite.count) sites)",
            title: "TRIAL \(configuration.trial.id) HALTED: pooled toxicity monitoring, all sites",
            reason: "Toxicity monitoring over every site's subjects: \(decision.reason).",
            action: "Stop enrolment and infusions at every site; inform the sponsor and the DSMB per protocol. Resuming: vigilctl resume here (authorised group).",
            evidence: evaluation.evaluable.map {
                Evidence(label: $0.subject, value: $0.toxicity.map { "toxicity \($0)" } ?? "no toxicity by Day \(Int(configuration.stopping.toxicity.windowDays))",
                         time: $0.evaluableAt, record: $0.toxicity)
            },
            raisedAt: now)
        let halted = try store.transaction { tx -> Bool in
            guard try tx.record(alert) else { return false }
            var state = try tx.trialState()
            if state.phase == .running {
                state = TrialState(phase: .halted, rule: decision.rule, reason: alert.reason, evidence: alert.evidence, since: now, alertID: alert.id,
                                   resumedBy: state.resumedBy, resumedAt: state.resumedAt, resumeReason: state.resumeReason)
                try tx.saveTrialState(state)
            }
            return true
        }
        if halted {
            logger.notice("pooled rule \(decision.rule): \(decision.reason)")
            deliver()
        }
    }

    /// `vigilctl trial`: per site and pooled.
    public func overview() async throws -> TrialOverview {
        let configuration = configuration()
        let zone = TimeZone(identifier: configuration.trial.siteTimeZone) ?? .gmt
        async let sites = database.sites()
        async let records = database.pooledRecords()
        async let central = database.trialState()
        let now = clock()
        let evaluation = PooledMonitoring(monitoring: configuration.stopping.toxicity, zone: zone).evaluate(try await records, now: now)
        return TrialOverview(
            trial: configuration.trial.id, state: try await central,
            sites: try await sites.map { site in
                let counts = evaluation.perSite[site.site] ?? .init(subjects: 0, infused: 0, evaluable: 0, toxicities: 0)
                return TrialOverview.Site(site: site.site, counts: counts, records: site.records, backlog: site.backlog,
                                          lastContact: site.lastContact, secondsSinceContact: site.lastContact.map { now.timeIntervalSince($0) })
            },
            pooled: evaluation.pooled, posterior: evaluation.posterior, decision: evaluation.decision?.rule)
    }
}

/// The central database did not answer a round in time.
struct CentralUnanswered: Error, CustomStringConvertible {
    var seconds: Double
    var description: String { "no answer within \(Int(seconds)) s" }
}

extension TrialOverview {
    init(trial: String, state: CentralTrialState, sites: [Site], pooled: PooledMonitoring.Counts, posterior: Double, decision: String?) {
        self.init(trial: trial, phase: state.state.phase.rawValue, origin: state.state.origin, rule: state.state.rule, sites: sites,
                  pooled: pooled, posterior: posterior, decision: decision)
    }
}
