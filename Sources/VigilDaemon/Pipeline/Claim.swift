import Foundation
import Glibc
import VigilConfig
import VigilCore
import VigilIngest
import VigilOutbox

// Stage 1 of a file's trip (docs/ARCHITECTURE.md §1): claim. Which inbox names are files to take,
// and what is refused before it is opened: directories are left alone, anything but a regular file
// and anything over `limits.max_file_bytes` is moved to rejected/ unread, with a data-quality alert.
extension FileProcessor {
    /// Whether a name in the inbox is a producer's temporary file that must be left alone.
    public static func isTemporaryName(_ name: String) -> Bool {
        name.hasPrefix(".") || name.hasSuffix(".tmp") || name.hasSuffix(".part")
    }

    /// Whether a name has a path separator (an inotify name never does; a caller's might). On the
    /// bytes: `String.contains("/")` goes through Foundation's `NSString` search, and a backlog asks
    /// it of every file due, for every file taken.
    static func hasSlash(_ name: String) -> Bool { name.utf8.contains(UInt8(ascii: "/")) }

    /// Whether `name` may be taken at all: not a temporary name, not a path.
    static func mayTake(_ name: String) -> Bool { !isTemporaryName(name) && !hasSlash(name) }

    /// Claims the inbox entry `name`, which `lstat` saw as `info`: nil when it is a regular file
    /// within the size limit, to be read; otherwise what became of it (left alone or refused).
    func claim(_ name: String, path: String, info: stat, configuration: VigilConfiguration, now: Date) -> Outcome? {
        let kind = info.st_mode & S_IFMT
        if kind == S_IFDIR {
            if reportedDirectories.withLock({ $0.insert(name).inserted }) {
                logger.warning("inbox entry \(Self.printable(name)) is a directory; left alone (producers must drop files)")
            }
            return .ignored
        }
        if kind != S_IFREG {
            let what = kind == S_IFLNK ? "a symbolic link" : kind == S_IFIFO ? "a FIFO" : "not a regular file"
            return refuse(name: name, path: path, reason: "\(what) is refused; producers must write regular files", key: "\(info.st_ino)|\(info.st_mtim.tv_sec)", now: now)
        }
        if Int(info.st_size) > configuration.limits.maxFileBytes {
            return refuse(name: name, path: path, reason: "file of \(info.st_size) bytes exceeds the \(configuration.limits.maxFileBytes)-byte limit (limits.max_file_bytes)", key: "\(info.st_ino)|\(info.st_mtim.tv_sec)|\(info.st_size)", now: now)
        }
        return nil
    }

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
}
