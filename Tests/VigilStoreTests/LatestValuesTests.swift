import XCTest
import GRDB
import VigilCore
@testable import VigilStore

/// Evaluation reads a subject's newest value per code from memory (`LatestValues`, kept in the
/// evaluation cache) instead of asking the store at every time point. Every answer must be the
/// store's: these tests hold the two to each other over random histories (out-of-order times, equal
/// times, codes never seen, amendments, withdrawals, rolled-back transactions, answers reaching past
/// what memory keeps).
final class LatestValuesTests: StoreTestCase {
    let subjects = ["LYS-01-001", "LYS-01-002"]
    let codes = ["lactate", "heart_rate", "blood_culture", "oxygen", "creatinine"]

    struct Rollback: Error {}

    func observation(_ id: String, subject: String, code: String, minutes: Int, value: Double) -> VigilCore.Record {
        let observed: ObservationValue = switch code {
        case "blood_culture": .text(value > 50 ? "positive" : "negative")
        case "oxygen": .flag(value > 50)
        default: .number(value)
        }
        return .observation(Observation(id: id, subject: subject, time: t0.addingTimeInterval(Double(minutes) * 60), code: code, value: observed,
                                        unit: observed.number == nil ? nil : "u", low: value > 70 ? 1 : nil, high: value > 70 ? 2.5 : nil))
    }

    /// The store's own answer, read past every cache.
    func fromStore(_ store: VigilStore, subject: String, asOf: Date) throws -> [String: TimedValue] {
        try store.pool.read { db in try SubjectQueries.latest(db, subject: subject, asOf: asOf) }
    }

    /// The answer worked out from every row of the subject (no index, no newest_observations):
    /// the oracle for the store's own answer.
    func everyRow(_ db: Database, subject: String, asOf: Date) throws -> [String: LatestValues.Entry] {
        var best: [String: LatestValues.Entry] = [:]
        for row in try Row.fetchAll(db, sql: """
            SELECT rowid, time, payload FROM records NOT INDEXED WHERE subject = ? AND type = 'observation' AND retracted_at IS NULL
            """, arguments: [subject])
        {
            guard case .observation(let o) = try StoreTransaction.decoder.decode(VigilCore.Record.self, from: row["payload"] as Data) else { continue }
            let time: Double = row["time"]
            let entry = LatestValues.Entry(time: time, row: row["rowid"], value: TimedValue(
                value: o.value, time: Date(timeIntervalSince1970: time), record: o.id, low: o.low, high: o.high))
            guard time <= asOf.timeIntervalSince1970, SubjectQueries.observationCodeSet.contains(o.code) else { continue }
            if let kept = best[o.code], !kept.isBefore(entry) { continue }
            best[o.code] = entry
        }
        return best
    }

    /// newest_observations holds, for each subject and code with a current row, the newest such row
    /// and a `first_time` no later than the oldest, and nothing for a code without one.
    func assertNewestTableAgrees(_ db: Database, subjects: [String], _ context: String) throws {
        for subject in subjects {
            let expected = try everyRow(db, subject: subject, asOf: .distantFuture)
            let kept = try Row.fetchAll(db, sql: "SELECT code, row, first_time FROM newest_observations WHERE subject = ?", arguments: [subject])
            XCTAssertEqual(Dictionary(uniqueKeysWithValues: kept.map { ($0["code"] as String, $0["row"] as Int64) }), expected.mapValues(\.row), context)
            for row in kept {
                let oldest = try Double.fetchOne(db, sql: """
                    SELECT MIN(time) FROM records NOT INDEXED WHERE subject = ? AND code = ? AND type = 'observation' AND retracted_at IS NULL
                    """, arguments: [subject, row["code"] as String])
                XCTAssertLessThanOrEqual(row["first_time"] as Double, oldest ?? -.infinity, "\(context): first_time of \(row["code"] as String)")
            }
        }
    }

