import Foundation
import Glibc
import VigilConfig
import VigilControl
import VigilCore
import VigilOutbox

// Stage 2 of a file's trip (docs/ARCHITECTURE.md §1): read. A claimed file is read whole, with its
// size and modification time checked around the read, so a producer still writing in place is
// never half read. In a backlog the next files are read and parsed ahead on another thread
// (`ReadAhead`); the writing thread reads a file itself only when no read-ahead matches it.
extension FileProcessor {
    /// What the read stage gives for a claimed file.
    enum ReadStage {
        /// Read and parsed ahead, and still the file the read saw.
        case parsedAhead(InboxFile)
        /// Read on the writing thread; parsing is next, unless the ledger knows the digest.
        case read(RawFile, StageTimer)
        /// Not read: changing under the read, or unreadable.
        case notRead(Outcome)
    }

    /// How far reading goes ahead of applying: as many files as a group commit takes, so reading
    /// stays busy through a commit and its delivery pass in a backlog of small files; a byte bound
    /// keeps a backlog of large files to about one file ahead, so the memory it holds stays that of
    /// about one transaction.
    static let readAheadWindow = ReadAhead<InboxFile>.Window(files: groupCommitFiles, bytes: 512 * 1024)

    /// Reads `name` (claimed as `info`): from the read-ahead if it matches, else here.
    func read(_ name: String, path: String, info: stat, configuration: VigilConfiguration) -> ReadStage {
        if let prepared = takeReadAhead(name: name, info: info, configuration: configuration) {
            return .parsedAhead(prepared)
        }
        let timer = StageTimer()
        let data: Data
        do {
            data = try Self.readStamped(path: path, limit: configuration.limits.maxFileBytes).data
        } catch let changing as FileChangedWhileRead {
            // A producer is still writing in place (against the rename contract): take the file when
            // it is stable, at its close-write event or the next rescan, never half of it.
            logger.notice("inbox file \(Self.printable(name)) \(changing.detail) while being read; left for a later pass")
            return .notRead(.deferred(changing.detail))
        } catch {
            logger.error("cannot read inbox file \(Self.printable(name)): \(error)")
            return .notRead(.failed("\(error)"))
        }
        let raw = RawFile(name: name, path: path, inode: UInt64(info.st_ino), stamp: FileStamp(info), data: data, sha: Digest.sha256Hex(data))
        return .read(raw, timer)
    }

    /// Reads and parses `name` for the read-ahead, off the writing thread: applying files is
    /// single-threaded, and reading and parsing them is a large share of the work. Nothing is
    /// written or moved. Nil when it is not a regular file within the size limit, or unreadable: the
    /// writing thread then claims and reads it itself, and reports why.
    static func prepare(name: String, configuration: VigilConfiguration) -> InboxFile? {
        let timer = StageTimer()
        let path = "\(configuration.directories.inbox)/\(name)"
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG, Int(info.st_size) <= configuration.limits.maxFileBytes,
              let (data, stamp, inode) = try? readStamped(path: path, limit: configuration.limits.maxFileBytes)
        else { return nil }
        let raw = RawFile(name: name, path: path, inode: inode, stamp: stamp, data: data, sha: Digest.sha256Hex(data))
        var file = parse(raw, configuration: configuration, receivedAt: Date())
        file.readCost = timer.elapsed
        return file
    }

    /// Reads ahead the files due next (`upcoming`), as far as the window goes.
    func readAhead(_ upcoming: UpcomingFiles?) {
        let names = upcoming?.ahead(readAhead.window.files) ?? []
        readAhead.request(names.filter(Self.mayTake), in: state.configuration.directories.inbox)
    }

    /// The read-ahead of `name` if it was made of the file as it is now (`info`) and under
    /// `configuration`; a read of it still running or queued is waited for (it was requested while
    /// earlier files were applied, so it is usually done). Otherwise nil: the file is read again.
    func takeReadAhead(name: String, info: stat, configuration: VigilConfiguration) -> InboxFile? {
        guard let prepared = readAhead.take(name),
              prepared.inode == UInt64(info.st_ino), prepared.stamp == FileStamp(info), prepared.configuration == configuration
        else { return nil }
        readAheadUsed.withLock { $0 += 1 }
        return prepared
    }

    /// A file whose size or modification time moved between the start and the end of the read.
    struct FileChangedWhileRead: Error {
        let detail: String
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
}
