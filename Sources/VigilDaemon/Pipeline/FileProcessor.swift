import Foundation
import Glibc
import Logging
import Synchronization
import VigilConfig
import VigilControl
import VigilCore
import VigilIngest
import VigilOutbox
import VigilStore

/// Takes inbox files through their trip (docs/ARCHITECTURE.md §1), one stage per file of this
/// folder: claim (`Claim.swift`) → read (`Read.swift`, with `ReadAhead`) → parse (`Parse.swift`,
/// giving the `InboxFile` the later stages take) → apply (`Apply.swift`: records, rules, alerts and
/// the ledger entry in one transaction) → deliver (`AlertEmitter`) → file (`File.swift`: archive or
/// rejected/). Every stage after the commit is idempotent, so a crash at any point is finished by
/// taking the same file again.
public final class FileProcessor: Sendable {
    let store: VigilStore
    let emitter: AlertEmitter
    let state: DaemonState
    let logger: Logger
    let clock: @Sendable () -> Date
    /// Directories already reported, so a stray folder in the inbox is logged once, not every rescan.
    let reportedDirectories = Mutex<Set<String>>([])
    /// Reads and parses a backlog's next files while the current ones are applied, committed and
    /// delivered.
    let readAhead: ReadAhead<InboxFile>
    /// Files whose read-ahead was used (for tests).
    let readAheadUsed = Mutex(0)
    /// False evaluates every signal at every moment: the reference the tests hold the incremental
    /// evaluation to (`Evaluator`).
    let incrementalEvaluation: Bool

    public init(store: VigilStore, emitter: AlertEmitter, state: DaemonState, logger: Logger, clock: @escaping @Sendable () -> Date,
                incrementalEvaluation: Bool = true) {
        self.store = store
        self.emitter = emitter
        self.state = state
        self.logger = logger
        self.clock = clock
        self.incrementalEvaluation = incrementalEvaluation
        readAhead = ReadAhead(window: Self.readAheadWindow) { name in Self.prepare(name: name, configuration: state.configuration) }
    }

    /// What became of a file, for logs and tests.
    public enum Outcome: Equatable, Sendable {
        case ignored
        case archived(applied: Int, rejected: Int, unchanged: Int)
        case rejected(reason: String)
        case alreadyProcessed
        /// Changed while being read; taken again when stable.
        case deferred(String)
        case failed(String)
    }

    /// Processes one inbox file; with `next`, the next file of the same backlog is read and parsed
    /// on another thread while this one is applied.
    @discardableResult
    public func process(name: String, readingAhead next: String? = nil) -> Outcome {
        let upcoming = next.map { UpcomingFiles.list([$0]) }
        return processFiles(first: name, upcoming: upcoming, maxFiles: 1).first?.outcome ?? .ignored
    }

    /// Processes `name` and, in the same transaction, the files due after it (`upcoming`) that were
    /// read ahead (group commit). Each file is applied, evaluated and put in the file ledger exactly
    /// as it would be alone, in order, so alerts are the same; the ledger entries of all of them
    /// commit together, then alerts are delivered and each file is moved. When more files are due,
    /// the delivery pass runs on the delivery thread while the next transaction is applied, so a file
    /// of a backlog may be archived a moment before its alerts are out (the only departure from
    /// docs/ARCHITECTURE.md §3.1's order): they are in the ledger by then, and after a crash the
    /// start-up pass delivers them. After a crash each file is found in the ledger and finished, as
    /// a single file is.
    @discardableResult
    public func process(name: String, upcoming: UpcomingFiles) -> [(name: String, outcome: Outcome)] {
        processFiles(first: name, upcoming: upcoming, maxFiles: Self.groupCommitFiles)
    }

    /// Records applied at once past which freed memory is returned to the system.
    static let trimAfterRecords = 1_000

