import Foundation
import VigilCore
import VigilStore

// The JSON documents exchanged over the control socket; `vigilctl` decodes the same types.
// `ControlReply` (encoder, decoder, error reply) and `ErrorReply` are in VigilConfig, next to
// `ControlRequest`, so the control-socket fuzz target can check replies without building the daemon.

/// Reply to `ping`.
public struct PingReply: Codable, Sendable {
    public var ok: Bool
    public var pong: Bool
    public var version: String
    public var pid: Int32
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
    }

    /// Record counters over all processed files.
    public struct Records: Codable, Sendable {
        public var applied: Int
        public var rejected: Int
        public var stored: Int
        public var files: Int
        public var filesRejected: Int
    }

    /// Mail waiting for the relay.
    public struct OutboxState: Codable, Sendable {
        public var backlog: Int
        public var oldestAgeSeconds: Double?
        /// Messages the relay failed to send and is retrying, with the last error.
        public var failing: Int
        public var lastRelayError: String?
    }

    /// Whether journald takes Vigil's entries.
    public struct JournalState: Codable, Sendable {
        public var reachable: Bool
        public var detail: String?
        public var pendingEntries: Int
    }

    /// The SQLite store.
    public struct StoreState: Codable, Sendable {
        public var path: String
        public var bytes: Int64
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
}

/// The alert `status` puts first: critical or halt, not acknowledged, oldest.
public struct UnacknowledgedAlert: Codable, Sendable {
    public var id: String
    public var severity: String
    public var rule: String
    public var subject: String
    public var raisedAt: Date
    public var ageSeconds: Double
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
}

/// Reply to `alerts`.
public struct AlertsReply: Codable, Sendable {
    public var ok: Bool
    public var alerts: [AlertSummary]
}

/// Vigil's version, reported by `ping` and `status`.
public enum VigilVersion {
    public static let string = "0.1.0"
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
    }

    /// One score as of now.
    public struct Score: Codable, Sendable {
        public var name: String
        public var total: Int
        public var complete: Bool
        public var components: [Component]
        public var missing: [String]
        public var note: String?
    }

    /// One rule whose signal is on.
    public struct Signal: Codable, Sendable {
        public var rule: String
        public var severity: String
        public var since: Date?
        public var alertId: String?
    }

    public var ok: Bool
    public var subject: String
    public var asOf: Date
    public var latestDataAt: Date?
    public var scores: [Score]
    public var sofaBaseline: Int?
    public var signals: [Signal]
}

/// Reply to `subjects`.
public struct SubjectsReply: Codable, Sendable {
    /// A subject and its active signals.
    public struct Entry: Codable, Sendable {
        public var subject: String
        public var activeSignals: [String]
    }

    public var ok: Bool
    public var subjects: [Entry]
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
    }

    public var ok: Bool
    public var trialState: String
    public var haltRules: [Halt]
    public var toxicity: Toxicity
    public var susarClockDays: [String: Int]
}

/// Reply to `report`: the trial's safety endpoints from the store.
public struct ReportReply: Codable, Sendable {
    /// A count over the infused subjects.
    public struct Rate: Codable, Sendable {
        public var subjects: [String]
        public var count: Int
        public var of: Int
        public var percent: Double?
    }

    /// Observed vs SCORTEN-predicted deaths at one month (secondary endpoint).
    public struct Mortality: Codable, Sendable {
        public var observedDeaths: [String]
        public var predictedDeaths: Double
        public var subjectsWithCompleteScorten: Int
        public var subjectsWithoutCompleteScorten: [String]
        public var observedOverPredicted: Double?
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
}

/// Reply to `ack` and `resume`.
public struct ActionReply: Codable, Sendable {
    public var ok: Bool
    public var message: String
}

/// Reply to `silences`.
public struct SilencesReply: Codable, Sendable {
    public var ok: Bool
    public var silences: [Silence]
}
