import Foundation
import VigilCore

// The JSON documents exchanged over the control socket (docs/ARCHITECTURE.md §3.4): the daemon
// encodes them and `vigilctl` decodes the same types. `ControlReply` says how they are encoded.

/// Reply to `ping`.
public struct PingReply: Codable, Sendable {
    public var ok: Bool
    public var pong: Bool
    public var version: String
    public var pid: Int32

    public init(ok: Bool, pong: Bool, version: String, pid: Int32) {
        self.ok = ok
        self.pong = pong
        self.version = version
        self.pid = pid
    }
}

/// Reply to `status` (docs/ARCHITECTURE.md §3.4).
public struct StatusReport: Codable, Sendable {
    /// Trial state: running, or halted with the reason.
    public struct Trial: Codable, Sendable {
        public var id: String
        public var state: String
        public var reason: String?
        /// Where a halt was decided when not here: a site id, or `central`.
        public var origin: String?

        public init(id: String, state: String, reason: String? = nil, origin: String? = nil) {
            self.id = id
            self.state = state
            self.reason = reason
            self.origin = origin
        }
    }

    /// The link to the central tier (`central:`), when configured.
    public struct CentralState: Codable, Sendable {
        public var site: String
        public var role: String
        public var reachable: Bool
        /// Changes not yet replicated.
        public var backlog: Int
        public var lastContact: Date?
        public var lastError: String?

        public init(site: String, role: String, reachable: Bool, backlog: Int, lastContact: Date? = nil, lastError: String? = nil) {
            self.site = site
            self.role = role
            self.reachable = reachable
            self.backlog = backlog
            self.lastContact = lastContact
            self.lastError = lastError
        }
    }

    /// Record counters over all processed files.
    public struct Records: Codable, Sendable {
        public var applied: Int
        public var rejected: Int
        public var stored: Int
        public var files: Int
        public var filesRejected: Int

        public init(applied: Int, rejected: Int, stored: Int, files: Int, filesRejected: Int) {
            self.applied = applied
            self.rejected = rejected
            self.stored = stored
            self.files = files
            self.filesRejected = filesRejected
        }
    }

    /// Mail waiting for the relay.
    public struct OutboxState: Codable, Sendable {
        public var backlog: Int
        public var oldestAgeSeconds: Double?
        /// Messages the relay failed to send and is retrying, with the last error.
        public var failing: Int
        public var lastRelayError: String?

        public init(backlog: Int, oldestAgeSeconds: Double? = nil, failing: Int, lastRelayError: String? = nil) {
            self.backlog = backlog
            self.oldestAgeSeconds = oldestAgeSeconds
            self.failing = failing
            self.lastRelayError = lastRelayError
        }
    }

    /// Whether journald takes Vigil's entries.
    public struct JournalState: Codable, Sendable {
        public var reachable: Bool
        public var detail: String?
        public var pendingEntries: Int

        public init(reachable: Bool, detail: String? = nil, pendingEntries: Int) {
            self.reachable = reachable
            self.detail = detail
            self.pendingEntries = pendingEntries
        }
    }

    /// The SQLite store.
    public struct StoreState: Codable, Sendable {
        public var path: String
        public var bytes: Int64

        public init(path: String, bytes: Int64) {
            self.path = path
            self.bytes = bytes
        }
    }

    public var ok: Bool
    public var version: String
    public var pid: Int32
    public var uptimeSeconds: Double
    public var configPath: String
    public var configDigest: String
    public var lastReloadError: String?
    public var trial: Trial
    public var state: String
    public var degraded: [String]
    public var inboxBacklog: Int
    public var lastFileAt: Date?
    public var busySeconds: Double?
    public var records: Records
    public var openAlerts: [String: Int]
    /// The oldest critical or halt alert nobody has acknowledged, and how long it has waited.
    public var oldestUnacknowledged: UnacknowledgedAlert?
    public var subjectsWithActiveSignals: [String]
    public var outbox: OutboxState
    public var journal: JournalState
    public var store: StoreState
    /// Where the ingest pipeline's time has gone since start-up (optional for replies of older daemons).
    public var pipelineCost: PipelineCost?
    public var central: CentralState?

