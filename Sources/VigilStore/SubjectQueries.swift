import Foundation
import GRDB
import VigilCore

/// What the clinical rules need to know about one subject at one moment, read from the store.
public struct SubjectInputs: Sendable, Equatable {
    /// Newest non-withdrawn value of each code at or before the moment.
    public var latest: [String: TimedValue]
    public var adverseEvents: [AdverseEvent]
    public var events: [ClinicalEvent]
}

/// Subject-level reads shared by the write transaction (evaluation) and the control socket (`subject`).
enum SubjectQueries {
    /// The store's one payload decoder.
    static var decoder: JSONDecoder { StoreTransaction.decoder }

    static func fact<T: Decodable>(_ db: Database, _ type: T.Type, subject: String, key: String) throws -> T? {
        guard let data = try Data.fetchOne(db.cachedStatement(sql: "SELECT payload FROM subject_facts WHERE subject = ? AND key = ?"), arguments: [subject, key]) else { return nil }
        return try StoreTransaction.decoder.decode(type, from: data)
    }

    /// Observation codes in a fixed order, so each evaluation asks the same prepared statements.
    static let observationCodes = CanonicalCodes.all.keys.sorted()

    static func inputs(_ db: Database, subject: String, asOf: Date) throws -> SubjectInputs {
        let history = try history(db, subject: subject)
        return SubjectInputs(latest: try latest(db, subject: subject, asOf: asOf), adverseEvents: history.adverseEvents, events: history.events)
    }

    static let observationCodeSet = Set(observationCodes)

    /// Each code's newest row for one subject (store v10 keeps them in newest_observations), with
    /// the columns evaluation reads and the code's `first_time`.
    static let newestSQL = """
        SELECT n.code, r.id, r.time, r.value, r.value_kind, r.value_text, r.low, r.high, r.rowid, n.first_time
        FROM newest_observations n JOIN records r ON r.rowid = n.row
        WHERE n.subject = ?
        """

    /// A subject's current observations at or before a moment, newest first (time, then the last
    /// applied): the walk back for codes whose newest row is later than the moment.
    static let walkBackSQL = """
        SELECT code, id, time, value, value_kind, value_text, low, high, rowid
        FROM records INDEXED BY records_by_subject_time
        WHERE subject = ? AND time <= ? AND type = 'observation' AND retracted_at IS NULL
        ORDER BY time DESC, rowid DESC
        """

    /// Newest non-withdrawn value of each code at or before `asOf`. The value comes from the v8
    /// columns; a row applied before v8 has none and its payload is decoded instead.
    static func latest(_ db: Database, subject: String, asOf: Date) throws -> [String: TimedValue] {
        try newestRows(db, subject: subject, asOf: asOf.timeIntervalSince1970).mapValues(\.value)
    }

    /// The newest row of each code at or before `asOf` (seconds since 1970), with its time and rowid
    /// as stored: what `LatestValues` keeps. A code whose newest row is at or before the moment is
    /// answered by newest_observations alone (evaluation nearly always asks about the present); for
    /// the others the subject's rows are walked back from the moment, and the walk ends when each has
    /// been found or the rows are older than every such code's `first_time`.
    static func newestRows(_ db: Database, subject: String, asOf: Double) throws -> [String: LatestValues.Entry] {
        var latest: [String: LatestValues.Entry] = [:]
        var legacyRows: [(row: Int64, time: Double)] = []
        /// Codes with a row after the moment and perhaps one at or before it, with their `first_time`.
        var pending: [String: Double] = [:]
        func take(_ row: Row) {
            // Columns by position (the order of both SELECTs above): no name lookup per value.
            let value: ObservationValue?
            switch row[4] as String? {
            case "number": value = (row[3] as Double?).map(ObservationValue.number)
            case "text": value = (row[5] as String?).map(ObservationValue.text)
            case "flag": value = (row[5] as String?).map { .flag($0 == "true") }
            default: value = nil
            }
            let rowid: Int64 = row[8]
            if let value, let time = row[2] as Double? {
                latest[row[0]] = LatestValues.Entry(
                    time: time, row: rowid,
                    value: TimedValue(value: value, time: Date(timeIntervalSince1970: time), record: row[1], low: row[6], high: row[7]))
            } else {
                legacyRows.append((rowid, row[2] as Double? ?? 0))
            }
        }
        let newest = try Row.fetchCursor(db.cachedStatement(sql: newestSQL), arguments: [subject])
        while let row = try newest.next() {
            let code: String = row[0]
            guard observationCodeSet.contains(code) else { continue }
            let time: Double = row[2]
            if time <= asOf {
                take(row)
            } else {
                let firstTime: Double = row[9]
                if firstTime <= asOf { pending[code] = firstTime }
            }
        }
        if let oldestFirst = pending.values.min() {
            let rows = try Row.fetchCursor(db.cachedStatement(sql: walkBackSQL), arguments: [subject, asOf])
            while !pending.isEmpty, let row = try rows.next() {
                let time: Double = row[2]
                if time < oldestFirst { break }
                if pending.removeValue(forKey: row[0]) != nil { take(row) }
            }
        }
        for (rowid, time) in legacyRows {
            guard let data = try Data.fetchOne(db.cachedStatement(sql: "SELECT payload FROM records WHERE rowid = ?"), arguments: [rowid]),
                  case .observation(let o) = try decoder.decode(Record.self, from: data) else { continue }
            latest[o.code] = LatestValues.Entry(time: time, row: rowid, value: TimedValue(value: o.value, time: o.time, record: o.id, low: o.low, high: o.high))
        }
        return latest
    }