    func testNewestValuesFromMemoryEqualTheStoresOverRandomHistories() throws {
        for seed in UInt64(1)...6 {
            try FileManager.default.createDirectory(atPath: "\(directory)/\(seed)", withIntermediateDirectories: true)
            let store = try VigilStore(path: "\(directory)/\(seed)/vigil.sqlite")
            var random = SplitMix64(seed: seed)
            var nextID = 0
            var ids: [String] = []
            var compared = 0
            for batch in 0..<60 {
                let rollback = Int.random(in: 0..<10, using: &random) == 0
                do {
                    try store.transaction { tx in
                        for _ in 0..<Int.random(in: 1...12, using: &random) {
                            let subject = subjects.randomElement(using: &random)!
                            let code = codes.randomElement(using: &random)!
                            // Mostly forward in time, sometimes far back (a late lab), sometimes an equal time.
                            let minutes = batch * 60 + Int.random(in: -30...30, using: &random) - (Int.random(in: 0..<8, using: &random) == 0 ? 1_440 : 0)
                            let value = Double(Int.random(in: 0...100, using: &random))
                            let choice = Int.random(in: 0..<20, using: &random)
                            if choice == 0, let id = ids.randomElement(using: &random) {
                                _ = try tx.retract([id], at: t0)
                            } else if choice == 1, let id = ids.randomElement(using: &random) {
                                // An amendment: same id, new content (maybe a new time, code or subject).
                                _ = try tx.apply(observation(id, subject: subject, code: code, minutes: minutes, value: value), fileSHA256: "f", at: t0)
                            } else {
                                nextID += 1
                                let id = "r\(nextID)"
                                _ = try tx.apply(observation(id, subject: subject, code: code, minutes: minutes, value: value), fileSHA256: "f", at: t0)
                                if !rollback { ids.append(id) }
                            }
                            // Ask as evaluation does, inside the transaction, at a moment around the new data.
                            let asOf = t0.addingTimeInterval(Double(batch * 60 + Int.random(in: -1_500...40, using: &random)) * 60)
                            let inMemory = try tx.latestValues(subject: subject, asOf: asOf)
                            let direct = try SubjectQueries.latest(tx.db, subject: subject, asOf: asOf)
                            XCTAssertEqual(inMemory, ObservationSlots(direct), "seed \(seed), batch \(batch), inside the transaction")
                            XCTAssertEqual(direct, try everyRow(tx.db, subject: subject, asOf: asOf).mapValues(\.value),
                                           "seed \(seed), batch \(batch): the store's answer against every row")
                            compared += 1
                        }
                        if rollback { throw Rollback() }
                    }
                } catch is Rollback {}
                try store.pool.read { db in try assertNewestTableAgrees(db, subjects: subjects, "seed \(seed), batch \(batch)") }
                // After the commit (or the rollback), a new transaction answers from the cache.
                for subject in subjects {
                    let asOf = t0.addingTimeInterval(Double(batch * 60 + Int.random(in: -600...60, using: &random)) * 60)
                    let cached = try store.transaction { tx in try tx.latestValues(subject: subject, asOf: asOf) }
                    XCTAssertEqual(cached, ObservationSlots(try fromStore(store, subject: subject, asOf: asOf)), "seed \(seed), batch \(batch), next transaction")
                    compared += 1
                }
            }
            XCTAssertGreaterThan(compared, 400)
        }
    }

