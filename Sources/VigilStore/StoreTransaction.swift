import Foundation
import GRDB
import VigilCore

/// A record as the store keeps it: its canonical JSON and that JSON's SHA-256, which tells an
/// unchanged re-send from an amendment. Pure work on the record alone, so it can be made on any thread.
public struct StoredPayload: Sendable {
    public let json: Data
    public let sha256: String

    public init(_ record: VigilCore.Record) throws {
        json = try Digest.canonicalJSON(record)
        sha256 = Digest.sha256Hex(json)
    }
}

/// What applying one record did.
public enum RecordApplication: Sendable, Equatable {
    /// First time this record id was seen.
    case new
    /// Same id, same content: nothing changed.
    case unchanged
    /// Same id, different content: the record was replaced and the old version kept.
    case amended(revision: Int)
}

/// The store contradicted itself (a row neither inserted nor present); the transaction is abandoned.
public struct StoreInconsistency: Error, CustomStringConvertible {
    public let detail: String
    public var description: String { detail }
}

/// The operations available inside one write transaction (see `VigilStore.transaction`).
public struct StoreTransaction {
    let db: Database
    /// This transaction's side of the evaluation cache.
    let scope: TransactionScope

    /// Inserts a record, or recognises it as unchanged or as an amendment of the stored version.
    public func apply(_ record: VigilCore.Record, fileSHA256: String, at time: Date) throws -> RecordApplication {
        try apply(record, payload: StoredPayload(record), fileSHA256: fileSHA256, at: time)
    }

