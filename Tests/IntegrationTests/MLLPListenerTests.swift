import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// The MLLP listener of the real vigild, with a real TCP client (vigil.yaml(5), MLLP): a message is
/// in the inbox, durably, before its acknowledgement; AE and AR as documented; the frame limits; and
/// across kill -9 right after an acknowledgement, nothing lost and, with the sender's resend, nothing
/// doubled.
final class MLLPListenerTests: XCTestCase {
    /// A TCP client of the listener.
    final class Client {
        let fd: Int32
        init(port: UInt16) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = port.bigEndian
            let connected = withUnsafePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            guard connected else { throw TestSupport.Failure("cannot connect to 127.0.0.1:\(port): \(String(cString: strerror(errno)))") }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }
        deinit { close(fd) }

        func send(_ bytes: [UInt8]) {
            var offset = 0
            while offset < bytes.count {
                let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                guard n > 0 else { return }
                offset += n
            }
        }

        func sendFramed(_ text: String) { send([0x0B] + Array(text.utf8) + [0x1C, 0x0D]) }

        /// The next acknowledgement's segments, or nil when the connection closed (or 10 s passed).
        func acknowledgement() -> [String]? {
            var received: [UInt8] = []
            var chunk = [UInt8](repeating: 0, count: 4096)
            while !(received.count >= 2 && received.suffix(2) == [0x1C, 0x0D]) {
                let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                guard n > 0 else { return nil }
                received += chunk[0..<n]
            }
            let body = received.drop { $0 != 0x0B }.dropFirst().dropLast(2)
            return String(decoding: body, as: UTF8.self).split(separator: "\r").map(String.init)
        }
    }

    static func message(_ control: String, lactate: String, unit: String = "mmol/L") -> String {
        ["MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01^ORU_R01|\(control)|P|2.5",
         "PID|1||LYS-01-005^^^LYSYME^RI",
         "OBR|1|ORD-\(control)|FIL-\(control)^LAB|2524-7^Lactate^LN|||20261123071500+0100",
         "OBX|1|NM|2524-7^Lactate^LN|1|\(lactate)|\(unit)|0.5-2.2|HH|||F|||20261123071000+0100"].joined(separator: "\r") + "\r"
    }

    func harness(port: UInt16) throws -> DaemonHarness {
        let harness = try DaemonHarness(label: "mllp")
        try harness.writeConfiguration(lactate: (2.0, 4.0), extra: """
            mapping:
              loinc:
                "2524-7": lactate
            hl7:
              subject_authority: LYSYME
            mllp:
              listen: 127.0.0.1:\(port)
              max_message_bytes: 2048
              timeout_seconds: 2
            """)
        return harness
    }

    func storedMessages(_ harness: DaemonHarness) -> [String] {
        (harness.files(in: harness.inbox) + harness.archivedFiles() + harness.files(in: harness.rejected)).filter { $0.contains("mllp-") && $0.hasSuffix(".hl7") }
    }

    func testMessagesAreStoredThenAcknowledgedAndFramesAreBounded() throws {
        try TestSupport.ensureJournald()
        let port = try TestSupport.freeLoopbackPort()
        let harness = try harness(port: port)
        defer { harness.cleanUp() }
        try harness.start()
        let client = try Client(port: port)

        client.sendFramed(Self.message("C1", lactate: "4.6"))
        let accept = try XCTUnwrap(client.acknowledgement())
        XCTAssertEqual(storedMessages(harness).count, 1, "the message was in the inbox before its acknowledgement")
        XCTAssertTrue(accept[0].hasPrefix("MSH|^~\\&|VIGIL|LYSYME|LAB|HSL|"), accept[0])
        XCTAssertTrue(accept[0].contains("|ACK^R01|"))
        XCTAssertEqual(accept[1], "MSA|AA|C1")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { harness.files(in: harness.outboxNew).count == 1 }, "the critical lactate was applied and mailed")

        // A refused record: AE, the error by its shape, the file in rejected/ like any other.
        client.sendFramed(Self.message("C2", lactate: "4.8", unit: "mg%"))
        let error = try XCTUnwrap(client.acknowledgement())
        XCTAssertTrue(error[1].hasPrefix("MSA|AE|C2|"), error[1])
        XCTAssertTrue(error[1].contains("OBX-6"))
        XCTAssertFalse(error.joined().contains("mg%"), "the refused value is described by its shape only")
        XCTAssertTrue(error[2].hasPrefix("ERR|||102^"), error[2])
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { harness.files(in: harness.rejected).contains { $0.hasSuffix(".errors.json") } })

        // No MSH: AR (stored all the same, and rejected with its report).
        client.sendFramed("PID|1||LYS-01-005\r")
        XCTAssertEqual(client.acknowledgement()?[1], "MSA|AR||message does not begin with an MSH segment")
        // Over max_message_bytes: AR, not stored.
        let before = storedMessages(harness).count
        client.sendFramed(Self.message("C4", lactate: "1.0") + String(repeating: "NTE|1||padding\r", count: 200))
        let tooLong = try XCTUnwrap(client.acknowledgement())
        XCTAssertTrue(tooLong[1].hasPrefix("MSA|AR|C4|message longer than 2048 bytes"), tooLong[1])
        XCTAssertEqual(storedMessages(harness).count, before)
        // The connection still works after a refusal.
        client.sendFramed(Self.message("C5", lactate: "1.1"))
        XCTAssertEqual(client.acknowledgement()?[1], "MSA|AA|C5")

        // A frame begun and never ended: the connection is closed after timeout_seconds, unacknowledged.
        let slow = try Client(port: port)
        slow.send([0x0B] + Array("MSH|^~\\&|LAB".utf8))
        let started = Date()
        XCTAssertNil(slow.acknowledgement())
        XCTAssertLessThan(Date().timeIntervalSince(started), 8)
        XCTAssertTrue(harness.isRunning)
    }

    func testKill9RightAfterTheAcknowledgementLosesAndDoublesNothing() throws {
        try TestSupport.ensureJournald()
        let port = try TestSupport.freeLoopbackPort()
        let harness = try harness(port: port)
        defer { harness.cleanUp() }
        for round in 1...3 {
            try harness.start()
            let client = try Client(port: port)
            client.sendFramed(Self.message("K\(round)", lactate: "4.\(round)"))
            XCTAssertEqual(client.acknowledgement()?[1], "MSA|AA|K\(round)")
            harness.crash()  // at once: the pipeline may not have taken the file yet
        }
        // The sender did not see the last acknowledgement in time and sends again: a copy.
        try harness.start()
        let client = try Client(port: port)
        client.sendFramed(Self.message("K3", lactate: "4.3"))
        XCTAssertEqual(client.acknowledgement()?[1], "MSA|AA|K3")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { harness.files(in: harness.inbox).filter { !$0.hasPrefix(".") }.isEmpty })
        let subject = try harness.vigilctl(["subject", "LYS-01-005", "--json"])
        XCTAssertEqual(subject.status, 0, subject.stderr)
        // Every result applied once: three distinct orders, the copy a no-op.
        let stored = try TestSupport.run("/usr/bin/sqlite3", [harness.database, "SELECT count(*), max(revision) FROM records WHERE subject = 'LYS-01-005'"])
        XCTAssertEqual(stored.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "3|1", stored.stderr)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { harness.files(in: harness.outboxNew).count == 1 },
                      "one critical lactate episode, mailed once: \(harness.files(in: harness.outboxNew))")
    }
}