    public init(ok: Bool, version: String, pid: Int32, uptimeSeconds: Double, configPath: String, configDigest: String, lastReloadError: String? = nil, trial: Trial, state: String, degraded: [String], inboxBacklog: Int, lastFileAt: Date? = nil, busySeconds: Double? = nil, records: Records, openAlerts: [String: Int], oldestUnacknowledged: UnacknowledgedAlert? = nil, subjectsWithActiveSignals: [String], outbox: OutboxState, journal: JournalState, store: StoreState, pipelineCost: PipelineCost? = nil, central: CentralState? = nil) {
        self.ok = ok
        self.version = version
        self.pid = pid
        self.uptimeSeconds = uptimeSeconds
        self.configPath = configPath
        self.configDigest = configDigest
        self.lastReloadError = lastReloadError
        self.trial = trial
        self.state = state
        self.degraded = degraded
        self.inboxBacklog = inboxBacklog
        self.lastFileAt = lastFileAt
        self.busySeconds = busySeconds
        self.records = records
        self.openAlerts = openAlerts
        self.oldestUnacknowledged = oldestUnacknowledged
        self.subjectsWithActiveSignals = subjectsWithActiveSignals
        self.outbox = outbox
        self.journal = journal
        self.store = store
        self.pipelineCost = pipelineCost
        self.central = central
    }
}

/// The alert `status` puts first: critical or halt, not acknowledged, oldest.
public struct UnacknowledgedAlert: Codable, Sendable {
    public var id: String
    public var severity: String
    public var rule: String
    public var subject: String
    public var raisedAt: Date
    public var ageSeconds: Double

    public init(id: String, severity: String, rule: String, subject: String, raisedAt: Date, ageSeconds: Double) {
        self.id = id
        self.severity = severity
        self.rule = rule
        self.subject = subject
        self.raisedAt = raisedAt
        self.ageSeconds = ageSeconds
    }
}

/// One alert line for `alerts`.
public struct AlertSummary: Codable, Sendable {
    public var id: String
    public var rule: String
    public var severity: String
    public var subject: String
    public var title: String
    public var value: String
    public var raisedAt: Date
    public var journalAt: Date?
    public var outboxAt: Date?
    public var ackedAt: Date?
    public var ackedBy: String?
    public var resolvedAt: Date?

    public init(id: String, rule: String, severity: String, subject: String, title: String, value: String, raisedAt: Date, journalAt: Date? = nil, outboxAt: Date? = nil, ackedAt: Date? = nil, ackedBy: String? = nil, resolvedAt: Date? = nil) {
        self.id = id
        self.rule = rule
        self.severity = severity
        self.subject = subject
        self.title = title
        self.value = value
        self.raisedAt = raisedAt
        self.journalAt = journalAt
        self.outboxAt = outboxAt
        self.ackedAt = ackedAt
        self.ackedBy = ackedBy
        self.resolvedAt = resolvedAt
    }
}

/// Reply to `alerts`.
public struct AlertsReply: Codable, Sendable {
    public var ok: Bool
    public var alerts: [AlertSummary]

    public init(ok: Bool, alerts: [AlertSummary]) {
        self.ok = ok
        self.alerts = alerts
    }
}

/// Reply to `subject ID`: each score now, with its components, their ages and what is missing,
/// and the subject's active signals.
public struct SubjectReply: Codable, Sendable {
    /// One input of a score.
    public struct Component: Codable, Sendable {
        public var name: String
        public var value: String
        public var points: Int
        public var time: Date?
        public var ageSeconds: Double?
        public var record: String?

