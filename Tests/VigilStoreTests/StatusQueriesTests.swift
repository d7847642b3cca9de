import XCTest
import GRDB
import VigilCore
@testable import VigilStore

/// `status` and the escalation check after every transaction must not grow with the store: they
/// read indexes of the open alerts and a record counter kept by the writing transactions (store v9).
final class StatusQueriesTests: StoreTestCase {
    struct Rollback: Error {}

    func observation(_ id: String, value: Double) -> VigilCore.Record {
        .observation(Observation(id: id, subject: "LYS-01-001", time: t0, code: "lactate", value: .number(value), unit: "mmol/L"))
    }

    func storedCount(_ store: VigilStore) throws -> Int {
        try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records") ?? -1 }
    }

    func testStoredRecordCounterFollowsInsertsOnlyAndRollsBack() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        XCTAssertEqual(try store.statistics().storedRecords, 0)
        try store.transaction { tx in
            for index in 0..<5 { _ = try tx.apply(observation("r\(index)", value: 1), fileSHA256: "f1", at: t0) }
            _ = try tx.apply(observation("r0", value: 1), fileSHA256: "f1", at: t0)  // unchanged
            _ = try tx.apply(observation("r1", value: 2), fileSHA256: "f1", at: t0)  // amended
            _ = try tx.retract(["r2"], at: t0)  // withdrawn, still stored
        }
        XCTAssertEqual(try store.statistics().storedRecords, 5)
        XCTAssertThrowsError(try store.transaction { tx in
            _ = try tx.apply(observation("r9", value: 1), fileSHA256: "f2", at: t0)
            throw Rollback()
        })
        XCTAssertEqual(try store.statistics().storedRecords, 5)
        XCTAssertEqual(try storedCount(store), 5)
    }

    /// A store made before v9 gets the counter from a count of its records at the upgrade.
    func testUpgradeCountsTheRecordsAlreadyStored() throws {
        let path = "\(directory)/old.sqlite"
        let old = try DatabaseQueue(path: path)
        try VigilStore.migrator.migrate(old, upTo: "v8-evaluation-columns")
        try old.write { db in
            for index in 0..<3 {
                try db.execute(sql: """
                    INSERT INTO records (id, type, subject, time, content_hash, payload, revision, file_sha256, applied_at)
                    VALUES (?, 'observation', 'S', 0, 'h', x'7b7d', 1, 'f', 0)
                    """, arguments: ["old\(index)"])
            }
        }
        try old.close()
        let store = try VigilStore(path: path)
        XCTAssertEqual(try store.statistics().storedRecords, 3)
    }

    func testStatusAndEscalationQueriesUseTheOpenAlertIndexes() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        let plans = try store.pool.read { db in
            try [
                "SELECT severity, COUNT(*) AS n FROM alerts WHERE phase = 'raised' AND acked_at IS NULL AND resolved_at IS NULL GROUP BY severity",
                "SELECT COUNT(*) FROM alerts WHERE journal_at IS NULL",
                "SELECT * FROM alerts WHERE phase = 'raised' AND severity IN ('critical', 'halt') AND acked_at IS NULL AND resolved_at IS NULL AND escalated_at IS NULL AND raised_at <= 1000 ORDER BY raised_at ASC, rowid ASC",
                "SELECT * FROM alerts WHERE phase = 'raised' AND severity IN ('critical', 'halt') AND acked_at IS NULL ORDER BY raised_at ASC, rowid ASC LIMIT 1",
                """
                SELECT COUNT(*) FROM alerts WHERE rule = 'lactate' AND subject IS 'S' AND id != 'x' AND phase = 'raised' AND mail_held IS NULL
                  AND outbox_at IS NOT NULL AND outbox_at >= 1000 AND severity IN ('critical', 'halt')
                """,
            ].map { sql in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ") }
        }
        XCTAssertTrue(plans[0].contains("alerts_open"), plans[0])
        XCTAssertTrue(plans[1].contains("alerts_pending"), plans[1])
        XCTAssertTrue(plans[2].contains("alerts_open"), plans[2])
        XCTAssertTrue(plans[3].contains("alerts_unacknowledged_urgent"), plans[3])  // status: oldest unacknowledged
        XCTAssertTrue(plans[4].contains("alerts_mailed") && plans[4].contains("outbox_at>?"), plans[4])  // the repeat interval
    }
}
