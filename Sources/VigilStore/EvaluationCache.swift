import GRDB
import Synchronization
import VigilCore

/// A subject's adverse events and events, as evaluation reads them.
public typealias SubjectHistory = (adverseEvents: [AdverseEvent], events: [ClinicalEvent])

/// What evaluation reads of each subject at every file, kept in memory as last committed: the signal
/// states of every rule and the adverse events and events. Decoding them from JSON at every file was
/// a tenth of the daemon's CPU. Only committed values get in: a transaction works on its own copy
/// (`TransactionScope`) and hands it over when SQLite reports the commit, on the writer's queue,
/// before the next write transaction can start; a rolled-back transaction leaves the cache as it was.
final class EvaluationCache: Sendable {
    struct Subject {
        var states: [String: SignalState]?
        var history: SubjectHistory?
    }

    /// Subjects kept at most; past it the cache starts again empty (a trial has tens of subjects).
    static let capacity = 20_000

    private let subjects = Mutex<[String: Subject]>([:])

    func subject(_ id: String) -> Subject? { subjects.withLock { $0[id] } }

    /// Takes over what a committed transaction read and wrote.
    func commit(_ changes: [String: Subject], staleHistories: Set<String>, allHistoriesStale: Bool) {
        subjects.withLock { cache in
            if cache.count + changes.count > Self.capacity { cache.removeAll() }
            if allHistoriesStale {
                for key in cache.keys { cache[key]?.history = nil }
            }
            for subject in staleHistories { cache[subject]?.history = nil }
            for (subject, change) in changes {
                var entry = cache[subject] ?? Subject()
                if let states = change.states { entry.states = states }
                if let history = change.history { entry.history = history }
                cache[subject] = entry
            }
        }
    }
}

/// One write transaction's view of the evaluation cache: what it read (committed values) and wrote.
final class TransactionScope: Sendable {
    private struct Changes {
        var subjects: [String: EvaluationCache.Subject] = [:]
        /// Subjects whose adverse events or events this transaction changed: their cached history is
        /// dropped at commit unless the transaction read it again afterwards.
        var staleHistories: Set<String> = []
        /// A withdrawal by record id can touch any subject.
        var allHistoriesStale = false
    }

    private let cache: EvaluationCache
    private let changes = Mutex(Changes())

    init(cache: EvaluationCache, db: Database) {
        self.cache = cache
        db.afterNextTransaction { [self] _ in
            let done = changes.withLock { $0 }
            cache.commit(done.subjects, staleHistories: done.staleHistories, allHistoriesStale: done.allHistoriesStale)
        }
    }

    func states(subject: String, load: () throws -> [String: SignalState]) rethrows -> [String: SignalState] {
        if let own = changes.withLock({ $0.subjects[subject]?.states }) { return own }
        let states = try cache.subject(subject)?.states ?? load()
        changes.withLock { $0.subjects[subject, default: .init()].states = states }
        return states
    }

    func save(_ state: SignalState, load: () throws -> [String: SignalState]) rethrows {
        var states = try self.states(subject: state.subject, load: load)
        states[state.rule] = state
        changes.withLock { $0.subjects[state.subject, default: .init()].states = states }
    }

    func history(subject: String, load: () throws -> SubjectHistory) rethrows -> SubjectHistory {
        if let own = changes.withLock({ $0.subjects[subject]?.history }) { return own }
        let stale = changes.withLock { $0.allHistoriesStale || $0.staleHistories.contains(subject) }
        let history = try (stale ? nil : cache.subject(subject)?.history) ?? load()
        changes.withLock { $0.subjects[subject, default: .init()].history = history }
        return history
    }

    /// The subject's adverse events or events changed in this transaction.
    func historyChanged(subject: String) {
        changes.withLock {
            $0.subjects[subject]?.history = nil
            $0.staleHistories.insert(subject)
        }
    }

    /// Records were withdrawn by id: every subject's history may have changed.
    func historiesChanged() {
        changes.withLock { changes in
            for key in changes.subjects.keys { changes.subjects[key]?.history = nil }
            changes.allHistoriesStale = true
        }
    }
}