        public init(name: String, value: String, points: Int, time: Date? = nil, ageSeconds: Double? = nil, record: String? = nil) {
            self.name = name
            self.value = value
            self.points = points
            self.time = time
            self.ageSeconds = ageSeconds
            self.record = record
        }
    }

    /// One score as of now.
    public struct Score: Codable, Sendable {
        public var name: String
        public var total: Int
        public var complete: Bool
        public var components: [Component]
        public var missing: [String]
        public var note: String?

        public init(name: String, total: Int, complete: Bool, components: [Component], missing: [String], note: String? = nil) {
            self.name = name
            self.total = total
            self.complete = complete
            self.components = components
            self.missing = missing
            self.note = note
        }
    }

    /// One rule whose signal is on.
    public struct Signal: Codable, Sendable {
        public var rule: String
        public var severity: String
        public var since: Date?
        public var alertId: String?

        public init(rule: String, severity: String, since: Date? = nil, alertId: String? = nil) {
            self.rule = rule
            self.severity = severity
            self.since = since
            self.alertId = alertId
        }
    }

    public var ok: Bool
    public var subject: String
    public var asOf: Date
    public var latestDataAt: Date?
    public var scores: [Score]
    public var sofaBaseline: Int?
    public var signals: [Signal]

    public init(ok: Bool, subject: String, asOf: Date, latestDataAt: Date? = nil, scores: [Score], sofaBaseline: Int? = nil, signals: [Signal]) {
        self.ok = ok
        self.subject = subject
        self.asOf = asOf
        self.latestDataAt = latestDataAt
        self.scores = scores
        self.sofaBaseline = sofaBaseline
        self.signals = signals
    }
}

/// Reply to `subjects`.
public struct SubjectsReply: Codable, Sendable {
    /// A subject and its active signals.
    public struct Entry: Codable, Sendable {
        public var subject: String
        public var activeSignals: [String]

        public init(subject: String, activeSignals: [String]) {
            self.subject = subject
            self.activeSignals = activeSignals
        }
    }

    public var ok: Bool
    public var subjects: [Entry]

    public init(ok: Bool, subjects: [Entry]) {
        self.ok = ok
        self.subjects = subjects
    }
}

/// Reply to `rules`: every stopping rule with its parameters and the Bayesian boundary table.
public struct RulesReply: Codable, Sendable {
    /// One immediate-halt rule.
    public struct Halt: Codable, Sendable {
        public var id: String
        public var description: String
        public var terms: [String]
        public var termPattern: String?
        public var minimumGrade: Int?
        public var relatedAtLeast: String?
        public var windowHours: Double?
        public var fatal: Bool
        public var susar: Bool

        public init(id: String, description: String, terms: [String], termPattern: String? = nil, minimumGrade: Int? = nil, relatedAtLeast: String? = nil, windowHours: Double? = nil, fatal: Bool, susar: Bool) {
            self.id = id
            self.description = description
            self.terms = terms
            self.termPattern = termPattern
            self.minimumGrade = minimumGrade
            self.relatedAtLeast = relatedAtLeast
            self.windowHours = windowHours
            self.fatal = fatal
            self.susar = susar
        }
    }

    /// The toxicity definition and monitoring design.
    public struct Toxicity: Codable, Sendable {
        public var definition: String
        public var priorA: Double
        public var priorB: Double
        public var maxToxicityRate: Double
        public var posteriorThreshold: Double
        public var minimumEvaluable: Int
        public var enrolmentTarget: Int
        public var countRules: [ToxicityMonitoring.CountRule]
        public var boundaries: [BayesianToxicityMonitor.Boundary]

        public init(definition: String, priorA: Double, priorB: Double, maxToxicityRate: Double, posteriorThreshold: Double, minimumEvaluable: Int, enrolmentTarget: Int, countRules: [ToxicityMonitoring.CountRule], boundaries: [BayesianToxicityMonitor.Boundary]) {
            self.definition = definition
            self.priorA = priorA
            self.priorB = priorB
            self.maxToxicityRate = maxToxicityRate
            self.posteriorThreshold = posteriorThreshold
            self.minimumEvaluable = minimumEvaluable
            self.enrolmentTarget = enrolmentTarget
            self.countRules = countRules
            self.boundaries = boundaries
        }
    }

