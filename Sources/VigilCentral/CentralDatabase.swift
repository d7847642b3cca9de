import Foundation
import Logging
import NIOSSL
import PostgresNIO
import VigilConfig
import VigilCore
import VigilStore

/// The trial state as the central database holds it: the one every site follows (its `origin` is
/// the site id that decided a halt, or `central`), and the version that names its last decision.
public struct CentralTrialState: Sendable, Equatable {
    public var state: TrialState
    /// Bumped by every halt and resume.
    public var version: Int64

    public static let running = CentralTrialState(state: .running, version: 0)
}

/// One site as the central database sees it.
public struct CentralSite: Sendable, Equatable, Codable {
    public var site: String
    public var lastSeq: Int64
    public var lastContact: Date?
    /// Changes the site still had queued at its last contact.
    public var backlog: Int64
    public var records: Int64
}


/// The central PostgreSQL as Vigil uses it (docs/ARCHITECTURE.md §6): the client (postgres-nio),
/// the schema, replication on arrival, the trial state, and the pooled reads of the central rules.
/// Every statement binds its values; nothing is spliced into SQL.
public final class CentralDatabase: Sendable {
    public let client: PostgresClient
    public let settings: CentralSettings
    public let trial: String
    let logger: Logger

    public init(settings: CentralSettings, trial: String, logger: Logger) throws {
        let tls: PostgresClient.Configuration.TLS
        switch settings.tls {
        case .disable:
            tls = .disable
        case .prefer, .require, .verifyFull:
            var context = TLSConfiguration.makeClientConfiguration()
            if settings.tls != .verifyFull { context.certificateVerification = .none }
            if let caFile = settings.caFile { context.trustRoots = .file(caFile) }
            tls = settings.tls == .prefer ? .prefer(context) : .require(context)
        }
        var configuration = PostgresClient.Configuration(
            host: settings.host, port: settings.port, username: settings.user, password: try settings.password(),
            database: settings.database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 4
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.settings = settings
        self.trial = trial
        self.logger = logger
    }

    /// Creates the tables when they are missing; several daemons may start at once, so the DDL runs
    /// under an advisory lock.
    public func migrate() async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(4711200)", logger: logger)
            for statement in Self.schema {
                try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
            }
        }
    }

    static let schema = [
        """
        CREATE TABLE IF NOT EXISTS vigil_sites (
            trial text NOT NULL, site_id text NOT NULL, last_seq bigint NOT NULL DEFAULT 0,
            last_contact timestamptz, backlog bigint NOT NULL DEFAULT 0, PRIMARY KEY (trial, site_id))
        """,
        """
        CREATE TABLE IF NOT EXISTS vigil_records (
            trial text NOT NULL, site_id text NOT NULL, record_id text NOT NULL, type text NOT NULL, subject text NOT NULL,
            time timestamptz, payload text NOT NULL, content_hash text NOT NULL, revision integer NOT NULL,
            retracted boolean NOT NULL, seq bigint NOT NULL, received_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (trial, site_id, record_id))
        """,
        "CREATE INDEX IF NOT EXISTS vigil_records_by_type ON vigil_records (trial, type)",
        """
        CREATE TABLE IF NOT EXISTS vigil_trial_state (
            trial text PRIMARY KEY, phase text NOT NULL, origin text, rule text, reason text, since timestamptz,
            resumed_by text, resumed_at timestamptz, resume_reason text, version bigint NOT NULL)
        """,
        """
        CREATE TABLE IF NOT EXISTS vigil_trial_events (
            id bigserial PRIMARY KEY, trial text NOT NULL, kind text NOT NULL, origin text, rule text, reason text,
            by_whom text, at timestamptz NOT NULL, recorded_at timestamptz NOT NULL DEFAULT now())
        """,
    ]

    // MARK: Replication

    /// Commits a site's batch: each record kept at its highest sequence number (a batch sent again
    /// after a lost acknowledgement changes nothing), and the site's progress, in one transaction.
    public func push(site: String, records: [ReplicatedRecord], through: Int64, backlog: Int) async throws {
        let trial = self.trial
        let logger = self.logger
        try await client.withTransaction(logger: logger) { connection in
            for r in records {
                try await connection.query("""
                    INSERT INTO vigil_records (trial, site_id, record_id, type, subject, time, payload, content_hash, revision, retracted, seq)
                    VALUES (\(trial), \(site), \(r.id), \(r.type), \(r.subject), \(r.time), \(r.payload), \(r.contentHash), \(r.revision), \(r.retracted), \(r.seq))
                    ON CONFLICT (trial, site_id, record_id) DO UPDATE SET
                        type = EXCLUDED.type, subject = EXCLUDED.subject, time = EXCLUDED.time, payload = EXCLUDED.payload,
                        content_hash = EXCLUDED.content_hash, revision = EXCLUDED.revision, retracted = EXCLUDED.retracted,
                        seq = EXCLUDED.seq, received_at = now()
                    WHERE vigil_records.seq <= EXCLUDED.seq
                    """, logger: logger)
            }
            try await connection.query("""
                INSERT INTO vigil_sites (trial, site_id, last_seq, last_contact, backlog) VALUES (\(trial), \(site), \(through), now(), \(Int64(backlog)))
                ON CONFLICT (trial, site_id) DO UPDATE SET last_seq = GREATEST(vigil_sites.last_seq, EXCLUDED.last_seq),
                    last_contact = now(), backlog = EXCLUDED.backlog
                """, logger: logger)
        }
    }

    /// Records that the site is alive with nothing (or `backlog`) left to send.
    public func heartbeat(site: String, backlog: Int) async throws {
        try await client.query("""
            INSERT INTO vigil_sites (trial, site_id, last_contact, backlog) VALUES (\(trial), \(site), now(), \(Int64(backlog)))
            ON CONFLICT (trial, site_id) DO UPDATE SET last_contact = now(), backlog = EXCLUDED.backlog
            """, logger: logger)
    }

    // MARK: Trial state

    public func trialState() async throws -> CentralTrialState {
        let rows = try await client.query("""
            SELECT phase, origin, rule, reason, since, resumed_by, resumed_at, resume_reason, version
            FROM vigil_trial_state WHERE trial = \(trial)
            """, logger: logger)
        for try await (phase, origin, rule, reason, since, resumedBy, resumedAt, resumeReason, version)
            in rows.decode((String, String?, String?, String?, Date?, String?, Date?, String?, Int64).self) {
            let state = TrialState(phase: TrialState.Phase(rawValue: phase) ?? .halted, rule: rule, reason: reason, evidence: [], since: since,
                                   alertID: nil, resumedBy: resumedBy, resumedAt: resumedAt, resumeReason: resumeReason, origin: origin)
            return CentralTrialState(state: state, version: version)
        }
        return .running
    }

    /// Halts the trial for every site, unless it is already halted (the first halt stands; a later
    /// one is kept in the event history). True when this call halted it.
    public func publishHalt(origin: String, rule: String, reason: String, since: Date) async throws -> Bool {
        let trial = self.trial
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            try await connection.query("""
                INSERT INTO vigil_trial_events (trial, kind, origin, rule, reason, at) VALUES (\(trial), 'halt', \(origin), \(rule), \(reason), \(since))
                """, logger: logger)
            let rows = try await connection.query("""
                INSERT INTO vigil_trial_state (trial, phase, origin, rule, reason, since, version)
                VALUES (\(trial), 'halted', \(origin), \(rule), \(reason), \(since), 1)
                ON CONFLICT (trial) DO UPDATE SET phase = 'halted', origin = EXCLUDED.origin, rule = EXCLUDED.rule,
                    reason = EXCLUDED.reason, since = EXCLUDED.since, version = vigil_trial_state.version + 1
                WHERE vigil_trial_state.phase = 'running'
                RETURNING version
                """, logger: logger)
            var halted = false
            for try await _ in rows { halted = true }
            return halted
        }
    }

    /// Resumes the trial for every site: the central decision of an authorised person, recorded.
    /// False when it was not halted.
    public func publishResume(by person: String, reason: String, at time: Date) async throws -> Bool {
        let trial = self.trial
        let logger = self.logger
        return try await client.withTransaction(logger: logger) { connection in
            let rows = try await connection.query("""
                UPDATE vigil_trial_state SET phase = 'running', resumed_by = \(person), resumed_at = \(time), resume_reason = \(reason),
                    version = version + 1
                WHERE trial = \(trial) AND phase = 'halted' RETURNING version
                """, logger: logger)
            var resumed = false
            for try await _ in rows { resumed = true }
            if resumed {
                try await connection.query("""
                    INSERT INTO vigil_trial_events (trial, kind, by_whom, reason, at) VALUES (\(trial), 'resume', \(person), \(reason), \(time))
                    """, logger: logger)
            }
            return resumed
        }
    }

    // MARK: Pooled reads

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = ISO8601Coding.decodingStrategy
        return decoder
    }()

    /// Every site's current adverse events and events (infusions, deaths, ...).
    public func pooledRecords() async throws -> [CentralRecord] {
        let rows = try await client.query("""
            SELECT site_id, payload FROM vigil_records
            WHERE trial = \(trial) AND type IN ('adverse_event', 'event') AND NOT retracted ORDER BY time NULLS LAST, site_id, record_id
            """, logger: logger)
        var out: [CentralRecord] = []
        for try await (site, payload) in rows.decode((String, String).self) {
            out.append(CentralRecord(site: site, record: try Self.decoder.decode(Record.self, from: Data(payload.utf8))))
        }
        return out
    }

    public func sites() async throws -> [CentralSite] {
        let rows = try await client.query("""
            SELECT s.site_id, s.last_seq, s.last_contact, s.backlog, (SELECT COUNT(*) FROM vigil_records r WHERE r.trial = s.trial AND r.site_id = s.site_id)
            FROM vigil_sites s WHERE s.trial = \(trial) ORDER BY s.site_id
            """, logger: logger)
        var out: [CentralSite] = []
        for try await (site, lastSeq, lastContact, backlog, records) in rows.decode((String, Int64, Date?, Int64, Int64).self) {
            out.append(CentralSite(site: site, lastSeq: lastSeq, lastContact: lastContact, backlog: backlog, records: records))
        }
        return out
    }
}
