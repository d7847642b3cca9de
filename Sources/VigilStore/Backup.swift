import Foundation
import GRDB
import VigilCore

/// One inbox file's worth of applied records, in the order they were applied, for `replay`.
public struct HistoryBatch: Sendable {
    public var fileSHA256: String
    public var receivedAt: Date
    public var records: [VigilCore.Record]
}

extension VigilStore {
    /// An SQLite online backup of the whole store to `path` (a new file), consistent as of one moment,
    /// taken while the daemon keeps writing (WAL readers do not block the writer).
    public func backup(to path: String) throws {
        guard !FileManager.default.fileExists(atPath: path) else {
            throw StoreFailure("\(path) already exists; choose a new file name")
        }
        let destination = try DatabaseQueue(path: path)
        try pool.backup(to: destination)
        try destination.close()
    }

    /// Every current (not withdrawn) record, grouped by the file that brought it, in applied order.
    public func history() throws -> [HistoryBatch] {
        try pool.read { db in
            var batches: [HistoryBatch] = []
            let rows = try Row.fetchAll(db, sql: """
                SELECT r.payload, r.file_sha256, COALESCE(f.received_at, r.applied_at) AS received_at
                FROM records r LEFT JOIN file_ledger f ON f.sha256 = r.file_sha256
                WHERE r.retracted_at IS NULL ORDER BY r.rowid
                """)
            for row in rows {
                let record = try SubjectQueries.decoder.decode(VigilCore.Record.self, from: row["payload"] as Data)
                let sha: String = row["file_sha256"]
                if batches.last?.fileSHA256 == sha {
                    batches[batches.count - 1].records.append(record)
                } else {
                    batches.append(HistoryBatch(fileSHA256: sha, receivedAt: Date(timeIntervalSince1970: row["received_at"]), records: [record]))
                }
            }
            return batches
        }
    }
}

/// A store operation refused for a reason worth telling the operator.
public struct StoreFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
