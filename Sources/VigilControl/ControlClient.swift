import Foundation
import Glibc

/// Sends one request line to the control socket and returns the reply line (used by `vigilctl`
/// and the tests).
public enum ControlClient {
    /// Why a request got no reply, worded for the person at the terminal.
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    public static func request(_ line: String, socketPath: String, timeoutSeconds: Int = 10) throws(Failure) -> String {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "cannot create a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(socketPath.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw Failure(description: "socket path too long: \(socketPath)")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let code = errno
            switch code {
            case ENOENT, ECONNREFUSED:
                throw Failure(description: "vigild is not running (no listener on \(socketPath))")
            case EACCES, EPERM:
                throw Failure(description: "access to \(socketPath) denied; ask to be added to the control group (control.group in vigil.yaml)")
            default:
                throw Failure(description: "cannot connect to \(socketPath): \(String(cString: strerror(code)))")
            }
        }
        let request = Array((line + "\n").utf8)
        guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else {
            throw Failure(description: "cannot send the request: \(String(cString: strerror(errno)))")
        }
        var reply = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR { continue }
                throw Failure(description: "no reply from vigild within \(timeoutSeconds) s")
            }
            if n == 0 { break }
            reply.append(contentsOf: chunk[0..<n])
            if reply.last == 0x0A { break }
        }
        guard !reply.isEmpty else { throw Failure(description: "vigild closed the connection without a reply") }
        return String(decoding: reply, as: UTF8.self).trimmingCharacters(in: .newlines)
    }
}