    func processFiles(first name: String, upcoming: UpcomingFiles?, maxFiles: Int) -> [(name: String, outcome: Outcome)] {
        guard Self.mayTake(name) else { return [(name, .ignored)] }
        let configuration = state.configuration
        let directories = configuration.directories
        let path = "\(directories.inbox)/\(name)"
        var info = stat()
        guard lstat(path, &info) == 0 else { return [(name, .ignored)] }  // gone already (processed by an earlier event)

        let now = clock()
        state.beginWork(name, at: now)
        defer { state.endWork() }

        // 1. Claim.
        if let refused = claim(name, path: path, info: info, configuration: configuration, now: now) { return [(name, refused)] }

        // 2. Read, and 3. parse unless the ledger already knows the content.
        var first: InboxFile
        switch read(name, path: path, info: info, configuration: configuration) {
        case .notRead(let outcome):
            return [(name, outcome)]
        case .parsedAhead(let prepared):
            readAhead(upcoming)
            if let done = finishIfProcessed(name: name, sha: prepared.sha, directories: directories) { return [(name, done)] }
            first = prepared
            first.receivedAt = now
        case .read(let raw, let timer):
            readAhead(upcoming)
            if let done = finishIfProcessed(name: name, sha: raw.sha, directories: directories) { return [(name, done)] }
            first = Self.parse(raw, configuration: configuration, receivedAt: now)
            first.readCost = timer.elapsed
        }
        logNotes(first)

        // 4. Apply: `first` and the files due after it that were read ahead, in one transaction.
        var batch: [InboxFile] = []
        var cost = PipelineCost()
        let entries: [FileLedgerEntry]
        let transaction = StageTimer()
        do {
            entries = try applyGroup(first, maxFiles: maxFiles, taken: &batch, cost: &cost) { tx in
                guard let upcoming, let candidate = upcoming.peek(),
                      let file = try groupCandidate(candidate, configuration: configuration, in: tx)
                else { return nil }
                upcoming.take(candidate)
                readAhead(upcoming)
                logNotes(file)
                return file
            }
        } catch {
            if batch.count > 1 {
                // One of the files failed the shared transaction, and nothing of it was committed: take
                // each file alone, so that each gets its own outcome and the others are not held up.
                logger.notice("a transaction of \(batch.count) inbox files failed (\(error)); processing them one by one")
                return batch.map { ($0.name, process(name: $0.name)) }
            }
            return [(name, failed(name, error))]
        }
        cost.setCommit(transaction: transaction.elapsed)
        for file in batch {
            cost.read += file.readCost
            cost.records += file.records
        }

        // 5. Deliver.
        if upcoming?.peek() != nil {
            // More of a backlog is due: its next transaction is applied while these alerts go out.
            // The pass's wall time includes waiting for that transaction to record its deliveries.
            let state = state
            emitter.deliverPendingSoon { delivery in
                var cost = PipelineCost()
                cost.delivery = delivery
                state.addPipelineCost(cost)
            }
        } else {
            StageTimer.measure(&cost.delivery) { emitter.deliverPending() }
        }

        // 6. File.
        let moving = StageTimer()
        defer {
            cost.files += moving.elapsed
            state.addPipelineCost(cost)
        }
        let outcomes = fileAll(batch, entries: entries, directories: directories)
        if batch.reduce(0, { $0 + $1.records }) >= Self.trimAfterRecords {
            // A large file's parsed records and SQLite's work leave freed memory in malloc's arenas
            // (one per thread, with the read-ahead); hand it back so a backlog does not leave the
            // daemon's resident size at its peak.
            _ = malloc_trim(0)
        }
        return outcomes
    }

    /// A file whose digest is in the ledger was processed before: an interrupted run is finished
    /// (its alerts delivered, the file moved), a re-dropped copy archived; nothing is applied again.
    func finishIfProcessed(name: String, sha: String, directories: VigilConfiguration.Directories) -> Outcome? {
        do {
            guard let entry = try store.fileEntry(sha256: sha) else { return nil }
            emitter.deliverPending()
            try finish(name: name, entry: entry, directories: directories, duplicate: true)
            logger.info("inbox file \(Self.printable(name)) was already processed (sha256 \(sha.prefix(12))); not applied again")
            return .alreadyProcessed
        } catch {
            return failed(name, error)
        }
    }

    func logNotes(_ file: InboxFile) {
        for note in file.parsed.notes { logger.notice("\(Self.printable(file.name)): \(note)") }
    }

    /// The timer's trial-level pass: subjects reaching Day 10 and SUSAR deadlines change with time alone.
    public func evaluateTrialRules() {
        let configuration = state.configuration
        do {
            let raised = try store.transaction { tx in
                try TrialMonitor(configuration: configuration, now: clock()).evaluate(applied: [], fullPass: true, in: tx)
            }
            if !raised.isEmpty { emitter.deliverPending() }
        } catch {
            logger.error("trial-level evaluation failed, will retry: \(error)")
        }
    }

    func failed(_ name: String, _ error: Error) -> Outcome {
        logger.error("processing inbox file \(Self.printable(name)) failed, will retry: \(error)")
        state.setDegraded("pipeline", "processing \(name) failed: \(error)")
        return .failed("\(error)")
    }

    /// Handles an entry just created unless it is a regular file, which is still being written.
    public func processIfNotRegularFile(name: String) {
        var info = stat()
        guard lstat("\(state.configuration.directories.inbox)/\(name)", &info) == 0, info.st_mode & S_IFMT != S_IFREG else { return }
        process(name: name)
    }

    /// A name shown in logs and alerts with control characters (newlines…) escaped.
    static func printable(_ name: String) -> String { ProducerText.visible(name) }
}