    /// `apply` with the record's payload already made (by the read-ahead thread, off the writer's).
    public func apply(_ record: VigilCore.Record, payload stored: StoredPayload, fileSHA256: String, at time: Date) throws -> RecordApplication {
        let (payload, hash) = (stored.json, stored.sha256)
        let columns = EvaluationColumns(record)
        // Insert first: a new id (nearly every record) then costs one lookup of the primary key, not two.
        let insert = try RawStatement(db, sql: Self.insertRecordSQL)
        insert.bind(1, record.id)
        insert.bind(2, record.typeName)
        insert.bind(3, record.subject)
        insert.bind(4, record.time?.timeIntervalSince1970)
        insert.bind(5, columns.code)
        insert.bind(6, columns.value)
        insert.bind(7, columns.kind)
        insert.bind(8, columns.text)
        insert.bind(9, columns.low)
        insert.bind(10, columns.high)
        insert.bind(11, hash)
        insert.bind(12, payload)
        insert.bind(13, fileSHA256)
        insert.bind(14, time.timeIntervalSince1970)
        try insert.run()
        if db.changesCount > 0 {
            scope.insertedRecords += 1
            if case .observation(let o) = record {
                // The time as a read of the row gives it back (seconds since 1970), to the last bit.
                let time = o.time.timeIntervalSince1970
                let row = db.lastInsertedRowID
                // Nearly every row is its code's newest: a plain update, which is cheaper than the
                // upsert. A first row of the code, or a late one, takes the upsert.
                for sql in Self.newestSQL {
                    let newest = try RawStatement(db, sql: sql)
                    newest.bind(1, o.subject)
                    newest.bind(2, o.code)
                    newest.bind(3, time)
                    newest.bind(4, row)
                    try newest.run()
                    if db.changesCount > 0 { break }
                }
                try scope.observationInserted(subject: o.subject, code: o.code, LatestValues.Entry(
                    time: time, row: row,
                    value: TimedValue(value: o.value, time: Date(timeIntervalSince1970: time), record: o.id, low: o.low, high: o.high)))
            } else {
                try scope.historyChanged(subject: record.subject)
            }
            return .new
        }
        guard let existing = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT content_hash, payload, revision, type, subject, code FROM records WHERE id = ?"), arguments: [record.id])
        else { throw StoreInconsistency(detail: "record \(record.id) was neither inserted nor found") }
        let previousHash: String = existing["content_hash"]
        if previousHash == hash { return .unchanged }
        let revision: Int = existing["revision"] + 1
        try db.execute(sql: """
            INSERT INTO record_amendments (record_id, revision, previous_hash, previous_payload, file_sha256, amended_at)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [record.id, revision, previousHash, existing["payload"] as Data, fileSHA256, time.timeIntervalSince1970])
        try db.execute(sql: """
            UPDATE records SET type = ?, subject = ?, time = ?, code = ?, value = ?, value_kind = ?, value_text = ?, low = ?, high = ?,
                content_hash = ?, payload = ?, file_sha256 = ?, applied_at = ?, revision = ?, retracted_at = NULL WHERE id = ?
            """, arguments: [
                record.typeName, record.subject, record.time?.timeIntervalSince1970, columns.code, columns.value, columns.kind,
                columns.text, columns.low, columns.high, hash, payload, fileSHA256, time.timeIntervalSince1970, revision, record.id,
            ])
        // The newest row of the code the record left and of the one it joined (often the same).
        if existing["type"] as String == "observation", let code = existing["code"] as String? {
            try SubjectQueries.refreshNewest(db, subject: existing["subject"], code: code)
        }
        if case .observation(let o) = record {
            try SubjectQueries.refreshNewest(db, subject: o.subject, code: o.code, earliest: o.time.timeIntervalSince1970)
        }
        // An amendment may change the record's type or subject: any subject's history may have changed.
        try scope.historiesChanged()
        return .amended(revision: revision)
    }

    static let insertRecordSQL = """
        INSERT INTO records (id, type, subject, time, code, value, value_kind, value_text, low, high, content_hash, payload,
                             file_sha256, applied_at, revision)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
        ON CONFLICT (id) DO NOTHING
        """

    /// A new observation at or after its code's newest row becomes the newest (an equal time: the
    /// new row, the last applied, wins); `first_time` is already no later than it.
    static let updateNewestSQL = """
        UPDATE newest_observations SET time = ?3, row = ?4 WHERE subject = ?1 AND code = ?2 AND time <= ?3
        """

    /// The statements that keep a code's newest row, in the order they are tried (both bind the
    /// subject, code, time and rowid): made once, not per record.
    static let newestSQL = [updateNewestSQL, upsertNewestSQL]

    /// A new observation becomes its code's newest row unless a later one is there (an equal time:
    /// the new row, the last applied, wins); `first_time` goes back to it when it is older.
    static let upsertNewestSQL = """
        INSERT INTO newest_observations (subject, code, time, row, first_time) VALUES (?1, ?2, ?3, ?4, ?3)
        ON CONFLICT (subject, code) DO UPDATE SET
            row = CASE WHEN excluded.time >= time THEN excluded.row ELSE row END,
            time = MAX(time, excluded.time),
            first_time = MIN(first_time, excluded.time)
        """

    /// The parts of an observation evaluation reads, stored beside the payload (store v8).
    struct EvaluationColumns {
        var code: String?
        var value: Double?
        var kind: String?
        var text: String?
        var low: Double?
        var high: Double?

        init(_ record: VigilCore.Record) {
            guard case .observation(let o) = record else { return }
            code = o.code
            low = o.low
            high = o.high
            switch o.value {
            case .number(let number):
                kind = "number"
                value = number
            case .text(let string):
                kind = "text"
                text = string
            case .flag(let flag):
                kind = "flag"
                text = flag ? "true" : "false"
            }
        }
    }

    /// Marks records withdrawn by their sender; returns the ids that were present and not yet withdrawn.
    public func retract(_ ids: [String], at time: Date) throws -> [String] {
        var retracted: [String] = []
        for id in ids {
            guard let row = try Row.fetchOne(db.cachedStatement(sql: """
                UPDATE records SET retracted_at = ? WHERE id = ? AND retracted_at IS NULL RETURNING rowid, type, subject, code
                """), arguments: [time.timeIntervalSince1970, id]) else { continue }
            retracted.append(id)
            // Only the withdrawal of a code's newest row changes what newest_observations holds.
            if row["type"] as String == "observation", let code = row["code"] as String?,
               try Int64.fetchOne(db.cachedStatement(sql: "SELECT row FROM newest_observations WHERE subject = ? AND code = ?"),
                                  arguments: [row["subject"] as String, code]) == row["rowid"] as Int64 {
                try SubjectQueries.refreshNewest(db, subject: row["subject"], code: code)
            }
        }
        if !retracted.isEmpty { try scope.historiesChanged() }
        return retracted
    }

    public func signalState(rule: String, subject: String) throws -> SignalState? {
        try signalStates(subject: subject)[rule]
    }

    /// Every rule's state for one subject, by rule, as this transaction sees them: from the evaluation
    /// cache when the subject is in it, else read and decoded once.
    /// The latest moment `subject` was evaluated at, under which configuration, if this process
    /// knows it for the committed state (docs/ARCHITECTURE.md §4, incremental evaluation).
    public func evaluationMark(subject: String) throws -> EvaluationMark? {
        try scope.evaluated(subject: subject)
    }

    public func setEvaluationMark(_ mark: EvaluationMark, subject: String) throws {
        try scope.setEvaluated(mark, subject: subject)
    }

    public func signalStates(subject: String) throws -> [String: SignalState] {
        try scope.states(subject: subject) { try storedSignalStates(subject: subject) }
    }

    func storedSignalStates(subject: String) throws -> [String: SignalState] {
        var states: [String: SignalState] = [:]
        for data in try Data.fetchAll(db.cachedStatement(sql: "SELECT payload FROM signal_state WHERE subject = ?"), arguments: [subject]) {
            let state = try Self.decoder.decode(SignalState.self, from: data)
            states[state.rule] = state
        }
        return states
    }

    /// Saves a rule's state and returns it as stored: JSON keeps whole seconds, so a state kept in
    /// memory must be the one a later read of the database would give, or evaluation after a restart
    /// (or a replay) could differ from evaluation with a warm cache. The row is written once, with the
    /// last state, when the transaction's work ends (before COMMIT).
    @discardableResult
    public func saveSignalState(_ state: SignalState) throws -> SignalState {
        let stored = try Self.asStored(state, dates: [state.since, state.evidenceTime, state.endedAt])
        try scope.save(stored) { try storedSignalStates(subject: state.subject) }
        return stored
    }

    /// Adds an alert to the ledger; an id already there is left alone (a replay). Returns true when new.
    /// A `resolved` entry also closes the alert that opened the episode; a `reentered` one opens it again.
    @discardableResult
    public func record(_ alert: Alert, closing opened: String? = nil, reopening episode: String? = nil) throws -> Bool {
        try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO alerts (id, rule, phase, severity, subject, raised_at, payload)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                alert.id, alert.rule, alert.phase.rawValue, alert.severity.rawValue, alert.subject,
                alert.raisedAt.timeIntervalSince1970, try Self.encoder.encode(alert),
            ])
        let inserted = db.changesCount > 0
        if let opened {
            try db.execute(sql: "UPDATE alerts SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL",
                           arguments: [alert.raisedAt.timeIntervalSince1970, opened])
        }
        if let episode, inserted {
            try db.execute(sql: "UPDATE alerts SET resolved_at = NULL WHERE id = ?", arguments: [episode])
        }
        return inserted
    }

    /// The ledger entry of a file by content digest, as this transaction sees the ledger (its own
    /// entries included).
    public func fileEntry(sha256: String) throws -> FileLedgerEntry? {
        try FileLedgerEntry.fetch(db, sha256: sha256)
    }

    public func recordFile(_ entry: FileLedgerEntry) throws {
        try db.cachedStatement(sql: """
            INSERT INTO file_ledger (sha256, name, received_at, outcome, applied, rejected, unchanged, destination, errors)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                entry.sha256, entry.name, entry.receivedAt.timeIntervalSince1970, entry.outcome.rawValue, entry.applied,
                entry.rejected, entry.unchanged, entry.destination, entry.errorsJSON,
            ])
    }

    /// `value` as a read of its stored JSON gives it back. The JSON keeps whole seconds, so a value
    /// with a fractional date among `dates` goes through the coding; any other is already as stored.
    static func asStored<T: Codable>(_ value: T, dates: [Date?]) throws -> T {
        let whole = dates.allSatisfy { date in date.map { $0.timeIntervalSince1970 == $0.timeIntervalSince1970.rounded(.down) } ?? true }
        return whole ? value : try decoder.decode(T.self, from: encoder.encode(value))
    }

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = ISO8601Coding.encodingStrategy
        return encoder
    }()

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = ISO8601Coding.decodingStrategy
        return decoder
    }()
}