    /// Keeps a subject's newest row of `code` in newest_observations after a row of that code was
    /// amended or withdrawn (rare: a walk back through the subject's rows, not a lookup). `earliest`
    /// is the time of a row just amended into the code, which may be older than `first_time`.
    static func refreshNewest(_ db: Database, subject: String, code: String, earliest: Double? = nil) throws {
        let newest = try Row.fetchOne(db.cachedStatement(sql: """
            SELECT rowid, time FROM records INDEXED BY records_by_subject_time
            WHERE subject = ? AND code = ? AND type = 'observation' AND retracted_at IS NULL
            ORDER BY time DESC, rowid DESC LIMIT 1
            """), arguments: [subject, code])
        guard let newest, let time = newest[1] as Double? else {
            try db.execute(sql: "DELETE FROM newest_observations WHERE subject = ? AND code = ?", arguments: [subject, code])
            return
        }
        let first = min(time, earliest ?? time)
        try db.execute(sql: """
            INSERT INTO newest_observations (subject, code, time, row, first_time) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (subject, code) DO UPDATE SET time = excluded.time, row = excluded.row, first_time = MIN(first_time, excluded.first_time)
            """, arguments: [subject, code, time, newest[0] as Int64, first])
    }

    /// A subject's adverse events and events, oldest first (all of them: they do not depend on the moment).
    static func history(_ db: Database, subject: String) throws -> SubjectHistory {
        var adverseEvents: [AdverseEvent] = []
        var events: [ClinicalEvent] = []
        for data in try Data.fetchAll(db.cachedStatement(sql: """
            SELECT payload FROM records INDEXED BY records_history_by_subject
            WHERE subject = ? AND code IS NULL AND type IN ('adverse_event', 'event') AND retracted_at IS NULL ORDER BY time, rowid
            """), arguments: [subject])
        {
            switch try decoder.decode(Record.self, from: data) {
            case .adverseEvent(let ae): adverseEvents.append(ae)
            case .event(let event): events.append(event)
            case .observation: break
            }
        }
        return (adverseEvents, events)
    }
}

extension StoreTransaction {
    public func subjectInputs(subject: String, asOf: Date) throws -> SubjectInputs {
        try SubjectQueries.inputs(db, subject: subject, asOf: asOf)
    }

    /// Newest non-withdrawn value of each code at or before `asOf`: from the subject's newest values
    /// kept in memory (`LatestValues`) when they answer it, else from the store.
    public func latestValues(subject: String, asOf: Date) throws -> ObservationSlots {
        try scope.latest(subject: subject, asOf: asOf.timeIntervalSince1970,
                         load: { LatestValues(newest: try SubjectQueries.newestRows(db, subject: subject, asOf: .greatestFiniteMagnitude)) },
                         query: { try SubjectQueries.latest(db, subject: subject, asOf: asOf) })
    }

    /// The subject's adverse events and events; they do not depend on the moment, so evaluation reads
    /// them once per subject and file, not once per time point.
    public func subjectHistory(subject: String) throws -> SubjectHistory {
        try scope.history(subject: subject) { try SubjectQueries.history(db, subject: subject) }
    }

    /// A per-subject fact kept between evaluations (such as the SOFA baseline), as JSON.
    public func fact<T: Decodable>(_ type: T.Type, subject: String, key: String) throws -> T? {
        try SubjectQueries.fact(db, type, subject: subject, key: key)
    }

    func saveFact(_ value: some Encodable, subject: String, key: String) throws {
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO subject_facts (subject, key, payload) VALUES (?, ?, ?)")
            .execute(arguments: [subject, key, try Self.encoder.encode(value)])
    }

    static let sofaBaselineKey = "sofa_baseline"

    /// The subject's SOFA baseline, from the evaluation cache when it holds it.
    public func sofaBaseline(subject: String) throws -> SOFABaseline? {
        try scope.sofaBaseline(subject: subject) { try fact(SOFABaseline.self, subject: subject, key: Self.sofaBaselineKey) }
    }

    /// Writes the subject's SOFA baseline; returns it as stored (JSON keeps whole seconds), which is
    /// what the cache keeps, so a warm daemon and a restarted one see the same baseline.
    @discardableResult
    public func saveSOFABaseline(_ baseline: SOFABaseline, subject: String) throws -> SOFABaseline {
        try saveFact(baseline, subject: subject, key: Self.sofaBaselineKey)
        let stored = try Self.asStored(baseline, dates: [baseline.firstSeen])
        try scope.sofaBaselineSaved(stored, subject: subject)
        return stored
    }

    /// How many distinct events of `kind` the trial has recorded (endpoint counts such as ICU transfers).
    public func countEvents(kind: String) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM records WHERE type = 'event' AND retracted_at IS NULL AND json_extract(payload, '$.event._0.kind') = ?",
                         arguments: [kind]) ?? 0
    }
}

extension VigilStore {
    public func subjectInputs(subject: String, asOf: Date) throws -> SubjectInputs {
        try pool.read { db in try SubjectQueries.inputs(db, subject: subject, asOf: asOf) }
    }

    public func signalStates(subject: String) throws -> [SignalState] {
        try pool.read { db in
            try Data.fetchAll(db, sql: "SELECT payload FROM signal_state WHERE subject = ? ORDER BY rule", arguments: [subject])
                .map { try StoreTransaction.decoder.decode(SignalState.self, from: $0) }
        }
    }

    public func fact<T: Decodable>(_ type: T.Type, subject: String, key: String) throws -> T? {
        try pool.read { db in try SubjectQueries.fact(db, type, subject: subject, key: key) }
    }

    /// Every subject with at least one record, sorted.
    public func subjects() throws -> [String] {
        try pool.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT subject FROM records ORDER BY subject") }
    }
}
