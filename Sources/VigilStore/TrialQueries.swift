import Foundation
import GRDB
import VigilCore

/// One SUSAR clock as stored, with whether it was reported.
public struct StoredSUSARClock: Sendable, Equatable {
    public var clock: SUSARClock
    public var reportedAt: Date?
    public var reportedBy: String?
}

/// Trial-level reads and writes: trial state, adverse events and infusions of all subjects, SUSAR clocks.
enum TrialQueries {
    static func trialState(_ db: Database) throws -> TrialState {
        guard let json = try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'trial_state'") else { return .running }
        return try StoreTransaction.decoder.decode(TrialState.self, from: Data(json.utf8))
    }

    static func allAdverseEvents(_ db: Database) throws -> [AdverseEvent] {
        try Data.fetchAll(db, sql: "SELECT payload FROM records WHERE type = 'adverse_event' AND retracted_at IS NULL ORDER BY time, rowid").compactMap {
            if case .adverseEvent(let ae) = try SubjectQueries.decoder.decode(Record.self, from: $0) { return ae }
            return nil
        }
    }

    static func events(_ db: Database, kind: String) throws -> [ClinicalEvent] {
        try Data.fetchAll(db, sql: """
            SELECT payload FROM records WHERE type = 'event' AND retracted_at IS NULL AND json_extract(payload, '$.event._0.kind') = ? ORDER BY time, rowid
            """, arguments: [kind]).compactMap {
            if case .event(let e) = try SubjectQueries.decoder.decode(Record.self, from: $0) { return e }
            return nil
        }
    }

    /// First infusion time per subject (D0).
    /// Each infused subject's first infusion event (D0), with its reported precision in its attributes.
    static func infusions(_ db: Database) throws -> [String: ClinicalEvent] {
        var out: [String: ClinicalEvent] = [:]
        for event in try events(db, kind: "infusion") where out[event.subject] == nil { out[event.subject] = event }
        return out
    }

    static func clocks(_ db: Database) throws -> [StoredSUSARClock] {
        // Read at every file's trial-level pass: the statement is kept prepared.
        try Row.fetchAll(db.cachedStatement(sql: "SELECT * FROM susar_clocks ORDER BY rowid")).map { row in
            StoredSUSARClock(clock: try StoreTransaction.decoder.decode(SUSARClock.self, from: row["payload"] as Data),
                             reportedAt: (row["reported_at"] as Double?).map(Date.init(timeIntervalSince1970:)), reportedBy: row["reported_by"])
        }
    }
}

extension StoreTransaction {
    public func trialState() throws -> TrialState { try TrialQueries.trialState(db) }

    public func saveTrialState(_ state: TrialState) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('trial_state', ?)",
                       arguments: [String(decoding: try Self.encoder.encode(state), as: UTF8.self)])
    }

    public func infusions() throws -> [String: ClinicalEvent] { try TrialQueries.infusions(db) }
    public func susarClocks() throws -> [StoredSUSARClock] { try TrialQueries.clocks(db) }

    /// Starts a SUSAR clock; an existing one (same adverse event) keeps its original awareness time.
    public func startClock(_ clock: SUSARClock) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO susar_clocks (adverse_event, subject, payload) VALUES (?, ?, ?)",
                       arguments: [clock.adverseEvent, clock.subject, try Self.encoder.encode(clock)])
    }
}

extension VigilStore {
    public func trialState() throws -> TrialState { try pool.read { try TrialQueries.trialState($0) } }
    public func allAdverseEvents() throws -> [AdverseEvent] { try pool.read { try TrialQueries.allAdverseEvents($0) } }
    public func infusions() throws -> [String: ClinicalEvent] { try pool.read { try TrialQueries.infusions($0) } }
    public func events(kind: String) throws -> [ClinicalEvent] { try pool.read { try TrialQueries.events($0, kind: kind) } }
    public func susarClocks() throws -> [StoredSUSARClock] { try pool.read { try TrialQueries.clocks($0) } }

    /// Subjects that had an alert of any of `rules` raised.
    public func subjectsWithAlerts(rules: [String]) throws -> Set<String> {
        try pool.read { db in
            Set(try String.fetchAll(db, sql: "SELECT DISTINCT subject FROM alerts WHERE phase = 'raised' AND subject IS NOT NULL AND rule IN (\(rules.map { _ in "?" }.joined(separator: ",")))",
                                    arguments: StatementArguments(rules)))
        }
    }

    /// Acknowledges an alert (who, when); with `reported`, also marks the SUSAR clock of its adverse
    /// event as reported. Returns nil when no such alert exists.
    public func acknowledge(alertID: String, by person: String, at time: Date, reported: Bool) throws -> (alert: Alert, clockReported: String?)? {
        try pool.write { db in
            guard let stored = try StoredAlert.fetch(db, where: "id = '\(alertID.filter { $0.isHexDigit })'", limit: 1).first else { return nil }
            try db.execute(sql: "UPDATE alerts SET acked_at = COALESCE(acked_at, ?), acked_by = COALESCE(acked_by, ?) WHERE id = ?",
                           arguments: [time.timeIntervalSince1970, person, alertID])
            var clockReported: String?
            if reported {
                for record in stored.alert.records {
                    try db.execute(sql: "UPDATE susar_clocks SET reported_at = ?, reported_by = ? WHERE adverse_event = ? AND reported_at IS NULL",
                                   arguments: [time.timeIntervalSince1970, person, record])
                    if db.changesCount > 0 { clockReported = record }
                }
            }
            return (stored.alert, clockReported)
        }
    }

    /// Resumes a halted trial; returns the new state, or nil when the trial was not halted.
    public func resumeTrial(by person: String, reason: String, at time: Date) throws -> TrialState? {
        try pool.write { db in
            var state = try TrialQueries.trialState(db)
            guard state.phase == .halted else { return nil }
            state.phase = .running
            state.resumedBy = person
            state.resumedAt = time
            state.resumeReason = reason
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('trial_state', ?)",
                           arguments: [String(decoding: try StoreTransaction.encoder.encode(state), as: UTF8.self)])
            return state
        }
    }
}