    /// The kept suffix is cut back between transactions; a moment before it is answered by the store,
    /// not by the oldest value kept (which would be a wrong, newer value).
    func testAMomentBeforeWhatIsKeptIsAnsweredByTheStore() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        let count = LatestValues.keptPerCode + 4
        try store.transaction { tx in
            for index in 0..<count {
                _ = try tx.apply(observation("l\(index)", subject: subjects[0], code: "lactate", minutes: index * 60, value: Double(index)),
                                 fileSHA256: "f", at: t0)
            }
            _ = try tx.latestValues(subject: subjects[0], asOf: t0)  // loads the subject's values into this transaction
        }
        for index in 0..<count {
            let asOf = t0.addingTimeInterval(Double(index * 60 + 1) * 60)
            let cached = try store.transaction { tx in try tx.latestValues(subject: subjects[0], asOf: asOf) }
            XCTAssertEqual(cached["lactate"]?.record, "l\(index)")
        }
        XCTAssertEqual(try store.transaction { tx in try tx.latestValues(subject: subjects[0], asOf: t0.addingTimeInterval(-60)) }, ObservationSlots())
    }

    /// A store made before v10 gets newest_observations from the rows it holds: the newest current
    /// row of each code (among equal times the last applied), withdrawn rows left out.
    func testUpgradeFillsTheNewestRowOfEachCode() throws {
        let path = "\(directory)/old.sqlite"
        let old = try DatabaseQueue(path: path)
        try VigilStore.migrator.migrate(old, upTo: "v9-status-indexes")
        let rows: [(id: String, subject: String, code: String, minutes: Int, retracted: Bool)] = [
            ("a", subjects[0], "lactate", 0, false), ("b", subjects[0], "lactate", 60, false), ("c", subjects[0], "lactate", 60, false),
            ("d", subjects[0], "lactate", 120, true), ("e", subjects[0], "heart_rate", 30, false), ("f", subjects[1], "lactate", 10, false),
            ("g", subjects[1], "oxygen", 5, true),
        ]
        try old.write { db in
            for row in rows {
                let record = observation(row.id, subject: row.subject, code: row.code, minutes: row.minutes, value: 10)
                let columns = StoreTransaction.EvaluationColumns(record)
                try db.execute(sql: """
                    INSERT INTO records (id, type, subject, time, code, value, value_kind, value_text, low, high, content_hash, payload,
                                         revision, file_sha256, applied_at, retracted_at)
                    VALUES (?, 'observation', ?, ?, ?, ?, ?, ?, ?, ?, 'h', ?, 1, 'f', 0, ?)
                    """, arguments: [row.id, row.subject, record.time!.timeIntervalSince1970, row.code, columns.value, columns.kind, columns.text,
                                     columns.low, columns.high, try Digest.canonicalJSON(record), row.retracted ? 0.0 : nil])
            }
        }
        try old.close()
        let store = try VigilStore(path: path)
        try store.pool.read { db in
            try assertNewestTableAgrees(db, subjects: subjects, "after the upgrade")
            XCTAssertEqual(try SubjectQueries.latest(db, subject: subjects[0], asOf: .distantFuture)["lactate"]?.record, "c")
            XCTAssertEqual(try SubjectQueries.latest(db, subject: subjects[0], asOf: t0.addingTimeInterval(59 * 60))["lactate"]?.record, "a")
            XCTAssertNil(try SubjectQueries.latest(db, subject: subjects[1], asOf: .distantFuture)["oxygen"])
            XCTAssertEqual(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM newest_observations"), 3)
        }
    }

    /// The reads of a subject's rows walk an index in its own order (by subject and time, not by
    /// code): no sort of a subject's rows, no scan of the table.
    func testSubjectReadsWalkTheirIndexesWithoutSorting() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        let plans = try store.pool.read { db in
            try [
                SubjectQueries.walkBackSQL.replacingOccurrences(of: "?", with: "1"),
                "SELECT payload FROM records INDEXED BY records_history_by_subject WHERE subject = 'S' AND code IS NULL AND type IN ('adverse_event', 'event') AND retracted_at IS NULL ORDER BY time, rowid",
                SubjectQueries.newestSQL.replacingOccurrences(of: "?", with: "'S'"),
            ].map { sql in try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ") }
        }
        XCTAssertTrue(plans[0].contains("records_by_subject_time") && !plans[0].contains("TEMP B-TREE"), plans[0])
        XCTAssertTrue(plans[1].contains("records_history_by_subject") && !plans[1].contains("TEMP B-TREE"), plans[1])
        XCTAssertTrue(plans[2].contains("SEARCH n USING PRIMARY KEY (subject=?)") && plans[2].contains("SEARCH r USING INTEGER PRIMARY KEY"), plans[2])
    }

    func testSuffixKeepsItsOrderAndKnowsWhenOlderRowsExist() {
        func entry(_ time: Double, _ row: Int64) -> LatestValues.Entry {
            .init(time: time, row: row, value: TimedValue(value: .number(time), time: Date(timeIntervalSince1970: time), record: "r\(row)"))
        }
        var latest = LatestValues(newest: [:])
        XCTAssertEqual(latest.values(asOf: 100), ObservationSlots(), "no row of any code: the answer is known to be empty")
        latest.insert(code: "lactate", entry(50, 1))
        latest.insert(code: "lactate", entry(70, 2))
        latest.insert(code: "lactate", entry(60, 3))
        latest.insert(code: "lactate", entry(60, 4))
        XCTAssertEqual(latest.codes[ObservationSlots.slot(of: "lactate")!].entries.map(\.row), [1, 3, 4, 2])
        XCTAssertEqual(latest.values(asOf: 65)?["lactate"]?.record, "r4", "among equal times the last applied wins")
        XCTAssertEqual(latest.values(asOf: 40), ObservationSlots())
        latest.insert(code: "lactate", entry(10, 5))  // older than the suffix
        XCTAssertNil(latest.values(asOf: 40), "an older row exists that memory does not hold")
        XCTAssertEqual(latest.values(asOf: 55)?["lactate"]?.record, "r1")
        latest.insert(code: "not_a_code", entry(80, 6))
        XCTAssertEqual(latest.codes.count, ObservationSlots.codes.count, "a code outside the table gets no slot")
        XCTAssertNil(latest.values(asOf: 100)?["not_a_code"])
    }
}
