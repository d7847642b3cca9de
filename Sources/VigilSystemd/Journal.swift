import CSystemd
import Foundation
import Synchronization

/// Writes structured entries to the systemd journal through `sd_journal_sendv`, one iovec per field,
/// so values may hold newlines (multi-line `MESSAGE`). When the journal socket is missing or refuses
/// the entry, it says so once on stderr, writes the same fields there, and reports itself unreachable
/// until an entry gets through again.
public final class JournalWriter: Sendable {
    /// The socket journald listens on; libsystemd always uses this path.
    public static let socketPath = "/run/systemd/journal/socket"

    private struct State {
        var reachable: Bool?
        var lastError: String?
    }

    private let state = Mutex(State())
    private let fallback: @Sendable (String) -> Void

    /// `fallback` receives the notice and the field dump when the journal is unreachable (stderr by default).
    public init(fallback: @escaping @Sendable (String) -> Void = JournalWriter.writeToStandardError) {
        self.fallback = fallback
    }

    public static let writeToStandardError: @Sendable (String) -> Void = { text in
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// Whether the last attempt reached journald (nil before the first attempt).
    public var isReachable: Bool? { state.withLock { $0.reachable } }
    /// Why the journal was last unreachable, for `status`.
    public var lastError: String? { state.withLock { $0.lastError } }

    /// Sends one entry; returns true when journald accepted it. Field names must be upper-case
    /// journal field names (`MESSAGE`, `PRIORITY`, `VIGIL_RULE`, …).
    @discardableResult
    public func send(_ fields: [(String, String)]) -> Bool {
        // libsystemd returns success when the socket is missing ("fail silently"), so look first:
        // an entry sent into the void must stay queued, not be counted as delivered.
        let result = FileManager.default.fileExists(atPath: Self.socketPath) ? Self.sendv(fields) : -ENOENT
        let failureNotice: String? = state.withLock { s in
            if result >= 0 {
                s.reachable = true
                s.lastError = nil
                return nil
            }
            let reason = String(cString: strerror(-result))
            let firstFailure = s.reachable != false
            s.reachable = false
            s.lastError = "sd_journal_sendv: \(reason) (\(Self.socketPath))"
            return firstFailure ? "vigild: systemd journal unreachable (\(reason), \(Self.socketPath)); writing journal fields to stderr until it returns\n" : ""
        }
        guard let failureNotice else { return true }
        let dump = fields.map { name, value in
            "\(name)=" + value.replacingOccurrences(of: "\n", with: "\n    ")
        }.joined(separator: "\n")
        fallback(failureNotice + dump + "\n\n")
        return false
    }

    /// Checks at start-up that journald listens on its socket; when it does not, says so once on stderr.
    @discardableResult
    public func probe() -> Bool {
        let failure = Self.listenerFailure()
        state.withLock { s in
            s.reachable = failure == nil
            s.lastError = failure.map { "\($0) (\(Self.socketPath))" }
        }
        if let failure {
            fallback("vigild: systemd journal unreachable (\(failure), \(Self.socketPath)); writing journal fields to stderr and queueing entries until it returns\n")
        }
        return failure == nil
    }

    /// Whether a journald process is listening on the journal socket right now: a connect() to
    /// `socketPath`, not a look at the file (which outlives a killed journald). The test support's and
    /// vigil-bench's `ensureJournald()` use it too.
    public static var isListening: Bool { listenerFailure() == nil }

    /// Why nothing listens on the journal socket, or nil when journald accepts connections. The socket
    /// file outlives a killed journald, so its existence proves nothing: only a connect() does.
    static func listenerFailure() -> String? {
        guard FileManager.default.fileExists(atPath: socketPath) else { return "no socket" }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket(): \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: socketPath.utf8)
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return connected == 0 ? nil : "connect(): \(String(cString: strerror(errno)))"
    }

    static func sendv(_ fields: [(String, String)]) -> Int32 {
        let entries = fields.map { name, value in Array("\(name)=\(value)".utf8) }
        return withIOVecs(entries) { vecs in
            sd_journal_sendv(vecs.baseAddress, Int32(vecs.count))
        }
    }

    private static func withIOVecs<R>(_ entries: [[UInt8]], _ body: (UnsafeBufferPointer<iovec>) -> R) -> R {
        // Copy every field into one buffer that outlives the call, then point the iovecs into it.
        let total = entries.reduce(0) { $0 + $1.count }
        let storage = UnsafeMutableRawPointer.allocate(byteCount: max(total, 1), alignment: 1)
        defer { storage.deallocate() }
        var vecs: [iovec] = []
        vecs.reserveCapacity(entries.count)
        var offset = 0
        for entry in entries {
            let base = storage.advanced(by: offset)
            entry.withUnsafeBytes { bytes in
                if let source = bytes.baseAddress { base.copyMemory(from: source, byteCount: entry.count) }
            }
            vecs.append(iovec(iov_base: base, iov_len: entry.count))
            offset += entry.count
        }
        return vecs.withUnsafeBufferPointer(body)
    }
}

/// Looks entries up in the local journal, so that after a crash Vigil can tell whether an alert it
/// sent just before dying already reached journald (exactly-once delivery).
public enum JournalReader {
    /// Whether any journal entry has all of the `field=value` pairs. Returns nil when the journal cannot be opened.
    public static func contains(_ matches: [(field: String, value: String)]) -> Bool? {
        var journal: OpaquePointer?
        guard sd_journal_open(&journal, Int32(SD_JOURNAL_LOCAL_ONLY)) >= 0, let journal else { return nil }
        defer { sd_journal_close(journal) }
        for (field, value) in matches {
            // Matches on different fields are ANDed by sd-journal.
            let match = Array("\(field)=\(value)".utf8)
            let added = match.withUnsafeBytes { bytes in sd_journal_add_match(journal, bytes.baseAddress, bytes.count) }
            guard added >= 0 else { return nil }
        }
        let next = sd_journal_next(journal)
        if next < 0 { return nil }
        return next > 0
    }

    public static func contains(field: String, value: String) -> Bool? {
        contains([(field: field, value: value)])
    }
}
