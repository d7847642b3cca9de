import Foundation
import Glibc
import Synchronization
import VigilConfig
import VigilControl
import VigilOutbox

/// Who is on the other end of a control connection (`SO_PEERCRED`), for access checks and the
/// "who acknowledged" record.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32
}

/// The Unix control socket of docs/ARCHITECTURE.md §3.4: one request line in, one JSON line out. It runs on
/// threads of its own, so a busy pipeline never delays a reply to the on-call person.
public final class ControlServer: Sendable {
    /// A client that does not finish its line in this time is disconnected.
    public static let clientTimeoutSeconds = 5
    /// Connections served at once (a thread each); beyond it a client gets a "busy" reply at once,
    /// so a flood of idle connections cannot exhaust threads. Idle ones are cut after the timeout.
    public static let maxConcurrentClients = 256

    public typealias Handler = @Sendable (_ line: String, _ peer: PeerCredentials?) -> String

    private let handler: Handler
    private let path: String?
    private let acceptor: ConnectionAcceptor

    /// Binds `path` (replacing a stale socket) or adopts `activatedFD` from socket activation.
    public init(path: String, mode: UInt16, group: String, activatedFD: Int32?, handler: @escaping Handler) throws {
        self.handler = handler
        let listenFD: Int32
        if let activatedFD {
            listenFD = activatedFD
            self.path = nil
        } else {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            listenFD = try Self.bind(path: path, mode: mode, group: group)
            self.path = path
        }
        acceptor = try ConnectionAcceptor(
            listenFD: listenFD, maxConnections: Self.maxConcurrentClients, threadName: "vigil-control",
            refuse: { Self.refuseBusy($0) }, serve: { [handler] in Self.serve($0, handler: handler) })
    }

    static func bind(path: String, mode: UInt16, group: String) throws -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DurableFile.Failure(operation: "socket", path: path, code: errno) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            close(fd)
            throw DurableFile.Failure(operation: "bind (path too long for a Unix socket)", path: path, code: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let code = errno
            close(fd)
            throw DurableFile.Failure(operation: "bind", path: path, code: code)
        }
        chmod(path, mode_t(mode))
        if let entry = getgrnam(group) { chown(path, uid_t.max, entry.pointee.gr_gid) }
        return fd
    }

    /// Stops accepting and removes the socket file.
    public func stop() {
        acceptor.stop()
        if let path { unlink(path) }
    }

    private static func serve(_ fd: Int32, handler: Handler) {
        var timeout = timeval(tv_sec: Self.clientTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let peer = peerCredentials(fd)
        let reply: String
        switch readLine(fd) {
        case .success(let line): reply = handler(line, peer)
        case .failure(let failure): reply = ControlReply.error(failure.message)
        }
        send(reply, to: fd)
    }

    /// Answers a connection over the limit without reading it, from the accept thread: the reply is
    /// short and the socket is non-blocking here, so a client that never reads cannot stall accept().
    private static func refuseBusy(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        send(ControlReply.error("busy: \(maxConcurrentClients) control connections already open; try again"), to: fd)
    }

    private static func send(_ reply: String, to fd: Int32) {
        _ = ConnectionAcceptor.send(Array((reply + "\n").utf8), to: fd)
    }

    static func peerCredentials(_ fd: Int32) -> PeerCredentials? {
        // struct ucred { pid_t pid; uid_t uid; gid_t gid; }, which PeerCredentials mirrors field for field.
        var credentials = PeerCredentials(pid: 0, uid: 0, gid: 0)
        var length = socklen_t(MemoryLayout<PeerCredentials>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0 else { return nil }
        return credentials
    }

    /// Reads the client's request up to its first newline (or the end of the stream), stopping early
    /// once more than `ControlRequest.maxBytes` bytes arrived without one, and hands the bytes to
    /// `ControlRequest.decode(bytes:)` for the length, UTF-8 and trimming rules. Fails with the reply
    /// text when the socket read fails or the client is too slow.
    static func readLine(_ fd: Int32) -> Result<String, ControlRequestError> {
        var data = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                let message = errno == EAGAIN ? "request not completed within \(clientTimeoutSeconds) s" : "read failed"
                return .failure(ControlRequestError(command: nil, message: message))
            }
            if n == 0 { break }
            data.append(contentsOf: chunk[0..<n])
            // decode(bytes:) ends the line at the newline and refuses more than maxBytes before it.
            if chunk[0..<n].contains(0x0A) || data.count > ControlRequest.maxBytes { break }
        }
        return ControlRequest.decode(bytes: data)
    }
}
