import Foundation
import Glibc

/// File writes that survive a crash or power loss: write, fsync, rename, fsync the directory.
public enum DurableFile {
    /// An I/O failure with the path and the system's reason.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var operation: String
        public var path: String
        public var code: Int32
        public var description: String { "\(operation) \(path): \(String(cString: strerror(code)))" }

        public init(operation: String, path: String, code: Int32) {
            self.operation = operation
            self.path = path
            self.code = code
        }
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

    /// Makes the entries of a directory (creations, renames) durable.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(operation: "open", path: path, code: errno) }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw Failure(operation: "fsync", path: path, code: errno) }
    }
}
