import Foundation
import Glibc
import VigilConfig
import VigilControl
import VigilCore
import VigilIngest
import VigilStore

// Stage 4 of a file's trip (docs/ARCHITECTURE.md §1): apply. One SQLite transaction holds a file's
// records, the rules run over them, the alerts they raise and the file-ledger entry; it commits
// all or nothing, which is what makes every later stage idempotent. In a backlog, files due next
// that were read ahead join the same transaction (group commit), each applied exactly as alone.
extension FileProcessor {
    /// Files committed together at most (group commit), and the records past which no further file
    /// joins: a backlog's small files share one transaction, its fsyncs and one delivery pass, while
    /// one transaction stays short enough for the next alert to wait little behind it. Each
    /// transaction writes every index page it touched to the WAL, and a large store's primary key has
    /// many insertion places, so fewer, larger transactions write less per record
    /// (docs/BENCHMARKS.md measures it).
    static let groupCommitFiles = 64
    static let groupCommitRecords = 6_000

    /// Applies `first` and, in the same transaction, the files `next` gives while the group has
    /// room (`maxFiles`, `groupCommitRecords`). `taken` holds every file of the group, also when the
    /// transaction fails, so the caller can take them one by one. Returns each file's ledger entry.
    func applyGroup(_ first: InboxFile, maxFiles: Int, taken: inout [InboxFile], cost: inout PipelineCost,
                    next: (StoreTransaction) throws -> InboxFile?) throws -> [FileLedgerEntry] {
        taken = [first]
        return try store.transaction { tx in
            var entries = [try apply(first, in: tx, cost: &cost)]
            var records = first.records
            while entries.count < maxFiles, records < Self.groupCommitRecords, let file = try next(tx) {
                taken.append(file)
                entries.append(try apply(file, in: tx, cost: &cost))
                records += file.records
            }
            return entries
        }
    }

    /// The next file of a group, if it can join the transaction: a regular file within the size
    /// limit that was read ahead (waited for if its read is still running) and still matches that
    /// read, and not in the ledger (which, read inside the transaction, includes the group's own
    /// files: a copy of one goes the single-file way).
    func groupCandidate(_ name: String, configuration: VigilConfiguration, in tx: StoreTransaction) throws -> InboxFile? {
        guard Self.mayTake(name) else { return nil }
        let path = "\(configuration.directories.inbox)/\(name)"
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= configuration.limits.maxFileBytes,
              var file = takeReadAhead(name: name, info: info, configuration: configuration),
              try tx.fileEntry(sha256: file.sha) == nil
        else { return nil }
        file.receivedAt = clock()
        return file
    }

    /// Applies files parsed elsewhere (`InboxFile(name:data:configuration:)`) as a backlog's are:
    /// the same groups, the same `applyGroup`, each file's records, rules and ledger entry as the
    /// daemon applies them. Nothing is read from the inbox, delivered or moved: it is the writing
    /// thread's work alone, which vigil-bench's `writer` phase times. Returns the store, rules and
    /// commit stages of every transaction.
    public func apply(_ files: [InboxFile]) throws -> PipelineCost {
        var cost = PipelineCost()
        var index = files.startIndex
        while index < files.endIndex {
            var group = PipelineCost()
            var taken: [InboxFile] = []
            let transaction = StageTimer()
            var first = files[index]
            first.receivedAt = clock()
            index += 1
            _ = try applyGroup(first, maxFiles: Self.groupCommitFiles, taken: &taken, cost: &group) { _ in
                guard index < files.endIndex else { return nil }
                var file = files[index]
                file.receivedAt = clock()
                index += 1
                return file
            }
            group.setCommit(transaction: transaction.elapsed)
            cost.add(group)
        }
        cost.records = files.reduce(0) { $0 + $1.records }
        return cost
    }

    /// Applies one file's records, evaluates them and writes its ledger entry, inside `tx`.
    func apply(_ file: InboxFile, in tx: StoreTransaction, cost: inout PipelineCost) throws -> FileLedgerEntry {
        let (name, parsed, now, sha, configuration) = (file.name, file.parsed, file.receivedAt, file.sha, file.configuration)
        var applied: [Record] = []
        var unchanged = 0
        let retracted = try StageTimer.measure(&cost.store) {
            for (index, located) in parsed.records.enumerated() {
                let payload = try file.payloads?[index] ?? StoredPayload(located.record)
                switch try tx.apply(located.record, payload: payload, fileSHA256: sha, at: now) {
                case .new: applied.append(located.record)
                case .unchanged: unchanged += 1
                case .amended(let revision):
                    logger.notice("\(Self.printable(name)): record \(located.record.id) amended (revision \(revision))")
                    applied.append(located.record)
                }
            }
            let retracted = try tx.retract(parsed.retractions, at: now)
            for id in retracted {
                logger.notice("\(Self.printable(name)): record \(id) withdrawn by its sender; kept for audit, no longer current")
            }
            return retracted
        }
        var evaluator = Evaluator(configuration: configuration, now: now)
        evaluator.incremental = incrementalEvaluation
        try StageTimer.measure(&cost.rules) {
            _ = try evaluator.evaluate(applied, in: tx)
            _ = try TrialMonitor(configuration: configuration, now: now).evaluate(applied: applied, fullPass: !retracted.isEmpty, in: tx)
            if !parsed.errors.isEmpty || !parsed.warnings.isEmpty {
                try tx.record(evaluator.dataQualityAlert(fileName: name, triggerKey: sha, errors: parsed.errors, warnings: parsed.warnings, applied: applied.count))
            }
        }
        return try StageTimer.measure(&cost.store) {
            let usable = !parsed.records.isEmpty || !parsed.retractions.isEmpty || parsed.errors.isEmpty
            let entry = FileLedgerEntry(
                sha256: sha, name: name, receivedAt: now, outcome: usable ? .archived : .rejected,
                applied: applied.count, rejected: parsed.errors.count, unchanged: unchanged,
                destination: try destination(for: name, usable: usable, sha: sha, now: now, directories: configuration.directories, timeZone: configuration.trial.siteTimeZone),
                errorsJSON: parsed.errors.isEmpty && parsed.warnings.isEmpty ? nil : Self.errorsJSON(file: name, errors: parsed.errors, warnings: parsed.warnings))
            try tx.recordFile(entry)
            return entry
        }
    }
}
