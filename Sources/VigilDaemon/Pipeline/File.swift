import Foundation
import Glibc
import VigilConfig
import VigilCore
import VigilIngest
import VigilOutbox
import VigilStore

// Stage 6 of a file's trip (docs/ARCHITECTURE.md §1): file. After the commit and the delivery of its
// alerts a file moves, byte-identical, to `archive/YYYY-MM-DD/` or to `rejected/` with its
// `NAME.errors.json`, where its ledger entry says. A crash before the move leaves the file in the
// inbox, where the ledger knows its digest and only the move is made again.
extension FileProcessor {
    /// Moves each file of a committed group where its ledger entry says. The moves are made durable
    /// together, one directory sync for the group instead of one per file. Until then a crash may
    /// bring a file back into the inbox, where the ledger knows it and it is only moved again, as
    /// after a crash between the commit and any move.
    func fileAll(_ batch: [InboxFile], entries: [FileLedgerEntry], directories: VigilConfiguration.Directories) -> [(name: String, outcome: Outcome)] {
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
        return outcomes
    }

    /// After the commit (and the delivery of its alerts): moves the file where its ledger entry says,
    /// unless it was written to after it was read.
    func complete(_ file: InboxFile, entry: FileLedgerEntry, directories: VigilConfiguration.Directories, unsynced: inout Set<String>) -> Outcome {
        let name = file.name
        var current = stat()
        if lstat(file.path, &current) == 0, UInt64(current.st_ino) == file.inode, FileStamp(current) != file.stamp {
            // Written to after it was read: what was read is applied (and idempotent by record id), so the
            // file stays in the inbox and is read whole again once stable, instead of being archived
            // while its producer still holds it open.
            logger.notice("inbox file \(Self.printable(name)) changed after it was read (\(file.stamp.size) → \(current.st_size) bytes); \(entry.applied) record(s) applied so far, the rest when it is stable")
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
