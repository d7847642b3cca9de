import Foundation
import Glibc
import VigilSystemd

/// Helpers the test targets share: scratch directories, a real journald, running real binaries,
/// a notify socket standing in for the service manager, and polling with a deadline.
public enum TestSupport {
    /// A fresh directory under /tmp, removed by the caller when done.
    public static func scratchDirectory(_ label: String) throws -> String {
        let path = "/tmp/vigil-test-\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    /// Makes sure a real systemd-journald is listening, starting `/lib/systemd/systemd-journald` when
    /// none runs (CI machines have no systemd as PID 1). Throws when it cannot be had.
    public static func ensureJournald() throws {
        // A connect() probe: the socket file stays behind when journald is killed (as at the end of
        // a session), so only a connection tells a live journald from a dead one.
        if JournalWriter.isListening { return }
        guard getuid() == 0 else {
            throw Failure("no systemd-journald is running and only root can start one; run the tests as root or on a systemd machine")
        }
        let journald = Process()
        journald.executableURL = URL(fileURLWithPath: "/lib/systemd/systemd-journald")
        journald.standardOutput = FileHandle.nullDevice
        journald.standardError = FileHandle.nullDevice
        try journald.run()
        guard waitUntil(timeout: 10, { JournalWriter.isListening }) else {
            throw Failure("started systemd-journald but its socket did not appear at \(JournalWriter.socketPath)")
        }
    }

    /// Reads back journal entries matching `match` (e.g. "VIGIL_TRIAL=X") as field dictionaries.
    public static func journalEntries(matching match: String) throws -> [[String: Any]] {
        let result = try run("/usr/bin/journalctl", ["-o", "json", "--no-pager", "--all", match])
        return result.stdout.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
        }
    }

    /// Output and status of a finished command.
    public struct Completed: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    /// Runs a command to completion and captures its output.
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Completed {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Completed(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick for port 0).
    public static func freeLoopbackPort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw Failure("no free port on 127.0.0.1: \(String(cString: strerror(errno)))") }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Polls `condition` every 20 ms until it holds or `timeout` seconds pass.
    @discardableResult
    public static func waitUntil(timeout: TimeInterval, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    /// The directory holding the built products (`vigild`, `vigilctl`), next to the test bundle.
    public static func productsDirectory() -> String {
        let candidates = [
            URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path,
            URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent(".build/debug").path,
        ]
        return candidates.first { FileManager.default.isExecutableFile(atPath: "\($0)/vigild") } ?? candidates[0]
    }

    /// The repository root (for `config/`, `samples/`, `systemd/`).
    public static func repositoryRoot() -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    }

    /// A test precondition that did not hold.
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }
}

/// A Unix datagram socket playing the service manager's `NOTIFY_SOCKET`: collects what the daemon
/// sends with `sd_notify`.
public final class NotifySocket: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []

    public init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupport.Failure("socket() failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0 else { throw TestSupport.Failure("cannot bind notify socket \(path)") }
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Reads whatever arrived, without blocking for more than 100 ms.
    public func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { return }
            lock.lock()
            received.append(String(decoding: buffer[0..<n], as: UTF8.self))
            lock.unlock()
        }
    }

    /// Every message received so far, each as sent (newline-separated assignments).
    public var messages: [String] {
        drain()
        lock.lock()
        defer { lock.unlock() }
        return received
    }

    /// Waits until a message containing the assignment `line` (e.g. "READY=1") arrives.
    public func waitFor(_ line: String, timeout: TimeInterval, after index: Int = 0) -> Bool {
        TestSupport.waitUntil(timeout: timeout) {
            messages.dropFirst(index).contains { $0.split(separator: "\n").contains(Substring(line)) }
        }
    }
}
