import XCTest
import GRDB
import VigilCore
@testable import VigilStore

/// The WAL is checkpointed off the writing thread: past 1,000 pages the writer's commits hand the
/// checkpoint to the background checkpointer, which copies every committed frame into the database
/// file, and what was committed reads back the same through a connection opened afterwards.
final class BackgroundCheckpointerTests: StoreTestCase {
    func observation(_ index: Int) -> VigilCore.Record {
        // Several subjects and codes, so that transactions dirty many index pages, as a backlog does.
        let codes = ["lactate", "heart_rate", "resp_rate", "sbp", "temperature"]
        return .observation(Observation(
            id: "LAB-\(index)", subject: String(format: "LYS-%02d-%03d", index % 7 + 1, index % 13), time: t0.addingTimeInterval(Double(index)),
            code: codes[index % codes.count], value: .number(Double(index % 50)), unit: "x"))
    }

    /// (frames in the WAL, frames checkpointed) as a fresh connection sees them after a PASSIVE checkpoint of nothing new.
    func walState(_ path: String) throws -> (log: Int, checkpointed: Int) {
        let probe = try DatabaseQueue(path: path)
        return try probe.writeWithoutTransaction { db in
            let row = try XCTUnwrap(try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)"))
            return (row[1], row[2])
        }
    }

    func testCommitsPastTheThresholdAreCheckpointedInTheBackground() throws {
        let path = "\(directory)/vigil.sqlite"
        let store = try VigilStore(path: path)
        let initialSize = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        var index = 0
        // About 3 MB of payloads: well past 1,000 pages of WAL.
        for _ in 0..<30 {
            try store.transaction { tx in
                for _ in 0..<200 {
                    _ = try tx.apply(observation(index), fileSHA256: "f\(index / 200)", at: t0)
                    index += 1
                }
            }
        }
        store.checkpointer.drain()
        XCTAssertGreaterThan(store.checkpointer.runs.load(ordering: .relaxed), 0, "the writer handed checkpoints to the background")
        XCTAssertEqual(store.checkpointer.failures.load(ordering: .relaxed), 0)
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertGreaterThan(size, initialSize + 1_000_000, "pages were copied into the database file")
        let wal = try walState(path)
        XCTAssertLessThan(wal.log, Int(BackgroundCheckpointer.inlineFrames), "the WAL stayed bounded")
        XCTAssertEqual(try store.statistics().storedRecords, 6000)

        // Nothing was lost between the WAL and the file: a new store on the same file reads it all.
        let reopened = try VigilStore(path: path)
        XCTAssertEqual(try reopened.pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records") }, 6000)
        XCTAssertEqual(try reopened.pool.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") }, "ok")
    }

    /// Below the threshold nothing is checkpointed in the background: a commit at light load costs
    /// one checkpoint of nothing, not an fsync of the database file.
    func testSmallCommitsLeaveTheCheckpointToLater() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        for index in 0..<5 {
            try store.transaction { tx in _ = try tx.apply(observation(index), fileSHA256: "f\(index)", at: t0) }
        }
        store.checkpointer.drain()
        XCTAssertEqual(store.checkpointer.runs.load(ordering: .relaxed), 0)
    }
}
