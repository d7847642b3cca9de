import Foundation
import Glibc

/// The Maildir-style outbox of docs/ARCHITECTURE.md §3.1: a message is written to `tmp/`, fsynced and renamed
/// into `new/ALERT_ID.eml`, so the relay never sees half a message and a replay never writes two.
public struct Outbox: Sendable {
    public let root: String
    public var tmp: String { root + "/tmp" }
    public var new: String { root + "/new" }
    public var sent: String { root + "/sent" }

    public init(root: String) {
        self.root = root
    }

    public func createDirectories() throws {
        for path in [root, tmp, new, sent] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }

    /// Whether the message for `alertID` is already in `new/` or `sent/`.
    public func contains(alertID: String) -> Bool {
        let name = "\(alertID).eml"
        return FileManager.default.fileExists(atPath: "\(new)/\(name)") || FileManager.default.fileExists(atPath: "\(sent)/\(name)")
    }

    /// Writes the message durably; a message already present is left as it is (returns false).
    @discardableResult
    public func deliver(alertID: String, message: String) throws -> Bool {
        if contains(alertID: alertID) { return false }
        let temporary = "\(tmp)/\(alertID).eml"
        try DurableFile.write(Data(message.utf8), to: temporary)
        try DurableFile.rename(temporary, to: "\(new)/\(alertID).eml")
        return true
    }

    /// Messages waiting in `new/` and the age of the oldest, for `status`.
    public func backlog(now: Date) -> (count: Int, oldestAgeSeconds: Double?) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: new))?.filter { $0.hasSuffix(".eml") } ?? []
        let oldest = names.compactMap { name in
            (try? FileManager.default.attributesOfItem(atPath: "\(new)/\(name)")[.modificationDate]) as? Date
        }.min()
        return (names.count, oldest.map { now.timeIntervalSince($0) })
    }
}

/// File writes that survive a crash or power loss: write, fsync, rename, fsync the directory.
public enum DurableFile {
    /// An I/O failure with the path and the system's reason.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var path: String
        public var code: Int32
        public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }
    }

    public static func write(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw Failure(operation: "write", path: path, code: errno)
                }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw Failure(operation: "fsync", path: path, code: errno) }
    }

    /// Atomically renames and makes the rename itself durable.
    public static func rename(_ from: String, to: String) throws {
        try move(from, to: to)
        try syncDirectory((to as NSString).deletingLastPathComponent)
    }

    /// Atomically renames; the rename is durable once the caller syncs the target's directory.
    public static func move(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else { throw Failure(operation: "rename", path: "\(from) -> \(to)", code: errno) }
    }

    /// Writes via a temporary sibling and renames, so readers see the old or the new file, never half.
    public static func replace(_ data: Data, at path: String) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = "\(directory)/.\((path as NSString).lastPathComponent).tmp"
        try write(data, to: temporary)
        try rename(temporary, to: path)
    }

    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(operation: "fsync", path: path, code: errno) }
    }
}
