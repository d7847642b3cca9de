import Foundation

/// Where the ingest pipeline's time has gone since start-up, stage by stage: the CPU time of the
/// thread doing the stage and the wall time it took. `status --json` reports it (`pipeline_cost`),
/// so that a slow backlog can be put down to parsing, storage, the rules, the commit or delivery,
/// and `vigil-bench` can tell the cost of rule evaluation from the cost of the store as history grows.
public struct PipelineCost: Codable, Sendable, Equatable {
    /// Time spent in one stage.
    public struct Stage: Codable, Sendable, Equatable {
        public var cpuSeconds: Double = 0
        public var wallSeconds: Double = 0

        public init() {}

        package init(cpuSeconds: Double, wallSeconds: Double) {
            self.cpuSeconds = cpuSeconds
            self.wallSeconds = wallSeconds
        }

        package static func += (lhs: inout Stage, rhs: Stage) {
            lhs.cpuSeconds += rhs.cpuSeconds
            lhs.wallSeconds += rhs.wallSeconds
        }
    }

    /// Records in the files whose stages are counted.
    public var records = 0
    /// Reading a file, its SHA-256 and parsing it (mostly on the read-ahead thread, which also makes
    /// each record's stored form: its canonical JSON and that JSON's SHA-256).
    public var read = Stage()
    /// Applying the records to the store: inserts, amendments, withdrawals, the file ledger entry.
    public var store = Stage()
    /// The safety rules and the trial's stopping rules over the applied records, with the reads
    /// they make of the store.
    public var rules = Stage()
    /// The rest of the write transaction: writing back signal states, and the commit (WAL frames,
    /// fsync, checkpoints).
    public var commit = Stage()
    /// Alerts to the journal and the outbox, and marking them delivered.
    public var delivery = Stage()
    /// Moving the files to the archive or rejected/ and syncing those directories.
    public var files = Stage()

    public init() {}

    /// The commit stage of a write transaction that took `whole`: its time less what applying and
    /// evaluating (`store`, `rules`) took inside it.
    package mutating func setCommit(transaction whole: Stage) {
        commit = Stage(cpuSeconds: whole.cpuSeconds - store.cpuSeconds - rules.cpuSeconds,
                       wallSeconds: whole.wallSeconds - store.wallSeconds - rules.wallSeconds)
    }

    package mutating func add(_ other: PipelineCost) {
        records += other.records
        read += other.read
        store += other.store
        rules += other.rules
        commit += other.commit
        delivery += other.delivery
        files += other.files
    }
}
