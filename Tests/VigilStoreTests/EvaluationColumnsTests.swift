import XCTest
import GRDB
import VigilCore
@testable import VigilStore

/// Store v8 reads a subject's newest values from columns instead of decoding each payload. The two
/// paths must give the same inputs: rows applied before v8 have no columns and are still decoded.
final class EvaluationColumnsTests: StoreTestCase {

    func observation(_ id: String, _ code: String, _ value: ObservationValue, minutes: Double, low: Double? = nil, high: Double? = nil) -> VigilCore.Record {
        .observation(Observation(id: id, subject: "LYS-01-001", time: t0.addingTimeInterval(minutes * 60), code: code, value: value,
                                 unit: value.number == nil ? nil : "u", low: low, high: high))
    }

    func testColumnsAndPayloadGiveTheSameNewestValues() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        let records = [
            observation("a", "lactate", .number(2.5), minutes: 0, low: 0.5, high: 2.2),
            observation("b", "lactate", .number(4.5), minutes: 30, low: 0.5, high: 2.2),
            observation("c", "lactate", .number(9.9), minutes: 90),  // after the moment asked about
            observation("d", "blood_culture", .text("positive"), minutes: 10),
            observation("e", "oxygen", .flag(true), minutes: 20),
            observation("f", "consciousness", .text("V"), minutes: 5),
        ]
        let asOf = t0.addingTimeInterval(60 * 60)
        let fromColumns = try store.transaction { tx in
            for record in records { _ = try tx.apply(record, fileSHA256: "f1", at: t0) }
            return try tx.latestValues(subject: "LYS-01-001", asOf: asOf)
        }
        XCTAssertEqual(fromColumns["lactate"], TimedValue(value: .number(4.5), time: t0.addingTimeInterval(1800), record: "b", low: 0.5, high: 2.2))
        XCTAssertEqual(fromColumns["blood_culture"]?.value, .text("positive"))
        XCTAssertEqual(fromColumns["oxygen"]?.value, .flag(true))
        XCTAssertEqual(fromColumns["consciousness"]?.value, .text("V"))
        XCTAssertEqual(fromColumns.count, 4)

        // As if every row had been applied before v8: no columns, so the payload is decoded.
        let fromPayload = try store.pool.write { db in
            try db.execute(sql: "UPDATE records SET value_kind = NULL, value_text = NULL, low = NULL, high = NULL")
            return try SubjectQueries.latest(db, subject: "LYS-01-001", asOf: asOf)
        }
        XCTAssertEqual(ObservationSlots(fromPayload), fromColumns)
    }

    func testAmendmentRewritesTheColumns() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        let latest = try store.transaction { tx in
            _ = try tx.apply(observation("a", "lactate", .number(2.5), minutes: 0, high: 2.2), fileSHA256: "f1", at: t0)
            XCTAssertEqual(try tx.apply(observation("a", "lactate", .number(5.1), minutes: 0), fileSHA256: "f2", at: t0), .amended(revision: 2))
            return try tx.latestValues(subject: "LYS-01-001", asOf: t0)
        }
        XCTAssertEqual(latest["lactate"], TimedValue(value: .number(5.1), time: t0, record: "a", low: nil, high: nil))
    }

    func testTrialPassUsesThePartialIndexesNotAScanOfEveryRecord() throws {
        let store = try VigilStore(path: "\(directory)/vigil.sqlite")
        let plans = try store.pool.read { db in
            try ["SELECT payload FROM records WHERE type = 'adverse_event' AND retracted_at IS NULL ORDER BY time, rowid",
                 "SELECT payload FROM records WHERE type = 'event' AND retracted_at IS NULL AND json_extract(payload, '$.event._0.kind') = 'infusion' ORDER BY time, rowid"].map { sql in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql).map { $0["detail"] as String }.joined(separator: "; ")
            }
        }
        XCTAssertTrue(plans[0].contains("records_adverse_events"), plans[0])
        XCTAssertTrue(plans[1].contains("records_events"), plans[1])
    }
}
