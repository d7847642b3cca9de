import Foundation
import Glibc
import VigilSystemd

/// Monotonic seconds, for every interval the benchmark reports.
func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func withSockaddrUn<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    precondition(bytes.count < MemoryLayout.size(ofValue: address.sun_path), "socket path too long: \(path)")
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
}

/// The service manager's side of `sd_notify`: a datagram socket we bind and pass as NOTIFY_SOCKET.
final class NotifyListener {
    let path: String
    let fd: Int32

    init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket(AF_UNIX, SOCK_DGRAM) failed") }
        guard withSockaddrUn(path, { bind(fd, $0, $1) }) == 0 else { throw BenchError("cannot bind notify socket \(path): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Discards whatever is queued.
    func drain() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while buffer.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) > 0 {}
    }

    /// Blocks until a datagram holding the line `READY=1` arrives; returns the monotonic time it was read,
    /// or nil after `timeout` seconds or when `alive()` turns false.
    func waitReady(timeout: Double, alive: () -> Bool) -> Double? {
        let deadline = monotonic() + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while monotonic() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, 50)
            if ready > 0 {
                let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                let at = monotonic()
                if n > 0, String(decoding: buffer[0..<n], as: UTF8.self).split(separator: "\n").contains("READY=1") { return at }
            } else if !alive() {
                return nil
            }
        }
        return nil
    }
}

/// One `vigild` process started by the benchmark.
final class DaemonProcess {
    let pid: pid_t
    let startedAt: Double
    private(set) var exitStatus: Int32?

    /// Starts `vigild --config CONFIG` with NOTIFY_SOCKET set, stdout and stderr appended to `log`.
    /// With a `prefix` (a wrapper such as valgrind), `vigild` is the wrapper's launcher and `target` the daemon.
    init(vigild: String, prefix: [String] = [], target: String, config: String, notifySocket: String, log: String, logLevel: String) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notifySocket
        environment.removeValue(forKey: "WATCHDOG_USEC")
        environment.removeValue(forKey: "LISTEN_FDS")
        let words = (prefix.isEmpty ? [vigild] : [vigild] + prefix) + [target, "--config", config, "--log-level", logLevel]
        let argv: [UnsafeMutablePointer<CChar>?] = (prefix.isEmpty ? [target, "--config", config, "--log-level", logLevel] : words).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var child: pid_t = 0
        let start = monotonic()
        let rc = posix_spawn(&child, vigild, &actions, nil, argv, envp)
        guard rc == 0 else { throw BenchError("cannot start \(vigild): \(String(cString: strerror(rc)))") }
        pid = child
        startedAt = start
    }

    /// Whether the process is still running (reaps it when it has exited).
    var isRunning: Bool {
        if exitStatus != nil { return false }
        var status: Int32 = 0
        let r = waitpid(pid, &status, WNOHANG)
        if r == pid {
            exitStatus = status
            return false
        }
        return r == 0
    }

    /// SIGTERM, then waits; SIGKILL after `timeout`. Returns the seconds the exit took.
    @discardableResult
    func stop(timeout: Double = 60) -> Double {
        guard isRunning else { return 0 }
        let start = monotonic()
        kill(pid, SIGTERM)
        while isRunning {
            if monotonic() - start > timeout {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                exitStatus = status
                break
            }
            usleep(2_000)
        }
        return monotonic() - start
    }

    /// VmRSS and VmHWM in KiB from /proc/PID/status.
    func memory() -> (rss: Int, hwm: Int, anonymous: Int, file: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if let key = words.first, ["VmRSS:", "VmHWM:", "RssAnon:", "RssFile:"].contains(key) {
                fields[String(key)] = Int(words.dropFirst().first ?? "") ?? 0
            }
        }
        guard let rss = fields["VmRSS:"], rss > 0 else { return nil }
        return (rss, fields["VmHWM:"] ?? 0, fields["RssAnon:"] ?? 0, fields["RssFile:"] ?? 0)
    }

    /// User + system CPU seconds from /proc/PID/stat.
    func cpuSeconds() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // After ")": state(0) ppid(1) ... utime is field 14 overall → index 11 here, stime index 12.
        guard fields.count > 12, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        return (utime + stime) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}

/// One request line, one JSON reply line, over the control socket.
func controlRequest(socket path: String, _ line: String, timeout: Double = 30) throws -> [String: Any] {
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw BenchError("socket() failed") }
    defer { close(fd) }
    var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    guard withSockaddrUn(path, { connect(fd, $0, $1) }) == 0 else {
        throw BenchError("cannot connect to the control socket \(path): \(String(cString: strerror(errno)))")
    }
    let request = Array((line + "\n").utf8)
    guard request.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == request.count else { throw BenchError("control socket write failed") }
    var reply: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !reply.contains(0x0A) {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n <= 0 { break }
        reply += buffer[0..<n]
    }
    guard let object = try JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] else {
        throw BenchError("control reply is not a JSON object: \(String(decoding: reply.prefix(200), as: UTF8.self))")
    }
    return object
}

