import Foundation
import Glibc
import Synchronization
import VigilOutbox

/// The accept loop the socket servers share (the control socket, the MLLP listener): it waits on the
/// listening socket and a wake pipe, serves each accepted connection on a thread of its own up to
/// `maxConnections`, hands a connection over the limit to `refuse` on the accept thread (which must
/// not block), and closes the listening socket once `stop()` wakes it.
final class ConnectionAcceptor: Sendable {
    private let listenFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let maxConnections: Int
    private let threadName: String
    private let refuse: @Sendable (Int32) -> Void
    private let serve: @Sendable (Int32) -> Void
    private let active = Atomic<Int>(0)

    /// Starts accepting on `listenFD`, which the acceptor owns from now on. `serve` gets each
    /// connection and the acceptor closes it afterwards; `refuse` likewise.
    init(listenFD: Int32, maxConnections: Int, threadName: String,
         refuse: @escaping @Sendable (Int32) -> Void, serve: @escaping @Sendable (Int32) -> Void) throws {
        self.listenFD = listenFD
        self.maxConnections = maxConnections
        self.threadName = threadName
        self.refuse = refuse
        self.serve = serve
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else { throw DurableFile.Failure(operation: "pipe", path: threadName, code: errno) }
        for end in pipeFDs { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        let thread = Thread { [self] in self.acceptLoop() }
        thread.name = threadName
        thread.start()
    }

    /// Stops accepting; connections being served finish.
    func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func acceptLoop() {
        defer {
            close(listenFD)
            close(wakeRead)
            close(wakeWrite)
        }
        while true {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if fds[1].revents != 0 { return }
            guard fds[0].revents & Int16(POLLIN) != 0 else { continue }
            let client = accept(listenFD, nil, nil)
            guard client >= 0 else { continue }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            if active.add(1, ordering: .relaxed).newValue > maxConnections {
                active.subtract(1, ordering: .relaxed)
                refuse(client)
                close(client)
                continue
            }
            let thread = Thread { [self] in
                self.serve(client)
                close(client)
                self.active.subtract(1, ordering: .relaxed)
            }
            thread.name = "\(threadName)-client"
            thread.start()
        }
    }

    /// Writes all of `bytes`, without SIGPIPE; false when the peer is gone or the write timed out.
    static func send(_ bytes: [UInt8], to fd: Int32) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }
}
