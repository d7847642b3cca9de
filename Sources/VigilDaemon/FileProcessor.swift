import Foundation
import Glibc
import Logging
import Synchronization
import VigilConfig
import VigilCore
import VigilIngest
import VigilStore

/// Processes one inbox file from end to end (docs/ARCHITECTURE.md §3.1): refuse what is not a plain file,
/// parse, apply records and alerts with the file-ledger entry in one transaction, emit the alerts,
/// then move the file to `archive/YYYY-MM-DD/` or `rejected/`. Every step after the transaction is
/// idempotent, so a crash at any point is finished by processing the same file again.
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
    let readAhead: ReadAhead<PreparedFile>
    /// Files whose read-ahead `process` used (for tests).
    let readAheadUsed = Mutex(0)
    /// How far reading goes ahead of applying. 64 files (the group commit's) keep reading busy
    /// through a commit and its delivery pass in a backlog of small files (a transaction of 6,000
    /// records takes as long as reading some 20–30 files of 100 records here); 512 KiB keeps a
    /// backlog of large files to one file ahead, as before, so the memory it holds stays that of
    /// about one transaction.
    static let readAheadWindow = ReadAhead<PreparedFile>.Window(files: 64, bytes: 512 * 1024)

    public init(store: VigilStore, emitter: AlertEmitter, state: DaemonState, logger: Logger, clock: @escaping @Sendable () -> Date) {
        self.store = store
        self.emitter = emitter
        self.state = state
        self.logger = logger
        self.clock = clock
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

    /// Whether a name in the inbox is a producer's temporary file that must be left alone.
    public static func isTemporaryName(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix(".tmp") || name.hasSuffix(".part")
    }

    /// Whether a name has a path separator (an inotify name never does; a caller's might). On the
    /// bytes: `String.contains("/")` goes through Foundation's `NSString` search, and a backlog asks
    /// it of every file due, for every file taken.
    static func hasSlash(_ name: String) -> Bool { name.utf8.contains(UInt8(ascii: "/")) }

    /// File types by extension and the parser each goes to.
    public static let supportedExtensions = ["json", "ndjson", "csv", "hl7"]

    /// An inbox file read and parsed ahead of its turn.
    struct PreparedFile: Sendable {
        let inode: UInt64
        /// The stamp the read saw before and after reading (`read`).
        let stamp: FileStamp
        let data: Data
        let sha: String
        let parsed: ParseResult
        /// The stored form of each parsed record, in order (nil if one could not be made: `apply`
        /// then makes them itself and reports the error).
        let payloads: [StoredPayload]?
        let configuration: VigilConfiguration
        /// What reading, hashing, parsing and making the payloads took on the read-ahead thread.
        let readCost: PipelineCost.Stage
    }

    /// Reads and parses `name` for the read-ahead, off the writing thread (the backlog's bottleneck):
    /// applying files is single-threaded, and reading them is about a third of the work. Nothing is
    /// written or moved. Nil when it is not a regular file within the size limit, or unreadable: it is
    /// then read on the writing thread, which reports why. `readAhead` asks only for inbox names
    /// that may be processed.
    static func prepare(name: String, configuration: VigilConfiguration) -> PreparedFile? {
        let timer = StageTimer()
        let path = "\(configuration.directories.inbox)/\(name)"
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= configuration.limits.maxFileBytes,
              let (data, stamp, inode) = try? readStamped(path: path, limit: configuration.limits.maxFileBytes)
        else { return nil }
        let content = ParsedContent(name: name, data: data, configuration: configuration)
        return PreparedFile(inode: inode, stamp: stamp, data: data, sha: content.sha, parsed: content.parsed, payloads: content.payloads,
                            configuration: configuration, readCost: timer.elapsed)
    }

    /// Reads ahead the files due next (`upcoming`), as far as the window goes.
    func readAhead(_ upcoming: UpcomingFiles?) {
        let names = upcoming?.ahead(readAhead.window.files) ?? []
        readAhead.request(names.filter { !Self.isTemporaryName($0) && !Self.hasSlash($0) }, in: state.configuration.directories.inbox)
    }

    /// The read-ahead of `name` if it was made of the file as it is now (`info`) and under
    /// `configuration`; a read of it still running or queued is waited for (it was requested while
    /// earlier files were applied, so it is usually done). Otherwise the file is read again, as
    /// without read-ahead.
    func takeReadAhead(name: String, info: stat, configuration: VigilConfiguration) -> PreparedFile? {
        guard let prepared = readAhead.take(name),
              prepared.inode == UInt64(info.st_ino), prepared.stamp == FileStamp(info), prepared.configuration == configuration
        else { return nil }
        readAheadUsed.withLock { $0 += 1 }
        return prepared
    }

    /// Files committed together at most (group commit), and the records past which no further file
    /// joins: a backlog's small files share one transaction, its fsyncs and one delivery pass, while
    /// one transaction stays short enough for the next alert to wait little behind it. Each
    /// transaction writes every index page it touched to the WAL, and a large store's primary key has
    /// a few hundred insertion places, so fewer, larger transactions write less per record
    /// (docs/BENCHMARKS.md measures it).
    static let groupCommitFiles = 64
    static let groupCommitRecords = 6_000

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
    /// docs/ARCHITECTURE.md §3.1's order): they are in the ledger by then, and after a crash the start-up pass
    /// delivers them. After a crash each file is found in the ledger and finished, as a single file is.
    @discardableResult
    public func process(name: String, upcoming: UpcomingFiles) -> [(name: String, outcome: Outcome)] {
        processFiles(first: name, upcoming: upcoming, maxFiles: Self.groupCommitFiles)
    }

    /// An inbox file read and parsed, ready to apply.
    struct ReadFile {
        let name: String
        let path: String
        /// The file as `lstat` saw it before the read; compared again after the commit.
        let info: stat
        let sha: String
        let parsed: ParseResult
        /// Made by the read-ahead; nil when the file was read on the writing thread.
        let payloads: [StoredPayload]?
        let now: Date
        let readCost: PipelineCost.Stage
    }

    func processFiles(first name: String, upcoming: UpcomingFiles?, maxFiles: Int) -> [(name: String, outcome: Outcome)] {
        guard !Self.isTemporaryName(name), !Self.hasSlash(name) else { return [(name, .ignored)] }
        let configuration = state.configuration
        let directories = configuration.directories
        let path = "\(directories.inbox)/\(name)"
        var info = stat()
        guard lstat(path, &info) == 0 else { return [(name, .ignored)] }  // gone already (processed by an earlier event)

        let now = clock()
        state.beginWork(name, at: now)
        defer { state.endWork() }

        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            if reportedDirectories.withLock({ $0.insert(name).inserted }) {
                logger.warning("inbox entry \(Self.printable(name)) is a directory; left alone (producers must drop files)")
            }
            return [(name, .ignored)]
        }
        if kind != S_IFREG {
            let what = kind == S_IFLNK ? "a symbolic link" : kind == S_IFIFO ? "a FIFO" : "not a regular file"
            return [(name, refuse(name: name, path: path, reason: "\(what) is refused; producers must write regular files", key: "\(info.st_ino)|\(info.st_mtim.tv_sec)", now: now))]
        }
        if Int(info.st_size) > configuration.limits.maxFileBytes {
            return [(name, refuse(name: name, path: path, reason: "file of \(info.st_size) bytes exceeds the \(configuration.limits.maxFileBytes)-byte limit (limits.max_file_bytes)", key: "\(info.st_ino)|\(info.st_mtim.tv_sec)|\(info.st_size)", now: now))]
        }

        let data: Data
        let sha: String
        var parsedAhead: ParseResult?
        var payloads: [StoredPayload]?
        var readTimer: StageTimer?
        var readCost = PipelineCost.Stage()
        if let prepared = takeReadAhead(name: name, info: info, configuration: configuration) {
            data = prepared.data
            sha = prepared.sha
            parsedAhead = prepared.parsed
            payloads = prepared.payloads
            readCost = prepared.readCost
        } else {
            readTimer = StageTimer()
            do {
                data = try Self.read(path: path, limit: configuration.limits.maxFileBytes)
            } catch let changing as FileChangedWhileRead {
                // A producer is still writing in place (against the rename contract): take the file when
                // it is stable, at its close-write event or the next rescan, never half of it.
                logger.notice("inbox file \(Self.printable(name)) \(changing.detail) while being read; left for a later pass")
                return [(name, .deferred(changing.detail))]
            } catch {
                logger.error("cannot read inbox file \(Self.printable(name)): \(error)")
                return [(name, .failed("\(error)"))]
            }
            sha = Digest.sha256Hex(data)
        }
        readAhead(upcoming)

        do {
            if let entry = try store.fileEntry(sha256: sha) {
                // Processed before: finish an interrupted run, or archive a re-dropped copy.
                emitter.deliverPending()
                try finish(name: name, entry: entry, directories: directories, duplicate: true)
                logger.info("inbox file \(Self.printable(name)) was already processed (sha256 \(sha.prefix(12))); not applied again")
                return [(name, .alreadyProcessed)]
            }
        } catch {
            return [(name, failed(name, error))]
        }

        let parsedFirst = parsedAhead ?? Self.parse(name: name, data: data, configuration: configuration)
        if let readTimer { readCost = readTimer.elapsed }
        let first = ReadFile(name: name, path: path, info: info, sha: sha, parsed: parsedFirst, payloads: payloads, now: now, readCost: readCost)
        for note in first.parsed.notes { logger.notice("\(Self.printable(name)): \(note)") }

        var batch = [first]
        var cost = PipelineCost()
        let entries: [FileLedgerEntry]
        let transaction = StageTimer()
        do {
            entries = try store.transaction { tx in
                var entries = [try apply(first, configuration: configuration, in: tx, cost: &cost)]
                var records = first.parsed.records.count
                while entries.count < maxFiles, records < Self.groupCommitRecords, let upcoming, let candidate = upcoming.peek(),
                      let file = try batchCandidate(candidate, configuration: configuration, in: tx) {
                    upcoming.take(candidate)
                    readAhead(upcoming)
                    for note in file.parsed.notes { logger.notice("\(Self.printable(file.name)): \(note)") }
                    batch.append(file)
                    entries.append(try apply(file, configuration: configuration, in: tx, cost: &cost))
                    records += file.parsed.records.count
                }
                return entries
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
            cost.records += file.parsed.records.count
        }
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
        let moving = StageTimer()
        defer {
            cost.files += moving.elapsed
            state.addPipelineCost(cost)
        }
        // The moves are made durable together, one directory sync for the batch instead of one per
        // file. Until then a crash may bring a file back into the inbox, where the ledger knows it
        // and it is only moved again, as after a crash between the commit and any move.
        var unsynced: Set<String> = []
        let outcomes = zip(batch, entries).map { file, entry in
            (name: file.name, outcome: complete(file, entry: entry, directories: directories, unsynced: &unsynced))
        }
        for directory in unsynced.sorted() {
            do {
                try DurableFile.syncDirectory(directory)
            } catch {
                // The files are moved and in the ledger; only the moves' durability is in doubt.
                logger.error("inbox files moved into \(directory), but the directory could not be synced: \(error); after a crash they may reappear in the inbox, where the ledger finishes them without applying them again")
                state.setDegraded("pipeline", "sync of \(directory) failed: \(error)")
            }
        }
        if batch.reduce(0, { $0 + $1.parsed.records.count }) >= Self.trimAfterRecords {
            // A large file's parsed records and SQLite's work leave freed memory in malloc's arenas
            // (one per thread, with the read-ahead); hand it back so a backlog does not leave the
            // daemon's resident size at its peak.
            _ = malloc_trim(0)
        }
        return outcomes
    }

    /// What the read-ahead makes of a file's content: its digest, its records and each one's stored
    /// form (canonical JSON and hash). `prepare` makes it of an inbox file; `applyParsed` takes it of
    /// content read elsewhere.
    public struct ParsedContent: Sendable {
        public let name: String
        let sha: String
        let parsed: ParseResult
        let payloads: [StoredPayload]?
        public var records: Int { parsed.records.count }

        public init(name: String, data: Data, configuration: VigilConfiguration) {
            self.name = name
            sha = Digest.sha256Hex(data)
            parsed = FileProcessor.parse(name: name, data: data, configuration: configuration)
            payloads = try? parsed.records.map { try StoredPayload($0.record) }
        }
    }

    /// Applies `files` as a backlog's are applied: in transactions of at most `groupCommitFiles`
    /// files or `groupCommitRecords` records, each file's records, rules and ledger entry exactly as
    /// `processFiles` applies them. Nothing is read from the inbox, delivered or moved, and nothing
    /// runs on another thread: it is the writing thread's work alone. vigil-bench's `writer` phase
    /// times it, to show how fast the single writer goes with reading, delivery and file moves
    /// wholly off its thread. Returns the store, rules and commit stages of every transaction.
    public func applyParsed(_ files: [ParsedContent]) throws -> PipelineCost {
        let configuration = state.configuration
        var cost = PipelineCost()
        var next = files.startIndex
        while next < files.endIndex {
            var group = PipelineCost()
            let transaction = StageTimer()
            next = try store.transaction { tx in
                var index = next
                var records = 0
                while index < files.endIndex, index - next < Self.groupCommitFiles, index == next || records < Self.groupCommitRecords {
                    let content = files[index]
                    let file = ReadFile(name: content.name, path: "", info: stat(), sha: content.sha, parsed: content.parsed,
                                        payloads: content.payloads, now: clock(), readCost: PipelineCost.Stage())
                    _ = try apply(file, configuration: configuration, in: tx, cost: &group)
                    records += content.records
                    index += 1
                }
                return index
            }
            group.setCommit(transaction: transaction.elapsed)
            cost.add(group)
        }
        cost.records = files.reduce(0) { $0 + $1.records }
        return cost
    }

    /// Records applied at once past which freed memory is returned to the system.
    static let trimAfterRecords = 1_000

    /// The next file of a batch, if it can join the transaction: a regular file within the size
    /// limit that was read ahead (waited for if its read is still running) and still matches that
    /// read, and not in the ledger (which, read inside the transaction, includes the batch's own
    /// files: a copy of one goes the single-file way).
    func batchCandidate(_ name: String, configuration: VigilConfiguration, in tx: StoreTransaction) throws -> ReadFile? {
        guard !Self.isTemporaryName(name), !Self.hasSlash(name) else { return nil }
        let path = "\(configuration.directories.inbox)/\(name)"
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= configuration.limits.maxFileBytes,
              let prepared = takeReadAhead(name: name, info: info, configuration: configuration),
              try tx.fileEntry(sha256: prepared.sha) == nil
        else { return nil }
        return ReadFile(name: name, path: path, info: info, sha: prepared.sha, parsed: prepared.parsed, payloads: prepared.payloads, now: clock(),
                        readCost: prepared.readCost)
    }

    /// Applies one file's records, evaluates them and writes its ledger entry, inside `tx`.
    func apply(_ file: ReadFile, configuration: VigilConfiguration, in tx: StoreTransaction, cost: inout PipelineCost) throws -> FileLedgerEntry {
        let (name, parsed, now, sha) = (file.name, file.parsed, file.now, file.sha)
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
        let evaluator = Evaluator(configuration: configuration, now: now)
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

    /// After the commit (and the delivery of its alerts): moves the file where its ledger entry says,
    /// unless it was written to after it was read.
    func complete(_ file: ReadFile, entry: FileLedgerEntry, directories: VigilConfiguration.Directories, unsynced: inout Set<String>) -> Outcome {
        let (name, info) = (file.name, file.info)
        var current = stat()
        if lstat(file.path, &current) == 0, current.st_ino == info.st_ino, FileStamp(current) != FileStamp(info) {
            // Written to after it was read: what was read is applied (and idempotent by record id), so the
            // file stays in the inbox and is read whole again once stable, instead of being archived
            // while its producer still holds it open.
            logger.notice("inbox file \(Self.printable(name)) changed after it was read (\(info.st_size) → \(current.st_size) bytes); \(entry.applied) record(s) applied so far, the rest when it is stable")
            return .deferred("changed after it was read")
        }
        do {
            if let directory = try finish(name: name, entry: entry, directories: directories, duplicate: false, syncing: false) {
                unsynced.insert(directory)
            }
        } catch {
            return failed(name, error)
        }
        state.setDegraded("pipeline", nil)
        if entry.outcome == .rejected {
            let reason = file.parsed.errors.first?.summary ?? "no record"
            logger.warning("inbox file \(Self.printable(name)) rejected: \(file.parsed.errors.count) error(s), first: \(reason)")
            return .rejected(reason: reason)
        }
        logger.info("inbox file \(Self.printable(name)): \(entry.applied) applied, \(entry.rejected) rejected, \(entry.unchanged) unchanged")
        return .archived(applied: entry.applied, rejected: entry.rejected, unchanged: entry.unchanged)
    }

    static func parse(name: String, data: Data, configuration: VigilConfiguration) -> ParseResult {
        let ext = (name as NSString).pathExtension.lowercased()
        let options: IngestOptions
        do {
            options = try configuration.ingestOptions()
        } catch {
            return ParseResult(errors: [RecordError(error: "configuration error: \(error)")])
        }
        guard Self.supportedExtensions.contains(ext) else {
            return ParseResult(errors: [RecordError(
                field: "file name", error: ext.isEmpty ? "unsupported file type (no extension)" : "unsupported file type", expected: "a file ending in " + Self.supportedExtensions.map { ".\($0)" }.joined(separator: " or "))])
        }
        return Self.parse(data, extension: ext, options: options)
    }

    /// Parses file content with the parser for its extension (shared by the pipeline and `vigilctl check`).
    public static func parse(_ data: Data, extension ext: String, options: IngestOptions) -> ParseResult {
        switch ext {
        case "csv": SDTMParser(options: options).parse(data)
        case "hl7": HL7Parser(options: options).parse(data)
        default: JSONRecordParser(options: options).parse(data)
        }
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

    /// Moves aside a file whose name is not UTF-8, by its bytes, under a name Vigil can report.
    public func refuseUnreadableName(_ bytes: [UInt8]) {
        let inbox = state.configuration.directories.inbox
        let path = Array(inbox.utf8) + [UInt8(ascii: "/")] + bytes + [0]
        var info = stat()
        guard path.withUnsafeBufferPointer({ lstat(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), &info) }) == 0 else { return }
        let hex = bytes.prefix(32).map { String(format: "%02x", $0) }.joined()
        let safe = "unreadable-name-\(info.st_ino)"
        let temporary = "\(inbox)/.\(safe).tmp"
        guard path.withUnsafeBufferPointer({ Glibc.rename(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), temporary) }) == 0 else {
            logger.error("cannot move aside an inbox file whose name is not UTF-8 (bytes \(hex)): \(String(cString: strerror(errno)))")
            return
        }
        _ = refuse(name: safe, path: temporary, reason: "file name is not valid UTF-8 (bytes \(hex)); renamed \(safe)", key: "\(info.st_ino)|\(info.st_mtim.tv_sec)", now: clock())
    }

    /// Refuses a file that must not be opened or read whole; the file is moved aside, never read.
    func refuse(name: String, path: String, reason: String, key: String, now: Date) -> Outcome {
        let configuration = state.configuration
        let error = RecordError(field: "file", error: reason)
        do {
            try store.transaction { tx in
                let evaluator = Evaluator(configuration: configuration, now: now)
                try tx.record(evaluator.dataQualityAlert(fileName: name, triggerKey: "refused|\(name)|\(key)", errors: [error], applied: 0))
            }
            emitter.deliverPending()
            let target = try uniquePath(directory: configuration.directories.rejected, name: name, suffix: key.replacingOccurrences(of: "|", with: "-"))
            try DurableFile.replace(Data(Self.errorsJSON(file: name, errors: [error]).utf8), at: target + ".errors.json")
            try DurableFile.rename(path, to: target)
        } catch {
            return failed(name, error)
        }
        logger.warning("inbox file \(Self.printable(name)) refused: \(reason)")
        return .rejected(reason: reason)
    }

    /// Writes the error report and moves the file where its ledger entry says.
    /// With `syncing` false the move is left for the caller to make durable: it returns the directory
    /// to sync, once for all the files of a batch.
    @discardableResult
    func finish(name: String, entry: FileLedgerEntry, directories: VigilConfiguration.Directories, duplicate: Bool,
                syncing: Bool = true) throws -> String? {
        let source = "\(directories.inbox)/\(name)"
        let base = entry.outcome == .archived ? directories.archive : directories.rejected
        var target = "\(base)/\(entry.destination)"
        if let errors = entry.errorsJSON {
            let report = "\(directories.rejected)/\((entry.destination as NSString).lastPathComponent).errors.json"
            if !FileManager.default.fileExists(atPath: report) { try DurableFile.replace(Data(errors.utf8), at: report) }
        }
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        if duplicate, FileManager.default.fileExists(atPath: target) {
            target = try uniquePath(directory: (target as NSString).deletingLastPathComponent, name: name, suffix: "duplicate")
        }
        do {
            if syncing {
                try DurableFile.rename(source, to: target)
            } else {
                try DurableFile.move(source, to: target)
                return (target as NSString).deletingLastPathComponent
            }
        } catch let failure as DurableFile.Failure where failure.code == ENOENT && !FileManager.default.fileExists(atPath: source) {
            // Someone removed the file after it was read: what it held is applied and in the ledger
            // (by digest), so only the archived copy is missing. Say so; nothing is retried.
            logger.warning("inbox file \(Self.printable(name)) was removed by someone else after it was read; its records are applied (ledger sha256 \(entry.sha256.prefix(12))) but no copy could be archived")
        }
        return nil
    }

    /// `archive/YYYY-MM-DD/NAME` (site date) or `NAME` under rejected/, made unique with the digest.
    func destination(for name: String, usable: Bool, sha: String, now: Date, directories: VigilConfiguration.Directories, timeZone: String) throws -> String {
        if usable {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: timeZone) ?? .gmt
            let c = calendar.dateComponents([.year, .month, .day], from: now)
            let day = String(format: "%04d-%02d-%02d", c.year!, c.month!, c.day!)
            let folder = "\(directories.archive)/\(day)"
            return "\(day)/" + (try uniquePath(directory: folder, name: name, suffix: String(sha.prefix(12))) as NSString).lastPathComponent
        }
        return (try uniquePath(directory: directories.rejected, name: name, suffix: String(sha.prefix(12))) as NSString).lastPathComponent
    }

    func uniquePath(directory: String, name: String, suffix: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var candidate = "\(directory)/\(name)"
        var attempt = 1
        while FileManager.default.fileExists(atPath: candidate) {
            candidate = "\(directory)/\(name).\(suffix)" + (attempt > 1 ? "-\(attempt)" : "")
            attempt += 1
        }
        return candidate
    }

    /// A file whose size or modification time moved between the start and the end of the read.
    struct FileChangedWhileRead: Error {
        let detail: String
    }

    static func read(path: String, limit: Int) throws -> Data {
        try readStamped(path: path, limit: limit).data
    }

    /// The file's content with the stamp and inode it had throughout the read.
    static func readStamped(path: String, limit: Int) throws -> (data: Data, stamp: FileStamp, inode: UInt64) {
        // O_NOFOLLOW | O_NONBLOCK: a name swapped for a symlink or FIFO after lstat cannot trap us.
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw DurableFile.Failure(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        let before = try stamp(fd, path: path)
        let data = try readAll(fd, path: path, limit: limit)
        let after = try stamp(fd, path: path)
        if after.stamp != before.stamp || after.stamp.size != Int64(data.count) {
            throw FileChangedWhileRead(detail: "changed (\(before.stamp.size) → \(after.stamp.size) bytes)")
        }
        return (data, after.stamp, after.inode)
    }

    private static func stamp(_ fd: Int32, path: String) throws -> (stamp: FileStamp, inode: UInt64) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw DurableFile.Failure(operation: "fstat", path: path, code: errno) }
        return (FileStamp(info), UInt64(info.st_ino))
    }

    /// Reads `fd` to end of file, refusing more than `limit` bytes.
    static func readAll(_ fd: Int32, path: String, limit: Int) throws -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw DurableFile.Failure(operation: "read", path: path, code: errno)
            }
            if n == 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if data.count > limit { throw DurableFile.Failure(operation: "read (file grew past the size limit)", path: path, code: EFBIG) }
        }
        return data
    }

    /// The `NAME.errors.json` report: one object per bad record with file, location, field, the shape
    /// of the value found, error and expectation. It is kept in the file ledger too, so it never holds
    /// a rejected value (docs/ARCHITECTURE.md §3.1): the file beside it in `rejected/` does.
    /// Warnings follow the errors, each with `"outcome": "kept"` (the record was applied without the
    /// field, or with its term read conservatively); errors have `"outcome": "rejected"`.
    static func errorsJSON(file: String, errors: [RecordError], warnings: [RecordError] = []) -> String {
        let objects: [[String: Any]] = (errors.map { ($0, "rejected") } + warnings.map { ($0, "kept") }).map { error, outcome in
            var object: [String: Any] = ["file": ProducerText.visible(file), "error": ProducerText.visible(error.error), "outcome": outcome]
            if let line = error.line { object["line"] = line }
            if let segment = error.segment { object["segment"] = segment }
            if let field = error.field { object["field"] = ProducerText.visible(field) }
            if let shape = error.valueShape { object["value_shape"] = shape }
            if let expected = error.expected { object["expected"] = ProducerText.visible(expected) }
            return object
        }
        let data = (try? JSONSerialization.data(withJSONObject: objects, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}

/// The inbox files due after the one in hand, in the order they will be taken: the watcher's queue
/// of announced files, or a rescan's list. `FileProcessor` reads the next one ahead while it applies
/// the current one, and takes into the same transaction those whose read is ready (group commit).
/// Used from the one thread that processes files.
public final class UpcomingFiles {
    /// The next file, without taking it; nil when there is none (or no more may be taken now).
    let peek: () -> String?
    /// `name`, just returned by `peek`, is taken into the batch in hand.
    let take: (String) -> Void
    /// The next files, at most this many, in order, without taking them (what to read ahead).
    let ahead: (Int) -> [String]

    public init(peek: @escaping () -> String?, take: @escaping (String) -> Void, ahead: @escaping (Int) -> [String]) {
        self.peek = peek
        self.take = take
        self.ahead = ahead
    }

    /// The files of a fixed list, in order; `next()` takes them one at a time, and a batch takes
    /// them from the same place.
    public static func list(_ names: [String], while going: @escaping () -> Bool = { true }) -> UpcomingFiles {
        final class Position { var index = 0 }
        let position = Position()
        return UpcomingFiles(
            peek: { going() && position.index < names.count ? names[position.index] : nil },
            take: { name in if position.index < names.count, names[position.index] == name { position.index += 1 } },
            ahead: { count in going() ? Array(names[position.index..<min(names.count, position.index + count)]) : [] })
    }

    /// Takes the next file.
    public func next() -> String? {
        guard let name = peek() else { return nil }
        take(name)
        return name
    }
}

