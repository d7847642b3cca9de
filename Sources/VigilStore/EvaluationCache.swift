import Foundation
import GRDB
import Synchronization
import VigilCore

/// A subject's adverse events and events, as evaluation reads them.
public typealias SubjectHistory = (adverseEvents: [AdverseEvent], events: [ClinicalEvent])

/// What evaluation reads of each subject at every file, kept in memory as last committed: the signal
/// states of every rule, the adverse events and events, and the newest observations per code
/// (`LatestValues`), so that evaluation neither decodes them from JSON at every file nor asks the
/// store for the newest values at every time point.
///
/// Only committed values may be used, whatever happens to a transaction: a commit can fail after
/// the transaction's work is done (a full disk fails at COMMIT). So the cache is tied to a generation
/// number kept in the database (`meta.evaluation_generation`): a transaction that changes what is
/// cached raises it inside the same transaction, and hands its changes to the cache, tagged with the
/// new number, before it commits. A transaction trusts the cache only if the database's number is the
/// cache's: after a failed commit the database still has the old number, and the cache is dropped.
final class EvaluationCache: Sendable {
    struct Subject {
        var states: [String: SignalState]?
        var history: SubjectHistory?
        var latest: LatestValues?
        /// The SOFA baseline, read or written (`value` nil: the subject has none yet).
        var sofaBaseline: Baseline?
        /// The latest moment the subject was evaluated at, and under which configuration: what
        /// incremental evaluation compares with (never stored: a subject not in the cache is
        /// evaluated in full).
        var evaluated: EvaluationMark?
    }

    struct Baseline {
        var value: SOFABaseline?
    }

    private struct Contents {
        var generation: Int64 = -1
        var subjects: [String: Subject] = [:]
    }

    /// Subjects kept at most; past it the cache starts again empty (a trial has tens of subjects, and
    /// a subject's newest values take a few kilobytes).
    static let capacity = 2_000

    private let contents = Mutex(Contents())

    /// The cached subject, if the cache belongs to the database's current generation; a cache of
    /// another generation is emptied.
    func subject(_ id: String, generation: Int64) -> Subject? {
        contents.withLock { contents in
            guard contents.generation == generation else {
                contents = Contents(generation: generation)
                return nil
            }
            return contents.subjects[id]
        }
    }

    /// Takes over what a transaction read and wrote; `generation` is the number it leaves in the database.
    /// `allHistoriesStale` (a withdrawal or an amendment) also drops every subject's newest values.
    func update(from generation: Int64, to newGeneration: Int64, _ changes: [String: Subject], staleHistories: Set<String>, allHistoriesStale: Bool) {
        contents.withLock { contents in
            if contents.generation != generation || contents.subjects.count + changes.count > Self.capacity {
                contents = Contents(generation: generation)
            }
            contents.generation = newGeneration
            if allHistoriesStale {
                for key in contents.subjects.keys {
                    contents.subjects[key]?.history = nil
                    contents.subjects[key]?.latest = nil
                    contents.subjects[key]?.evaluated = nil
                }
            }
            for subject in staleHistories { contents.subjects[subject]?.history = nil }
            for (subject, change) in changes {
                var entry = contents.subjects[subject] ?? Subject()
                if let states = change.states { entry.states = states }
                if let history = change.history { entry.history = history }
                if let baseline = change.sofaBaseline { entry.sofaBaseline = baseline }
                if let evaluated = change.evaluated { entry.evaluated = evaluated }
                if var latest = change.latest {
                    latest.trim()
                    entry.latest = latest
                }
                contents.subjects[subject] = entry
            }
        }
    }
}

/// One write transaction's view of the evaluation cache: what it read (committed values) and wrote.
/// Used from the one thread running the transaction; `finish` must be called at the end of the
/// transaction's work, inside it, before COMMIT.
final class TransactionScope {
    private var subjects: [String: EvaluationCache.Subject] = [:]
    /// Subjects whose adverse events or events this transaction changed: their cached history is
    /// dropped unless the transaction read it again afterwards.
    private var staleHistories: Set<String> = []
    /// A withdrawal or an amendment can touch any subject.
    private var allHistoriesStale = false
    /// The database's generation when first asked, and whether this transaction raised it.
    private var generation: Int64?
    private var raised = false
    /// Signal states (subject, rule) changed by this transaction and not yet written: a state can
    /// change at every time point of a file, and only the last one, in `subjects`, needs writing
    /// (`finish` writes them).
    private var unwrittenStates: Set<[String]> = []
    /// Records this transaction inserted, added to `meta.stored_records` by `finish`.
    var insertedRecords = 0

    private let cache: EvaluationCache
    private let db: Database

    init(cache: EvaluationCache, db: Database) {
        self.cache = cache
        self.db = db
    }

    private func currentGeneration() throws -> Int64 {
        if let generation { return generation }
        let value = try Int64.fetchOne(db.cachedStatement(sql: "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'evaluation_generation'")) ?? 0
        generation = value
        return value
    }

    /// Marks the cached data as changed by this transaction: the database's generation goes up by one.
    private func raiseGeneration() throws {
        guard !raised else { return }
        let next = try currentGeneration() + 1
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES ('evaluation_generation', ?)").execute(arguments: [String(next)])
        raised = true
    }

