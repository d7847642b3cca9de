import Foundation
import GRDB
import VigilCore

/// One processed inbox file, keyed by its content SHA-256: what became of it and where it went.
public struct FileLedgerEntry: Sendable, Equatable {
    /// Where a processed file ends up.
    public enum Outcome: String, Sendable {
        /// At least one record was usable: the file goes to `archive/`.
        case archived
        /// No usable record: the file goes to `rejected/`.
        case rejected
    }

    public var sha256: String
    public var name: String
    public var receivedAt: Date
    public var outcome: Outcome
    public var applied: Int
    public var rejected: Int
    public var unchanged: Int
    /// Path relative to the archive (archived) or rejected directory.
    public var destination: String
    /// The `NAME.errors.json` content when any record was rejected.
    public var errorsJSON: String?

    public init(
        sha256: String, name: String, receivedAt: Date, outcome: Outcome, applied: Int, rejected: Int, unchanged: Int,
        destination: String, errorsJSON: String?
    ) {
        self.sha256 = sha256
        self.name = name
        self.receivedAt = receivedAt
        self.outcome = outcome
        self.applied = applied
        self.rejected = rejected
        self.unchanged = unchanged
        self.destination = destination
        self.errorsJSON = errorsJSON
    }

    static func fetch(_ db: Database, sha256: String) throws -> FileLedgerEntry? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM file_ledger WHERE sha256 = ?"), arguments: [sha256]) else { return nil }
        return FileLedgerEntry(
            sha256: row["sha256"], name: row["name"], receivedAt: Date(timeIntervalSince1970: row["received_at"]),
            outcome: Outcome(rawValue: row["outcome"]) ?? .rejected, applied: row["applied"], rejected: row["rejected"],
            unchanged: row["unchanged"], destination: row["destination"], errorsJSON: row["errors"])
    }
}

/// An alert as held in the ledger, with its delivery and acknowledgement times.
public struct StoredAlert: Sendable, Equatable {
    public var alert: Alert
    public var journalAt: Date?
    public var outboxAt: Date?
    public var ackedAt: Date?
    public var ackedBy: String?
    public var resolvedAt: Date?

    /// Alerts matching `condition`, oldest first. `cached` keeps the prepared statement on the
    /// connection, for a query asked on every delivery pass (its text must then hold no value).
    static func fetch(_ db: Database, where condition: String, limit: Int?, newestFirst: Bool = false, cached: Bool = false) throws -> [StoredAlert] {
        var sql = "SELECT * FROM alerts WHERE \(condition) ORDER BY raised_at \(newestFirst ? "DESC" : "ASC"), rowid \(newestFirst ? "DESC" : "ASC")"
        if let limit { sql += " LIMIT \(limit)" }
        let date: (Double?) -> Date? = { $0.map(Date.init(timeIntervalSince1970:)) }
        let rows = cached ? try Row.fetchAll(db.cachedStatement(sql: sql)) : try Row.fetchAll(db, sql: sql)
        return try rows.map { row in
            StoredAlert(
                alert: try StoreTransaction.decoder.decode(Alert.self, from: row["payload"] as Data),
                journalAt: date(row["journal_at"]), outboxAt: date(row["outbox_at"]), ackedAt: date(row["acked_at"]),
                ackedBy: row["acked_by"], resolvedAt: date(row["resolved_at"]))
        }
    }
}
