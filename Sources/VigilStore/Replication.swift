import Foundation
import GRDB
import VigilCore

/// One change the site owes the central tier: the record as it is now (its latest revision, or its
/// withdrawal), with the outbox sequence number that orders it.
public struct ReplicatedRecord: Sendable, Equatable {
    public var seq: Int64
    public var id: String
    public var type: String
    public var subject: String
    public var time: Date?
    /// The canonical JSON the site stores (`StoredPayload`).
    public var payload: String
    public var contentHash: String
    public var revision: Int
    public var retracted: Bool
}

/// The site's replication outbox (docs/ARCHITECTURE.md §6). Triggers on `records` queue a record id
/// in the same transaction that inserts, amends or withdraws it, so a change committed is a change
/// owed, across kill -9 at any instant. The replicator sends what is queued, in order, and deletes it
/// only once the central database has committed it: at least once over the wire, and idempotent on
/// arrival (the central row keeps the highest sequence number).
extension VigilStore {
    /// Starts queueing changes. The first time, every record already stored is queued too, so a site
    /// that joins with history sends all of it.
    public func enableReplication(now: Date) throws {
        try pool.write { db in
            try db.execute(sql: """
                CREATE TRIGGER IF NOT EXISTS replicate_insert AFTER INSERT ON records
                    BEGIN INSERT INTO replication_outbox (record_id) VALUES (NEW.id); END;
                CREATE TRIGGER IF NOT EXISTS replicate_change AFTER UPDATE OF content_hash, retracted_at ON records
                    BEGIN INSERT INTO replication_outbox (record_id) VALUES (NEW.id); END;
                """)
            if try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'replication_joined'") == nil {
                try db.execute(sql: "INSERT INTO replication_outbox (record_id) SELECT id FROM records ORDER BY rowid")
                try db.execute(sql: "INSERT INTO meta (key, value) VALUES ('replication_joined', ?)",
                               arguments: [ISO8601Coding.string(from: now)])
            }
        }
    }

    /// Stops queueing (a site that runs alone pays nothing for it). What is queued stays queued.
    public func disableReplication() throws {
        try pool.write { db in
            try db.execute(sql: "DROP TRIGGER IF EXISTS replicate_insert; DROP TRIGGER IF EXISTS replicate_change")
        }
    }

    /// Up to `limit` queued entries, oldest first, as the changes they make (a record queued several
    /// times is sent once, with its newest sequence number), and the highest sequence number they
    /// cover: what to acknowledge once they are committed centrally, and how many entries stay
    /// queued after them. Read in one snapshot, so an entry queued meanwhile is neither sent nor
    /// acknowledged.
    public func replicationBatch(limit: Int) throws -> (records: [ReplicatedRecord], through: Int64?, remaining: Int) {
        try pool.read { db in
            let through = try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM (SELECT seq FROM replication_outbox ORDER BY seq LIMIT ?)", arguments: [limit])
            let remaining = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM replication_outbox WHERE seq > ?", arguments: [through ?? Int64.max]) ?? 0
            let rows = try Row.fetchAll(db, sql: """
                SELECT o.seq, r.id, r.type, r.subject, r.time, r.payload, r.content_hash, r.revision, r.retracted_at
                FROM (SELECT MAX(seq) AS seq, record_id FROM (SELECT seq, record_id FROM replication_outbox ORDER BY seq LIMIT ?) GROUP BY record_id) AS o
                JOIN records r ON r.id = o.record_id
                ORDER BY o.seq
                """, arguments: [limit])
            let records = rows.map { row in
                ReplicatedRecord(
                    seq: row["seq"], id: row["id"], type: row["type"], subject: row["subject"],
                    time: (row["time"] as Double?).map(Date.init(timeIntervalSince1970:)),
                    payload: String(decoding: row["payload"] as Data, as: UTF8.self), contentHash: row["content_hash"],
                    revision: row["revision"], retracted: (row["retracted_at"] as Double?) != nil)
            }
            return (records, through, remaining)
        }
    }

    /// Forgets what the central database has committed.
    public func acknowledgeReplication(through seq: Int64) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM replication_outbox WHERE seq <= ?", arguments: [seq]) }
    }

    /// Applies a halt decided elsewhere (another site, or the central pooled rules): records its
    /// alert and, when the trial runs here, halts it with the origin named. False when the alert was
    /// recorded before (the same halt seen again).
    public func applyRemoteHalt(_ alert: Alert, origin: String, reason: String, since: Date) throws -> Bool {
        try transaction { tx in
            guard try tx.record(alert) else { return false }
            var state = try tx.trialState()
            if state.phase == .running {
                state = TrialState(phase: .halted, rule: alert.rule, reason: reason, evidence: alert.evidence, since: since, alertID: alert.id,
                                   resumedBy: state.resumedBy, resumedAt: state.resumedAt, resumeReason: state.resumeReason, origin: origin)
                try tx.saveTrialState(state)
            }
            return true
        }
    }
}
