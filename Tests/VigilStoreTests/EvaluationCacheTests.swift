import XCTest
import VigilCore
@testable import VigilStore

/// The in-memory evaluation cache must only ever hold what is committed: a rolled-back transaction
/// leaves no trace, and a change of adverse events or events (new, amended, withdrawn) is seen by the
/// next evaluation. Each check compares the cached read with a fresh read of the database.
final class EvaluationCacheTests: StoreTestCase {
    let subject = "LYS-01-001"

    struct Rollback: Error {}

    func state(_ severity: Severity?) -> SignalState {
        SignalState(rule: "lactate", subject: subject, severity: severity, since: severity == nil ? nil : t0, evidenceTime: t0, alertID: nil)
    }

    func adverseEvent(_ id: String, term: String) -> VigilCore.Record {
        .adverseEvent(AdverseEvent(id: id, subject: subject, onset: "2026-11-20", onsetTime: t0, term: term, meddraPT: nil, grade: 2,
                                   serious: [], related: nil, expected: nil, outcome: nil, aware: nil))
    }

    /// The SOFA baseline is kept in the cache as stored (whole seconds), and a rolled-back one is not.
    func testSOFABaselineFromTheCacheIsTheStoredOne() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        XCTAssertNil(try store.transaction { tx in try tx.sofaBaseline(subject: subject) })  // caches "none yet"
        let fractional = SOFABaseline(firstSeen: t0.addingTimeInterval(0.75), value: 3)
        let stored = try store.transaction { tx in try tx.saveSOFABaseline(fractional, subject: subject) }
        XCTAssertEqual(stored, SOFABaseline(firstSeen: t0, value: 3), "JSON keeps whole seconds")
        XCTAssertEqual(try store.transaction { tx in try tx.sofaBaseline(subject: subject) }, stored)
        XCTAssertEqual(try store.fact(SOFABaseline.self, subject: subject, key: "sofa_baseline"), stored)
        XCTAssertThrowsError(try store.transaction { tx in
            try tx.saveSOFABaseline(SOFABaseline(firstSeen: t0, value: 1), subject: subject)
            throw Rollback()
        })
        XCTAssertEqual(try store.transaction { tx in try tx.sofaBaseline(subject: subject) }?.value, 3)
    }

    func testRolledBackStateNeverReachesTheCache() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        _ = try store.transaction { tx in try tx.saveSignalState(state(.warning)) }
        XCTAssertThrowsError(try store.transaction { tx in
            try tx.saveSignalState(state(.critical))
            XCTAssertEqual(try tx.signalState(rule: "lactate", subject: subject)?.severity, .critical)  // its own write
            throw Rollback()
        })
        let cached = try store.transaction { tx in try tx.signalStates(subject: subject) }
        XCTAssertEqual(cached["lactate"]?.severity, .warning)
        XCTAssertEqual(try store.signalStates(subject: subject), Array(cached.values))
    }

    /// A commit can fail after the transaction's work is done (a full disk fails at COMMIT). A deferred
    /// foreign key does the same here: checked at COMMIT, after the scope handed its changes over.
    func testStateOfATransactionWhoseCommitFailsIsNotUsed() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        try store.pool.write { db in
            try db.execute(sql: """
                CREATE TABLE parent (id INTEGER PRIMARY KEY);
                CREATE TABLE child (parent INTEGER REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED);
                """)
        }
        _ = try store.transaction { tx in try tx.saveSignalState(state(.warning)) }
        XCTAssertThrowsError(try store.transaction { tx in
            try tx.saveSignalState(state(.critical))
            try tx.db.execute(sql: "INSERT INTO child (parent) VALUES (42)")  // fails only at COMMIT
        }) { error in XCTAssertTrue("\(error)".contains("FOREIGN KEY"), "\(error)") }
        let seen = try store.transaction { tx in try tx.signalStates(subject: subject) }
        XCTAssertEqual(seen["lactate"]?.severity, .warning, "the failed commit's state must not be used")
        XCTAssertEqual(try store.signalStates(subject: subject), [state(.warning)])
        // And the cache works again after it: a committed change is seen.
        _ = try store.transaction { tx in try tx.saveSignalState(state(.critical)) }
        XCTAssertEqual(try store.transaction { tx in try tx.signalStates(subject: subject) }["lactate"]?.severity, .critical)
    }

    func testCommittedStateIsSeenByTheNextTransactionAndMatchesTheDatabase() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        _ = try store.transaction { tx in try tx.signalStates(subject: subject) }  // caches "no state"
        _ = try store.transaction { tx in try tx.saveSignalState(state(.critical)) }
        let cached = try store.transaction { tx in try tx.signalStates(subject: subject) }
        XCTAssertEqual(cached["lactate"]?.severity, .critical)
        XCTAssertEqual(try store.signalStates(subject: subject), [state(.critical)])
    }

    func testCachedStateHasTheStoredWholeSeconds() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        var precise = state(.warning)
        precise.evidenceTime = t0.addingTimeInterval(0.7)
        let stored = try store.transaction { tx in try tx.saveSignalState(precise) }
        XCTAssertEqual(stored.evidenceTime, t0)
        let cached = try store.transaction { tx in try tx.signalStates(subject: subject) }
        XCTAssertEqual(cached["lactate"], stored)
        XCTAssertEqual(try store.signalStates(subject: subject), [stored])
    }

    func testHistoryFollowsNewAmendedAndWithdrawnAdverseEvents() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        func history() throws -> [String] { try store.transaction { tx in try tx.subjectHistory(subject: subject).adverseEvents.map(\.term) } }
        XCTAssertEqual(try history(), [])
        try store.transaction { tx in _ = try tx.apply(adverseEvent("AE-1", term: "rash"), fileSHA256: "f1", at: t0) }
        XCTAssertEqual(try history(), ["rash"])
        try store.transaction { tx in _ = try tx.apply(adverseEvent("AE-1", term: "sepsis"), fileSHA256: "f2", at: t0) }
        XCTAssertEqual(try history(), ["sepsis"])
        // Read inside the transaction that applies it, then rolled back: the cache keeps "sepsis" only.
        XCTAssertThrowsError(try store.transaction { tx in
            _ = try tx.apply(adverseEvent("AE-2", term: "pneumonia"), fileSHA256: "f3", at: t0)
            XCTAssertEqual(try tx.subjectHistory(subject: subject).adverseEvents.map(\.term), ["sepsis", "pneumonia"])
            throw Rollback()
        })
        XCTAssertEqual(try history(), ["sepsis"])
        try store.transaction { tx in _ = try tx.retract(["AE-1"], at: t0) }
        XCTAssertEqual(try history(), [])
        XCTAssertEqual(try store.subjectInputs(subject: subject, asOf: t0).adverseEvents, [])
    }
}
