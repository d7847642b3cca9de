import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// The real mail hop: vigild writes an alert to the outbox, `vigilctl relay` hands it to msmtp (the
/// Debian package) as the sendmail command, msmtp delivers it over SMTP to aiosmtpd (PyPI) listening on
/// 127.0.0.1, and the received message is checked; then a dead server leaves the mail waiting.
final class RelayTests: XCTestCase {
    func testAlertMailTravelsThroughMsmtpToAnSMTPServer() throws {
        try TestSupport.ensureJournald()
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/msmtp") else {
            throw TestSupport.Failure("msmtp is not installed (apt-get install msmtp; .ci/run does)")
        }
        let harness = try DaemonHarness(label: "relay")
        defer { harness.cleanUp() }
        let port = Int(try TestSupport.freeLoopbackPort())
        let maildir = "\(harness.directory)/received"
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)", "-c", "aiosmtpd.handlers.Mailbox", maildir]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            defer { close(fd) }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            return withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } } == 0
        }, "aiosmtpd listening (pip install aiosmtpd)")

        let sendmail = "/usr/bin/msmtp --host=127.0.0.1 --port=\(port) --auth=off --tls=off --from=vigil@site.invalid -t"
        try harness.writeConfiguration(lactate: (2.0, 4.0), extra: "")
        let config = try String(contentsOfFile: harness.configPath, encoding: .utf8)
            .replacingOccurrences(of: "  from: vigil@site.invalid", with: "  from: vigil@site.invalid\n  sendmail: \(sendmail)")
        try config.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()
        try harness.drop("lactate.ndjson", #"{"type":"observation","id":"LAB-M-1","subject":"LYS-03-001","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":5.1,"unit":"mmol/L"}"# + "\n")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { harness.files(in: harness.outboxNew).count == 1 })
        let id = try XCTUnwrap(harness.files(in: harness.outboxNew).first).replacingOccurrences(of: ".eml", with: "")

        let relay = try TestSupport.run("\(harness.products)/vigilctl", ["relay", "--config", harness.configPath])
        XCTAssertEqual(relay.status, 0, relay.stderr)
        XCTAssertEqual(harness.files(in: harness.outboxNew), [])
        XCTAssertEqual(harness.files(in: "\(harness.directory)/var/outbox/sent"), ["\(id).eml"])
        var received: [String] = []
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) {
            received = harness.files(in: "\(maildir)/new")
            return received.count == 1
        })
        let message = try String(contentsOfFile: "\(maildir)/new/\(try XCTUnwrap(received.first))", encoding: .utf8)
        XCTAssertTrue(message.contains("Subject: [VIGIL CRITICAL] LYS-03-001 lactate 5.1 mmol/L"), message)
        XCTAssertTrue(message.contains("Message-ID: <\(id)@vigil.test.invalid>"))
        XCTAssertTrue(message.contains("X-Vigil-Alert-Id: \(id)"))
        XCTAssertTrue(message.contains("vigilctl ack \(id)"), "the body arrives intact")
        XCTAssertTrue(message.contains("oncall@site.invalid"))

        // The server goes away: the next alert waits in new/ with a back-off, and status says so.
        server.terminate()
        server.waitUntilExit()
        try harness.drop("lactate2.ndjson", #"{"type":"observation","id":"LAB-M-2","subject":"LYS-03-002","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":4.2,"unit":"mmol/L"}"# + "\n")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { harness.files(in: harness.outboxNew).count == 1 })
        let failing = try TestSupport.run("\(harness.products)/vigilctl", ["relay", "--config", harness.configPath])
        XCTAssertEqual(failing.status, 75, "EX_TEMPFAIL")
        XCTAssertTrue(failing.stderr.contains("not sent, will retry"), failing.stderr)
        XCTAssertEqual(harness.files(in: harness.outboxNew).count, 1, "nothing lost")
        let status = try harness.statusJSON()
        XCTAssertEqual((status["outbox"] as? [String: Any])?["failing"] as? Int, 1)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    func testRelayUnitsVerify() throws {
        let directory = try TestSupport.scratchDirectory("units")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let root = TestSupport.repositoryRoot()
        let service = try String(contentsOfFile: "\(root)/systemd/vigil-relay.service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/vigilctl", with: "\(TestSupport.productsDirectory())/vigilctl")
        try service.write(toFile: "\(directory)/vigil-relay.service", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: "\(root)/systemd/vigil-relay.path", toPath: "\(directory)/vigil-relay.path")
        let result = try TestSupport.run("/usr/bin/systemd-analyze", ["verify", "\(directory)/vigil-relay.service", "\(directory)/vigil-relay.path"])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").filter { $0.contains("vigil-relay") }, [])
    }
}
