import Dispatch
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Copies committed WAL frames back into the database file on a thread and a connection of its own,
/// so that the writer's commits do not pay for checkpoints.
///
/// SQLite's automatic checkpoint runs inside the COMMIT that takes the WAL past 1,000 pages, on the
/// writing thread: with a large store each transaction dirties more index pages, so those
/// checkpoints would make the writer's cost grow with history. The writer connection gets a WAL hook instead of the
/// automatic checkpoint: past `backgroundFrames` pages it wakes this checkpointer, which runs a
/// PASSIVE checkpoint (never blocking the writer or a reader) on its own connection. Should it fall
/// behind, past `inlineFrames` pages the writer checkpoints inline again, as SQLite would, so the
/// WAL stays bounded. Checkpoints are crash-safe by SQLite's design; what is committed is in the
/// WAL (synchronous=FULL) whether or not it has been checkpointed yet.
final class BackgroundCheckpointer: Sendable {
    /// SQLite's own automatic-checkpoint threshold, in pages.
    static let backgroundFrames: Int32 = 1_000
    /// Past this, the writer checkpoints itself (the background checkpoint is not keeping up).
    static let inlineFrames: Int32 = 16_000

    private let path: String
    private let queue = DispatchQueue(label: "vigil.store.checkpoint", qos: .utility)
    private let requested = Mutex(false)
    private let connection = Mutex<DatabaseQueue?>(nil)
    /// Checkpoints run in the background, and those that failed (the next request tries again).
    let runs = Atomic<Int>(0)
    let failures = Atomic<Int>(0)

    init(path: String) {
        self.path = path
    }

    /// What the WAL hook holds: the connection may outlive the store's checkpointer (the order in
    /// which the store's properties go is not fixed), so the hook reaches it weakly. One of these is
    /// kept per writer connection opened, for the life of the process.
    private final class HookContext: Sendable {
        weak let checkpointer: BackgroundCheckpointer?
        init(_ checkpointer: BackgroundCheckpointer) { self.checkpointer = checkpointer }
    }

    /// Replaces the automatic checkpoint of `db` (the writer connection) with the WAL hook.
    func install(on db: Database) {
        let context = Unmanaged.passRetained(HookContext(self)).toOpaque()
        sqlite3_wal_hook(db.sqliteConnection, { context, connection, name, frames in
            if frames >= BackgroundCheckpointer.inlineFrames {
                sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
            } else if frames >= BackgroundCheckpointer.backgroundFrames, let context {
                Unmanaged<HookContext>.fromOpaque(context).takeUnretainedValue().checkpointer?.request()
            }
            return SQLITE_OK
        }, context)
    }

    /// Schedules one checkpoint; requests made while one is waiting are the same request.
    func request() {
        let first = requested.withLock { pending in
            defer { pending = true }
            return !pending
        }
        guard first else { return }
        queue.async { [self] in
            requested.withLock { $0 = false }
            checkpoint()
        }
    }

    /// Waits for the checkpoints asked for so far (for tests).
    func drain() {
        queue.sync {}
    }

    private func checkpoint() {
        do {
            let database = try connection.withLock { connection in
                if let connection { return connection }
                var configuration = Configuration()
                configuration.label = "vigil-checkpoint"
                // The writer and readers may hold locks; PASSIVE never waits, so neither does this.
                configuration.busyMode = .immediateError
                let opened = try DatabaseQueue(path: path, configuration: configuration)
                connection = opened
                return opened
            }
            try database.writeWithoutTransaction { db in _ = try db.checkpoint(.passive) }
            runs.add(1, ordering: .relaxed)
        } catch {
            // Busy (another checkpoint running) or a transient I/O error: the frames stay in the WAL,
            // where they are durable, and the next commit past the threshold asks again.
            failures.add(1, ordering: .relaxed)
        }
    }
}