    public var ok: Bool
    public var trialState: String
    public var haltRules: [Halt]
    public var toxicity: Toxicity
    public var susarClockDays: [String: Int]

    public init(ok: Bool, trialState: String, haltRules: [Halt], toxicity: Toxicity, susarClockDays: [String: Int]) {
        self.ok = ok
        self.trialState = trialState
        self.haltRules = haltRules
        self.toxicity = toxicity
        self.susarClockDays = susarClockDays
    }
}

/// Reply to `report`: the trial's safety endpoints from the store.
public struct ReportReply: Codable, Sendable {
    /// A count over the infused subjects.
    public struct Rate: Codable, Sendable {
        public var subjects: [String]
        public var count: Int
        public var of: Int
        public var percent: Double?

        public init(subjects: [String], count: Int, of: Int, percent: Double? = nil) {
            self.subjects = subjects
            self.count = count
            self.of = of
            self.percent = percent
        }
    }

    /// Observed vs SCORTEN-predicted deaths at one month (secondary endpoint).
    public struct Mortality: Codable, Sendable {
        public var observedDeaths: [String]
        public var predictedDeaths: Double
        public var subjectsWithCompleteScorten: Int
        public var subjectsWithoutCompleteScorten: [String]
        public var observedOverPredicted: Double?

        public init(observedDeaths: [String], predictedDeaths: Double, subjectsWithCompleteScorten: Int, subjectsWithoutCompleteScorten: [String], observedOverPredicted: Double? = nil) {
            self.observedDeaths = observedDeaths
            self.predictedDeaths = predictedDeaths
            self.subjectsWithCompleteScorten = subjectsWithCompleteScorten
            self.subjectsWithoutCompleteScorten = subjectsWithoutCompleteScorten
            self.observedOverPredicted = observedOverPredicted
        }
    }

    public var ok: Bool
    public var trial: String
    public var infused: Int
    public var primarySafety: Rate
    public var sepsis: Rate
    public var icuTransfer: Rate
    public var mortalityOneMonth: Mortality
    public var evaluableForToxicity: Int
    public var toxicities: Int
    /// Time to acknowledge by severity (median and 90th percentile, minutes).
    public var acknowledgement: [AlertMetrics.AcknowledgementSummary]
    /// Subject-days observed, and alerts per subject-day by rule and severity with the confirmed share.
    public var subjectDays: Double
    public var burden: [AlertMetrics.BurdenRow]

    public init(ok: Bool, trial: String, infused: Int, primarySafety: Rate, sepsis: Rate, icuTransfer: Rate, mortalityOneMonth: Mortality, evaluableForToxicity: Int, toxicities: Int, acknowledgement: [AlertMetrics.AcknowledgementSummary], subjectDays: Double, burden: [AlertMetrics.BurdenRow]) {
        self.ok = ok
        self.trial = trial
        self.infused = infused
        self.primarySafety = primarySafety
        self.sepsis = sepsis
        self.icuTransfer = icuTransfer
        self.mortalityOneMonth = mortalityOneMonth
        self.evaluableForToxicity = evaluableForToxicity
        self.toxicities = toxicities
        self.acknowledgement = acknowledgement
        self.subjectDays = subjectDays
        self.burden = burden
    }
}

/// Reply to `ack` and `resume`.
public struct ActionReply: Codable, Sendable {
    public var ok: Bool
    public var message: String

    public init(ok: Bool, message: String) {
        self.ok = ok
        self.message = message
    }
}

/// Reply to `silences`.
public struct SilencesReply: Codable, Sendable {
    public var ok: Bool
    public var silences: [Silence]

    public init(ok: Bool, silences: [Silence]) {
        self.ok = ok
        self.silences = silences
    }
}