    /// Hands what this transaction read and wrote to the cache. Called inside the transaction, after
    /// its last change: if the commit then fails, the database keeps the old generation and the next
    /// transaction drops the cache.
    func finish() throws {
        for key in unwrittenStates.sorted(by: { $0.lexicographicallyPrecedes($1) }) {
            guard let state = subjects[key[0]]?.states?[key[1]] else { continue }
            // An upsert changes the row in place; REPLACE would delete it and insert it again, in
            // both indexes.
            let upsert = try RawStatement(db, sql: """
                INSERT INTO signal_state (rule, subject, payload) VALUES (?, ?, ?)
                ON CONFLICT (rule, subject) DO UPDATE SET payload = excluded.payload
                """)
            upsert.bind(1, state.rule)
            upsert.bind(2, state.subject)
            upsert.bind(3, Data(state.canonicalJSON()))
            try upsert.run()
        }
        unwrittenStates = []
        if insertedRecords > 0 {
            try db.cachedStatement(sql: "UPDATE meta SET value = CAST(value AS INTEGER) + ? WHERE key = 'stored_records'").execute(arguments: [insertedRecords])
            insertedRecords = 0
        }
        guard generation != nil || !subjects.isEmpty else { return }
        let from = try currentGeneration()
        cache.update(from: from, to: raised ? from + 1 : from, subjects, staleHistories: staleHistories, allHistoriesStale: allHistoriesStale)
    }

    /// The subject as last committed, if the cache holds it for the database's generation.
    private func committed(_ subject: String) throws -> EvaluationCache.Subject? {
        try cache.subject(subject, generation: currentGeneration())
    }

    func states(subject: String, load: () throws -> [String: SignalState]) throws -> [String: SignalState] {
        if let own = subjects[subject]?.states { return own }
        let states = try committed(subject)?.states ?? load()
        subjects[subject, default: .init()].states = states
        return states
    }

    /// Takes a rule's new state; it is written to the database by `finish`, inside the transaction.
    func save(_ state: SignalState, load: () throws -> [String: SignalState]) throws {
        _ = try states(subject: state.subject, load: load)
        subjects[state.subject]!.states![state.rule] = state  // in place: no copy of the subject's states
        unwrittenStates.insert([state.subject, state.rule])
        try raiseGeneration()
    }

    /// The newest value of each code at or before `asOf`: from the subject's newest values as this
    /// transaction sees them (its own copy, else the cache's, else `load`ed from the database), or
    /// from `query` when those do not reach back to `asOf`.
    func latest(subject: String, asOf: Double, load: () throws -> LatestValues, query: () throws -> [String: TimedValue]) throws -> ObservationSlots {
        let latest: LatestValues
        if let own = subjects[subject]?.latest {
            latest = own
        } else {
            latest = try (allHistoriesStale ? nil : committed(subject)?.latest) ?? load()
            subjects[subject, default: .init()].latest = latest
        }
        return try latest.values(asOf: asOf) ?? ObservationSlots(query())
    }

    /// An observation row this transaction inserted: added to the subject's newest values if this
    /// transaction or the cache holds them (otherwise they are read from the database when needed,
    /// and the database has the row).
    func observationInserted(subject: String, code: String, _ entry: LatestValues.Entry) throws {
        try raiseGeneration()
        if subjects[subject]?.latest != nil {
            subjects[subject]!.latest!.insert(code: code, entry)
        } else if !allHistoriesStale, var cached = try committed(subject)?.latest {
            cached.insert(code: code, entry)
            subjects[subject, default: .init()].latest = cached
        }
    }

    func history(subject: String, load: () throws -> SubjectHistory) throws -> SubjectHistory {
        if let own = subjects[subject]?.history { return own }
        let stale = allHistoriesStale || staleHistories.contains(subject)
        let history = try (stale ? nil : committed(subject)?.history) ?? load()
        subjects[subject, default: .init()].history = history
        return history
    }

    func sofaBaseline(subject: String, load: () throws -> SOFABaseline?) throws -> SOFABaseline? {
        if let own = subjects[subject]?.sofaBaseline { return own.value }
        let baseline = try committed(subject)?.sofaBaseline ?? EvaluationCache.Baseline(value: load())
        subjects[subject, default: .init()].sofaBaseline = baseline
        return baseline.value
    }

    /// `baseline` as stored (the caller has written it).
    func sofaBaselineSaved(_ baseline: SOFABaseline, subject: String) throws {
        subjects[subject, default: .init()].sofaBaseline = .init(value: baseline)
        try raiseGeneration()
    }

    /// The subject's evaluation mark as this transaction sees it; nil after a withdrawal or an
    /// amendment in this transaction (any subject's values may have changed).
    func evaluated(subject: String) throws -> EvaluationMark? {
        if allHistoriesStale { return nil }
        if let own = subjects[subject]?.evaluated { return own }
        return try committed(subject)?.evaluated
    }

    func setEvaluated(_ mark: EvaluationMark, subject: String) throws {
        subjects[subject, default: .init()].evaluated = mark
        try raiseGeneration()
    }

    /// The subject's adverse events or events changed in this transaction.
    func historyChanged(subject: String) throws {
        subjects[subject]?.history = nil
        staleHistories.insert(subject)
        try raiseGeneration()
    }

    /// Records were withdrawn or amended: every subject's history and newest values may have changed.
    func historiesChanged() throws {
        for key in subjects.keys {
            subjects[key]?.history = nil
            subjects[key]?.latest = nil
        }
        allHistoriesStale = true
        try raiseGeneration()
    }
}

/// Where a subject's evaluation stands: the latest moment evaluated (a high-water mark, not the
/// last in processing order) and the digest of the configuration it was evaluated under.
public struct EvaluationMark: Sendable, Equatable {
    public var through: Date
    public var configuration: String

    public init(through: Date, configuration: String) {
        self.through = through
        self.configuration = configuration
    }
}
