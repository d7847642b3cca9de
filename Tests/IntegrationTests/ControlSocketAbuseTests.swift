import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// What a careless or hostile local client can do to the control socket: oversized lines, clients that
/// never finish or hang up half-way, a hundred at once, a flood beyond the connection limit, unknown
/// commands and unauthorised `ack` / `reload` / `resume`. Each is refused cleanly, the daemon keeps
/// answering, and files dropped meanwhile are still processed.
final class ControlSocketAbuseTests: XCTestCase {
    var harness: DaemonHarness!

    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
        harness = try DaemonHarness(label: "socket-abuse")
        try harness.start()
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    func testOversizedUnknownAndMalformedRequestsAreRefusedCleanly() throws {
        let huge = try RawClient(path: harness.socket)
        huge.send(Array(repeating: UInt8(ascii: "a"), count: 100_000) + [0x0A])
        XCTAssertTrue(huge.readReply().contains("request longer than 4096 bytes"))

        let unknown = try RawClient(path: harness.socket)
        unknown.send(Array("format-disk now\n".utf8))
        let reply = unknown.readReply()
        XCTAssertTrue(reply.contains("unknown command 'format-disk'"), reply)
        XCTAssertTrue(reply.contains("\"ok\":false"), reply)

        let binary = try RawClient(path: harness.socket)
        binary.send([0xFF, 0xFE, 0x00, 0x0A])
        XCTAssertTrue(binary.readReply().contains("request is not UTF-8"))

        let empty = try RawClient(path: harness.socket)
        empty.send([0x0A])
        XCTAssertTrue(empty.readReply().contains("empty request"))

        XCTAssertEqual(try harness.vigilctl(["ping"]).status, 0)
        XCTAssertTrue(harness.isRunning)
    }

    /// A client that sends half a line and stops is cut off after the client timeout with a clear
    /// error, one that half-closes gets its answer, one that hangs up before reading harms nothing;
    /// meanwhile other clients and the pipeline are served.
    func testSlowAndHalfOpenClientsDoNotBlockOthersOrIngest() throws {
        let slow = try RawClient(path: harness.socket)
        slow.send(Array("sta".utf8))
        let idle = try (0..<20).map { _ in try RawClient(path: harness.socket) }

        // While they hang on, others are answered and a dropped file goes all the way to the outbox.
        XCTAssertEqual(try harness.vigilctl(["ping"]).status, 0)
        try harness.drop("during-abuse.ndjson", Self.lactate(id: "LAB-S-1", subject: "LYS-07-001", value: 4.4))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { self.harness.files(in: self.harness.outboxNew).count == 1 }, harness.stderr)

        XCTAssertTrue(slow.readReply(timeout: 15).contains("request not completed within 5 s"))
        for client in idle { client.close() }

        let halfClosed = try RawClient(path: harness.socket)
        halfClosed.send(Array("ping".utf8))
        halfClosed.shutdownWrite()
        XCTAssertTrue(halfClosed.readReply().contains("\"pong\":true"), "a request ended by EOF instead of a newline is still answered")