/// The figures of a `status` reply the benchmark needs.
struct StatusFigures {
    var files = 0
    var applied = 0
    var rejected = 0
    var stored = 0
    var filesRejected = 0
    var outboxBacklog = 0
    var inboxBacklog = 0
    var storeBytes: Int64 = 0
    var storePath = ""
    var degraded: [String] = []
    /// `pipeline_cost`: records counted, and each stage's thread CPU and wall seconds since start-up.
    var costRecords = 0
    var stages: [String: (cpu: Double, wall: Double)] = [:]

    /// The pipeline stages `status` reports, in pipeline order.
    static let stageNames = ["read", "store", "rules", "commit", "delivery", "files"]

    init(_ reply: [String: Any]) throws {
        guard reply["ok"] as? Bool == true, let records = reply["records"] as? [String: Any] else {
            throw BenchError("status failed: \(reply)")
        }
        files = records["files"] as? Int ?? 0
        applied = records["applied"] as? Int ?? 0
        rejected = records["rejected"] as? Int ?? 0
        stored = records["stored"] as? Int ?? 0
        filesRejected = records["files_rejected"] as? Int ?? 0
        outboxBacklog = (reply["outbox"] as? [String: Any])?["backlog"] as? Int ?? 0
        inboxBacklog = reply["inbox_backlog"] as? Int ?? 0
        storeBytes = ((reply["store"] as? [String: Any])?["bytes"] as? NSNumber)?.int64Value ?? 0
        storePath = (reply["store"] as? [String: Any])?["path"] as? String ?? ""
        degraded = reply["degraded"] as? [String] ?? []
        if let cost = reply["pipeline_cost"] as? [String: Any] {
            costRecords = cost["records"] as? Int ?? 0
            for name in Self.stageNames {
                guard let stage = cost[name] as? [String: Any] else { continue }
                stages[name] = ((stage["cpu_seconds"] as? NSNumber)?.doubleValue ?? 0, (stage["wall_seconds"] as? NSNumber)?.doubleValue ?? 0)
            }
        }
    }

    static func fetch(socket: String) throws -> StatusFigures { try StatusFigures(controlRequest(socket: socket, "status")) }
}

/// Makes sure a systemd-journald accepts connections (vigild writes every alert to it), starting
/// `/lib/systemd/systemd-journald` when none does — as the tests' `ensureJournald` does.
/// Returns a note when it had to start one.
func ensureJournald() throws -> String? {
    let socketPath = JournalWriter.socketPath
    if JournalWriter.isListening { return nil }
    guard getuid() == 0 else { throw BenchError("no systemd-journald answers on \(socketPath) and only root can start one") }
    var child: pid_t = 0
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
    let path = "/lib/systemd/systemd-journald"
    let argv: [UnsafeMutablePointer<CChar>?] = [strdup(path), nil]
    defer { argv.forEach { free($0) } }
    let rc = posix_spawn(&child, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(rc)))") }
    let deadline = monotonic() + 10
    while monotonic() < deadline {
        if JournalWriter.isListening { return "started \(path) (pid \(child)); it keeps running after the benchmark" }
        usleep(20_000)
    }
    throw BenchError("started \(path) but \(socketPath) does not accept connections")
}

/// Regular, non-temporary names in a directory (what the daemon still has to process).
func pendingNames(_ directory: String) -> Set<String> {
    guard let dir = opendir(directory) else { return [] }
    defer { closedir(dir) }
    var names = Set<String>()
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name.hasPrefix(".") || name.hasSuffix(".tmp") || name.hasSuffix(".part") { continue }
        names.insert(name)
    }
    return names
}

/// Writes bytes to a new file (no fsync: producers' files are not the daemon's durability cost).
func writeFile(_ path: String, _ bytes: [UInt8], sync: Bool = false) throws {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw BenchError("open \(path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
        guard n > 0 else { throw BenchError("write \(path): \(String(cString: strerror(errno)))") }
        offset += n
    }
    if sync { fsync(fd) }
}

func makeDirectory(_ path: String) throws {
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
}

/// Watches one directory with inotify for names appearing (IN_MOVED_TO, IN_CREATE, IN_CLOSE_WRITE).
final class DirectoryWatch {
    let fd: Int32

    init(_ directory: String) throws {
        fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw BenchError("inotify_init1 failed") }
        guard inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE)) >= 0 else {
            throw BenchError("inotify_add_watch \(directory): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    /// Waits up to `timeout` seconds for events; returns the names seen with the monotonic time each
    /// batch was read (empty on timeout).
    func next(timeout: Double) -> [(name: String, at: Double)] {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, Int32(max(0, timeout * 1000))) > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: 16384)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        let at = monotonic()
        guard count > 0 else { return [] }
        var out: [(String, Double)] = []
        var offset = 0
        let header = MemoryLayout<inotify_event>.size
        buffer.withUnsafeBytes { raw in
            while offset + header <= count {
                let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let name = String(decoding: raw[(offset + header)..<min(offset + header + length, count)].prefix { $0 != 0 }, as: UTF8.self)
                offset += header + length
                if !name.isEmpty { out.append((name, at)) }
            }
        }
        return out.map { (name: $0.0, at: $0.1) }
    }
}
