import Foundation
import GRDB
import Synchronization
import VigilCore

/// Vigil's durable state in SQLite (WAL, synchronous=FULL) through GRDB: applied records, their
/// amendments, per-subject signal states, the alert ledger and the file ledger. One write
/// transaction per inbox file (or per group of a backlog's files) makes processing all-or-nothing;
/// the ledgers make it idempotent.
public final class VigilStore: Sendable {
    public let path: String
    let pool: DatabasePool
    /// Random id of this database, made when it was created. Journal entries carry it, so that after a
    /// crash Vigil recognises its own entries and not those of an earlier installation or another trial.
    public let instanceID: String
    /// Signal states and histories as last committed, so evaluation need not decode them at every file.
    let evaluationCache = EvaluationCache()
    /// Every silence, read once (`activeSilences`); nil until read and after a change.
    let silences = Mutex<[Silence]?>(nil)
    /// Checkpoints the WAL off the writing thread.
    let checkpointer: BackgroundCheckpointer

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema.
    public init(path: String) throws {
        self.path = path
        var configuration = Configuration()
        configuration.label = "vigil"
        configuration.busyMode = .timeout(5)
        let checkpointer = BackgroundCheckpointer(path: path)
        self.checkpointer = checkpointer
        configuration.prepareDatabase { db in
            if !db.configuration.readonly { checkpointer.install(on: db) }
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        // Durable across power loss, not only process crashes: a commit returns only once its WAL
        // frames are synced, so a record in the ledger, and an inbox file archived after its commit,
        // are never lost. Set here, not in `prepareDatabase`: the pool switches its writer to WAL after
        // that hook has run and sets `synchronous = NORMAL` with it (GRDB's `setUpWALMode`), under
        // which a commit is not synced until the next checkpoint.
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
        try Self.migrator.migrate(pool)
        instanceID = try pool.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'instance_id'") { return existing }
            let fresh = UUID().uuidString.lowercased()
            try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('instance_id', ?)", arguments: [fresh])
            return fresh
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE file_ledger (
                    sha256 TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    received_at REAL NOT NULL,
                    outcome TEXT NOT NULL,          -- archived | rejected
                    applied INTEGER NOT NULL,
                    rejected INTEGER NOT NULL,
                    unchanged INTEGER NOT NULL,
                    destination TEXT NOT NULL,      -- path relative to the archive or rejected directory
                    errors TEXT                     -- JSON array written as NAME.errors.json
                );
                CREATE TABLE records (
                    id TEXT PRIMARY KEY,
                    type TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    time REAL,
                    code TEXT,
                    value REAL,
                    content_hash TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    revision INTEGER NOT NULL,
                    file_sha256 TEXT NOT NULL,
                    applied_at REAL NOT NULL
                );
                CREATE INDEX records_by_subject_code_time ON records(subject, code, time);
                CREATE TABLE record_amendments (
                    record_id TEXT NOT NULL,
                    revision INTEGER NOT NULL,
                    previous_hash TEXT NOT NULL,
                    previous_payload BLOB NOT NULL,
                    file_sha256 TEXT NOT NULL,
                    amended_at REAL NOT NULL,
                    PRIMARY KEY (record_id, revision)
                );
                CREATE TABLE signal_state (
                    rule TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    PRIMARY KEY (rule, subject)
                );
                CREATE TABLE alerts (
                    id TEXT PRIMARY KEY,
                    rule TEXT NOT NULL,
                    phase TEXT NOT NULL,
                    severity TEXT NOT NULL,
                    subject TEXT,
                    raised_at REAL NOT NULL,
                    payload BLOB NOT NULL,
                    journal_at REAL,
                    outbox_at REAL,
                    acked_at REAL,
                    acked_by TEXT,
                    resolved_at REAL
                );
                CREATE INDEX alerts_undelivered ON alerts(journal_at, outbox_at);
                """)
        }
        migrator.registerMigration("v2-retractions") { db in
            // A result the sender withdrew (HL7 OBX-11 D/W) stays for the audit trail but is no longer current.
            try db.execute(sql: "ALTER TABLE records ADD COLUMN retracted_at REAL")
        }
        migrator.registerMigration("v3-meta") { db in
            try db.execute(sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        }
        migrator.registerMigration("v4-subject-facts") { db in
            try db.execute(sql: "CREATE TABLE subject_facts (subject TEXT NOT NULL, key TEXT NOT NULL, payload BLOB NOT NULL, PRIMARY KEY (subject, key))")
        }
        migrator.registerMigration("v5-trial") { db in
            try db.execute(sql: """
                CREATE TABLE susar_clocks (
                    adverse_event TEXT PRIMARY KEY,
                    subject TEXT NOT NULL,
                    payload BLOB NOT NULL,
                    reported_at REAL,
                    reported_by TEXT
                );
                """)
        }
        migrator.registerMigration("v6-lifecycle") { db in
            try db.execute(sql: """
                ALTER TABLE alerts ADD COLUMN mail_held TEXT;       -- why no mail went out (silence, repeat interval)
                ALTER TABLE alerts ADD COLUMN escalated_at REAL;
                CREATE TABLE silences (
                    id TEXT PRIMARY KEY,
                    matcher TEXT NOT NULL,                          -- a rule id or a subject id
                    starts_at REAL NOT NULL,
                    ends_at REAL NOT NULL,
                    reason TEXT NOT NULL,
                    created_by TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v7-delivery-index") { db in
            // Every file ends with a look for undelivered alerts: an index of just those keeps that
            // look from scanning the whole ledger as it grows.
            try db.execute(sql: """
                DROP INDEX alerts_undelivered;
                CREATE INDEX alerts_pending ON alerts(raised_at) WHERE journal_at IS NULL OR (phase = 'raised' AND outbox_at IS NULL);
                CREATE INDEX alerts_by_rule_subject ON alerts(rule, subject, raised_at);
                """)
        }
        migrator.registerMigration("v8-evaluation-columns") { db in
            // What evaluation reads of an observation, as columns, so that reading a subject's newest
            // values decodes no JSON. Rows applied before v8 keep NULL in `value_kind` and are read from
            // their payload, so nothing is rewritten at upgrade.
            // The trial-level pass reads all adverse events and events: partial indexes of just those
            // rows keep it from scanning every observation of the trial.
            try db.execute(sql: """
                ALTER TABLE records ADD COLUMN value_kind TEXT;     -- number | text | flag (observations)
                ALTER TABLE records ADD COLUMN value_text TEXT;     -- text value, or 'true' / 'false' for a flag
                ALTER TABLE records ADD COLUMN low REAL;
                ALTER TABLE records ADD COLUMN high REAL;
                CREATE INDEX records_adverse_events ON records(time) WHERE type = 'adverse_event';
                CREATE INDEX records_events ON records(time) WHERE type = 'event';
                CREATE INDEX signal_state_by_subject ON signal_state(subject);
                """)
        }
        migrator.registerMigration("v9-status-indexes") { db in
            // `status` and the escalation check after every transaction ask the alert ledger about
            // columns stored after the payload, so without an index each scan walks every alert's
            // payload (its overflow pages); and counting every record for `status` grows with the
            // store. Partial indexes of just the open, the unacknowledged urgent and the mailed alerts
            // answer the first (the rest of `status` uses alerts_pending), a counter kept by the
            // writing transactions the second. The repeat-interval check reads
            // only the mails within the interval, not every alert of the rule and subject.
            try db.execute(sql: """
                CREATE INDEX alerts_open ON alerts(severity) WHERE phase = 'raised' AND acked_at IS NULL AND resolved_at IS NULL;
                CREATE INDEX alerts_unacknowledged_urgent ON alerts(raised_at)
                    WHERE phase = 'raised' AND severity IN ('critical', 'halt') AND acked_at IS NULL;
                CREATE INDEX alerts_mailed ON alerts(rule, subject, outbox_at) WHERE phase = 'raised' AND mail_held IS NULL;
                INSERT OR REPLACE INTO meta (key, value) SELECT 'stored_records', COUNT(*) FROM records;
                """)
        }
        migrator.registerMigration("v10-newest-observations") { db in
            // Rows are indexed by (subject, time), one insertion place per subject, not by (subject,
            // code, time): that index puts each new row at one of subjects × codes places, so a large
            // transaction dirties a leaf page per record and the cost per record rises with history.
            // The newest row of each code, what evaluation reads, is kept in newest_observations (a
            // row per subject and code, written in place), and `first_time` (never later than the
            // code's oldest current row) bounds the walk back through a subject's rows for a moment
            // before the newest. Adverse events and events, read per subject, have a partial index of
            // their own.
            try db.execute(sql: """
                CREATE TABLE newest_observations (
                    subject TEXT NOT NULL,
                    code TEXT NOT NULL,
                    time REAL NOT NULL,             -- of the newest non-withdrawn row (ties: the last applied)
                    row INTEGER NOT NULL,           -- its rowid in records
                    first_time REAL NOT NULL,       -- at or before the oldest non-withdrawn row of the code
                    PRIMARY KEY (subject, code)
                ) WITHOUT ROWID;
                INSERT INTO newest_observations (subject, code, time, row, first_time)
                    SELECT subject, code, time, row, first_time FROM (
                        SELECT subject, code, time, rowid AS row,
                               MIN(time) OVER (PARTITION BY subject, code) AS first_time,
                               ROW_NUMBER() OVER (PARTITION BY subject, code ORDER BY time DESC, rowid DESC) AS rank
                        FROM records
                        WHERE type = 'observation' AND code IS NOT NULL AND time IS NOT NULL AND retracted_at IS NULL)
                    WHERE rank = 1;
                DROP INDEX records_by_subject_code_time;
                CREATE INDEX records_by_subject_time ON records(subject, time);
                CREATE INDEX records_history_by_subject ON records(subject, time) WHERE code IS NULL;
                """)
        }
        migrator.registerMigration("v11-replication") { db in
            // The site's replication outbox (docs/ARCHITECTURE.md §6): a record id per change, in
            // commit order. Filled by triggers only while `central:` is configured.
            try db.execute(sql: "CREATE TABLE replication_outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, record_id TEXT NOT NULL)")
        }
        return migrator
    }

    /// Runs `body` in one write transaction: either all of it is committed or none of it.
    public func transaction<T>(_ body: (StoreTransaction) throws -> T) throws -> T {
        try pool.write { db in
            let scope = TransactionScope(cache: evaluationCache, db: db)
            let result = try body(StoreTransaction(db: db, scope: scope))
            try scope.finish()
            return result
        }
    }

    /// The ledger entry of a file already processed, by content digest.
    /// The ledger entry of a file's content. Asked by the ingest thread before every file, so it
    /// runs as one statement on the writer's connection (the ledger's latest state, no read
    /// transaction or reader to take from the pool).
    public func fileEntry(sha256: String) throws -> FileLedgerEntry? {
        try pool.writeWithoutTransaction { db in try FileLedgerEntry.fetch(db, sha256: sha256) }
    }

    /// Alerts not yet written to the journal, or raised alerts not yet written to the outbox, oldest first.
    public func undeliveredAlerts() throws -> [StoredAlert] {
        try pool.read { db in
            try StoredAlert.fetch(db, where: "journal_at IS NULL OR (phase = 'raised' AND outbox_at IS NULL)", limit: nil, cached: true)
        }
    }

    /// Raised alerts, newest first; `openOnly` keeps those neither acknowledged nor resolved.
    public func alerts(openOnly: Bool, limit: Int) throws -> [StoredAlert] {
        try pool.read { db in
            try StoredAlert.fetch(
                db, where: "phase = 'raised'" + (openOnly ? " AND acked_at IS NULL AND resolved_at IS NULL" : ""),
                limit: limit, newestFirst: true)
        }
    }

    /// Figures for `vigilctl status`, read without blocking the writer (WAL).
    public func statistics() throws -> StoreStatistics {
        try pool.read { db in
            var stats = StoreStatistics()
            if let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS files, COALESCE(SUM(applied), 0) AS applied, COALESCE(SUM(rejected), 0) AS rejected,
                       COALESCE(SUM(outcome = 'rejected'), 0) AS rejected_files, MAX(received_at) AS last
                FROM file_ledger
                """)
            {
                stats.files = row["files"]
                stats.recordsApplied = row["applied"]
                stats.recordsRejected = row["rejected"]
                stats.filesRejected = row["rejected_files"]
                stats.lastFileAt = (row["last"] as Double?).map(Date.init(timeIntervalSince1970:))
            }
            stats.storedRecords = try Int.fetchOne(db, sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'stored_records'") ?? 0
            for row in try Row.fetchAll(db, sql: """
                SELECT severity, COUNT(*) AS n FROM alerts
                WHERE phase = 'raised' AND acked_at IS NULL AND resolved_at IS NULL GROUP BY severity
                """)
            {
                if let severity = Severity(rawValue: row["severity"]) { stats.openAlerts[severity] = row["n"] }
            }
            stats.undeliveredJournal = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM alerts WHERE journal_at IS NULL") ?? 0
            stats.subjectsWithActiveSignals = try String.fetchAll(db, sql: """
                SELECT DISTINCT subject FROM signal_state WHERE json_extract(payload, '$.severity') IS NOT NULL ORDER BY subject
                """)
            return stats
        }
    }

    /// Size of the database and its WAL on disk.
    public func sizeOnDisk() -> Int64 {
        [path, path + "-wal", path + "-shm"].reduce(0) { total, file in
            let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.int64Value ?? 0
            return total + size
        }
    }
}

/// Aggregate figures reported by `status`.
public struct StoreStatistics: Sendable, Equatable {
    public var files = 0
    public var filesRejected = 0
    public var recordsApplied = 0
    public var recordsRejected = 0
    public var storedRecords = 0
    public var lastFileAt: Date?
    public var openAlerts: [Severity: Int] = [:]
    public var undeliveredJournal = 0
    public var subjectsWithActiveSignals: [String] = []

    public init() {}
}