        for _ in 0..<50 {
            let rude = try RawClient(path: harness.socket)
            rude.send(Array("status\n".utf8))
            rude.close()  // gone before the reply: the daemon's send fails quietly (MSG_NOSIGNAL)
        }
        XCTAssertEqual(try harness.vigilctl(["ping"]).status, 0)
        XCTAssertEqual(try harness.statusJSON()["state"] as? String, "ok")
    }

    func testHundredConcurrentClientsAreAllAnswered() throws {
        let replies = Mutex100()
        let socket = harness.socket
        DispatchQueue.concurrentPerform(iterations: 100) { index in
            let reply = (try? RawClient(path: socket)).map { client -> String in
                client.send(Array((index.isMultiple(of: 2) ? "status\n" : "alerts\n").utf8))
                return client.readReply(timeout: 20)
            } ?? "connect failed"
            replies.append(reply)
        }
        let all = replies.values
        XCTAssertEqual(all.count, 100)
        XCTAssertEqual(all.filter { $0.contains("\"ok\":true") }.count, 100, all.filter { !$0.contains("\"ok\":true") }.prefix(3).joined(separator: "\n"))
    }

    /// Beyond the connection limit a client is told "busy" at once instead of taking a thread; once
    /// the flood is gone, service is normal.
    func testConnectionFloodBeyondTheLimitIsRefusedAndRecovers() throws {
        var flood: [RawClient] = []
        for _ in 0..<260 { flood.append(try RawClient(path: harness.socket)) }
        let late = try RawClient(path: harness.socket)
        let reply = late.readReply(timeout: 10)
        XCTAssertTrue(reply.contains("busy: 256 control connections already open"), reply)
        for client in flood { client.close() }
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { (try? self.harness.vigilctl(["ping"]).status) == 0 })
        XCTAssertTrue(harness.isRunning)
    }

    /// `ack`, `reload`, `resume` and `silence` change what the team is told; a user outside root and the
    /// on-call group is refused by SO_PEERCRED even when the socket's mode would let it connect.
    func testUnauthorisedChangesAreRefused() throws {
        guard getuid() == 0 else { throw TestSupport.Failure("this test needs root to run vigilctl as another user (CI runs as root)") }
        try harness.drop("alert.ndjson", Self.lactate(id: "LAB-U-1", subject: "LYS-07-002", value: 4.8))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { self.harness.files(in: self.harness.outboxNew).count == 1 })
        let alerts = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try harness.vigilctl(["alerts", "--json"]).stdout.utf8)) as? [String: Any])
        let alertID = try XCTUnwrap(((alerts["alerts"] as? [[String: Any]])?.first)?["id"] as? String)
        chmod(harness.socket, 0o666)
        let attempts: [[String]] = [
            ["ack", alertID, "--by", "intruder"],
            ["reload"],
            ["resume", "--by", "intruder", "--reason", "x"],
            ["silence", "LYS-07-002", "--for", "1h", "--reason", "x"],
        ]
        for arguments in attempts {
            let result = try TestSupport.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "\(harness.products)/vigilctl"]
                                                 + arguments + ["--socket", harness.socket])
            XCTAssertNotEqual(result.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(result.stderr.contains("access denied"), "\(arguments): \(result.stderr)")
        }
        let reader = try TestSupport.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "\(harness.products)/vigilctl", "status", "--socket", harness.socket])
        XCTAssertEqual(reader.status, 0, "reading status needs only access to the socket: \(reader.stderr)")
        let after = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try harness.vigilctl(["alerts", "--json"]).stdout.utf8)) as? [String: Any])
        let alert = try XCTUnwrap((after["alerts"] as? [[String: Any]])?.first)
        XCTAssertNil(alert["acked_by"] as? String, "the refused ack changed nothing: \(alert)")
        XCTAssertEqual(try harness.vigilctl(["silences"]).stdout.contains("LYS-07-002"), false, "the refused silence is not in force")
    }

    static func lactate(id: String, subject: String, value: Double) -> String {
        #"{"type":"observation","id":"\#(id)","subject":"\#(subject)","time":"2026-11-23T08:00:00+01:00","code":"lactate","value":\#(value),"unit":"mmol/L"}"# + "\n"
    }
}

/// Replies gathered from concurrent clients.
final class Mutex100: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func append(_ item: String) { lock.lock(); items.append(item); lock.unlock() }
    var values: [String] { lock.lock(); defer { lock.unlock() }; return items }
}

/// A control-socket client speaking raw bytes, to send what `vigilctl` never would.
final class RawClient: @unchecked Sendable {
    private var fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestSupport.Failure("socket() failed") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: path.utf8) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw TestSupport.Failure("connect(\(path)) failed: \(String(cString: strerror(errno)))")
        }
    }

    deinit { close() }

    func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }  // the daemon may stop reading an oversized request: that is the point
            offset += n
        }
    }

    func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// Reads until the daemon closes the connection (one reply line), or `timeout` seconds.
    func readReply(timeout: Int = 10) -> String {
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var data = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        return String(decoding: data, as: UTF8.self)
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
