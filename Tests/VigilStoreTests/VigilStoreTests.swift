import XCTest
import VigilCore
@testable import VigilStore

/// Runs against real SQLite files through GRDB.
final class VigilStoreTests: StoreTestCase {
    func lactate(_ id: String, _ value: Double) -> Record {
        .observation(Observation(id: id, subject: "LYS-01-001", time: t0, code: "lactate", value: .number(value), unit: "mmol/L"))
    }

    func alert(_ key: String, _ severity: Severity = .warning) -> Alert {
        Alert(rule: "lactate", severity: severity, subject: "LYS-01-001", trial: "T", triggerKey: key, records: [key], value: "3 mmol/L",
              title: "t", reason: "r", action: "a", evidence: [], raisedAt: t0)
    }

    func entry(_ sha: String, applied: Int = 1) -> FileLedgerEntry {
        FileLedgerEntry(sha256: sha, name: "\(sha).ndjson", receivedAt: t0, outcome: .archived, applied: applied, rejected: 0, unchanged: 0,
                        destination: "2026-11-23/\(sha).ndjson", errorsJSON: nil)
    }

    func testRecordIsNewThenUnchangedThenAmended() throws {
        let store = try VigilStore(path: "\(directory)/v.sqlite")
        try store.transaction { tx in
            XCTAssertEqual(try tx.apply(lactate("L1", 3.0), fileSHA256: "f1", at: t0), .new)
            XCTAssertEqual(try tx.apply(lactate("L1", 3.0), fileSHA256: "f2", at: t0), .unchanged)
            XCTAssertEqual(try tx.apply(lactate("L1", 3.5), fileSHA256: "f3", at: t0), .amended(revision: 2))
            XCTAssertEqual(try tx.apply(lactate("L1", 3.5), fileSHA256: "f4", at: t0), .unchanged)
        }
        let amendments = try store.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM record_amendments") }
        XCTAssertEqual(amendments, 1)
        XCTAssertEqual(try store.statistics().storedRecords, 1)
    }

    func testFailedTransactionLeavesNothingBehind() throws {
        let store = try VigilStore(path: "\(directory)/v.sqlite")
        struct Boom: Error {}
        XCTAssertThrowsError(try store.transaction { tx in
            _ = try tx.apply(lactate("L1", 3.0), fileSHA256: "f1", at: t0)
            try tx.record(alert("L1"))
            try tx.recordFile(entry("f1"))
            throw Boom()
        })
        XCTAssertNil(try store.fileEntry(sha256: "f1"))
        XCTAssertEqual(try store.statistics().storedRecords, 0)
        XCTAssertEqual(try store.undeliveredAlerts().count, 0)
    }

    func testAlertLedgerIgnoresReplaysAndTracksDelivery() throws {
        let store = try VigilStore(path: "\(directory)/v.sqlite")
        let a = alert("L1", .critical)
        XCTAssertTrue(try store.transaction { tx in try tx.record(a) })
        XCTAssertFalse(try store.transaction { tx in try tx.record(a) }, "same deterministic id: not inserted again")
        XCTAssertEqual(try store.undeliveredAlerts().map(\.alert.id), [a.id])
        try store.markDelivered(journal: [a.id], outbox: [], held: [], at: t0)
        XCTAssertEqual(try store.undeliveredAlerts().map(\.alert.id), [a.id], "still waiting for the outbox")
        try store.markDelivered(journal: [], outbox: [a.id], held: [], at: t0)
        XCTAssertEqual(try store.undeliveredAlerts().count, 0)
        XCTAssertEqual(try store.statistics().openAlerts, [.critical: 1])
        XCTAssertEqual(try store.alerts(openOnly: true, limit: 10).first?.alert, a)
    }

    func testResolvedEntryClosesTheOpeningAlertAndNeedsNoMail() throws {
        let store = try VigilStore(path: "\(directory)/v.sqlite")
        let opened = alert("L1")
        var resolved = alert("L2")
        resolved.phase = .resolved
        try store.transaction { tx in
            try tx.record(opened)
            try tx.record(resolved, closing: opened.id)
        }
        XCTAssertEqual(try store.statistics().openAlerts, [:])
        XCTAssertNotNil(try store.alerts(openOnly: false, limit: 10).first?.resolvedAt)
        try store.markDelivered(journal: [opened.id, resolved.id], outbox: [opened.id], held: [], at: t0)
        XCTAssertEqual(try store.undeliveredAlerts().count, 0, "a resolved entry is journal-only")
    }

    func testStatePersistsAcrossReopen() throws {
        let path = "\(directory)/v.sqlite"
        do {
            let store = try VigilStore(path: path)
            try store.transaction { tx in
                _ = try tx.apply(lactate("L1", 3.0), fileSHA256: "f1", at: t0)
                try tx.saveSignalState(SignalState(rule: "lactate", subject: "LYS-01-001", severity: .warning, since: t0, evidenceTime: t0, alertID: "abc"))
                try tx.recordFile(entry("f1"))
            }
        }
        let reopened = try VigilStore(path: path)
        XCTAssertEqual(try reopened.fileEntry(sha256: "f1")?.destination, "2026-11-23/f1.ndjson")
        let state = try reopened.transaction { tx in try tx.signalState(rule: "lactate", subject: "LYS-01-001") }
        XCTAssertEqual(state?.severity, .warning)
        XCTAssertEqual(state?.alertID, "abc")
        let stats = try reopened.statistics()
        XCTAssertEqual(stats.recordsApplied, 1)
        XCTAssertEqual(stats.files, 1)
        let journalMode = try reopened.pool.read { db in try String.fetchOne(db, sql: "PRAGMA journal_mode") }
        XCTAssertEqual(journalMode, "wal")
    }

    /// Every commit is synced (`synchronous = FULL`, 2) on the connection that writes, after a
    /// reopen too. GRDB's pool sets NORMAL (1) when it switches to WAL, after the configuration's
    /// `prepareDatabase` has run; under NORMAL a power cut can take back a committed transaction whose
    /// inbox files were already archived and whose alerts were already mailed.
    func testEveryCommitIsSyncedToDisk() throws {
        let path = "\(directory)/v.sqlite"
        for _ in 0..<2 {
            let store = try VigilStore(path: path)
            let level = try store.pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") }
            XCTAssertEqual(level, 2, "PRAGMA synchronous on the writer connection (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA)")
            let inTransaction = try store.transaction { tx in try Int.fetchOne(tx.db, sql: "PRAGMA synchronous") }
            XCTAssertEqual(inTransaction, 2, "in the store's write transactions")
        }
    }
}
