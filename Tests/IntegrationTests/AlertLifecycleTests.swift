import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// Alert lifecycle as Alertmanager does it, through the real daemon: silences hold mail but not the
/// journal, the repeat interval stops re-mailing a flapping signal, unacknowledged critical alerts are
/// escalated once, `reload` over the socket, and socket activation through systemd-socket-activate.
final class AlertLifecycleTests: XCTestCase {
    var harness: DaemonHarness!

    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
        harness = try DaemonHarness(label: "lifecycle6")
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    func lactate(_ id: String, _ subject: String, _ value: Double, minutes: Int) -> String {
        #"{"type":"observation","id":"\#(id)","subject":"\#(subject)","time":"2026-11-23T06:\#(String(format: "%02d", minutes)):00+01:00","code":"lactate","value":\#(value),"unit":"mmol/L"}"# + "\n"
    }

    func entries(rule: String) throws -> [[String: Any]] {
        try harness.journalEntries().filter { $0["VIGIL_RULE"] as? String == rule }
    }

    func testSilenceRepeatIntervalEscalationAndReload() throws {
        try harness.writeConfiguration(lactate: (2.0, 4.0), extra: "")
        let config = try String(contentsOfFile: harness.configPath, encoding: .utf8)
            .replacingOccurrences(of: "  from: vigil@site.invalid", with: "  from: vigil@site.invalid\n  escalation:\n    after_minutes: 0.05\n    recipients: [director@site.invalid]")
            // The hold-down (its own test in AlertQualityTests) would fold the second episode into the
            // first; off here so the repeat interval is what holds the mail.
            .replacingOccurrences(of: "rules:\n", with: "rules:\n  hold_down_minutes: 0\n")
        try config.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()

        // Silence a subject: its alert reaches the journal, not the mail; the silence is journalled.
        let silence = try harness.vigilctl(["silence", "LYS-05-001", "--for", "2h", "--reason", "monitor maintenance"])
        XCTAssertEqual(silence.status, 0, silence.stderr)
        try harness.drop("s1.ndjson", lactate("L-S1", "LYS-05-001", 2.5, minutes: 0))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { ((try? self.entries(rule: "lactate")) ?? []).count == 1 })
        let silenced = try XCTUnwrap(entries(rule: "lactate").first)
        XCTAssertTrue((silenced["VIGIL_MAIL"] as? String ?? "").hasPrefix("silenced by S"), "\(silenced)")
        XCTAssertEqual(harness.files(in: harness.outboxNew), [])
        XCTAssertTrue(try harness.journalEntries().contains { ($0["MESSAGE"] as? String ?? "").contains("no mail for LYS-05-001") })
        XCTAssertTrue(try harness.vigilctl(["silences"]).stdout.contains("monitor maintenance"))

        // A flapping warning: mailed once; the second episode within the repeat interval is journal-only.
        try harness.drop("r1.ndjson", lactate("L-R1", "LYS-05-002", 2.5, minutes: 1))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.files(in: self.harness.outboxNew).count == 1 })
        try harness.drop("r2.ndjson", lactate("L-R2", "LYS-05-002", 1.0, minutes: 2))
        try harness.drop("r3.ndjson", lactate("L-R3", "LYS-05-002", 2.7, minutes: 3))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { ((try? self.entries(rule: "lactate")) ?? []).filter { $0["VIGIL_PHASE"] as? String == "raised" }.count == 3 })
        let again = try XCTUnwrap(entries(rule: "lactate").first { $0["VIGIL_RECORDS"] as? String == "L-R3" })
        XCTAssertTrue((again["VIGIL_MAIL"] as? String ?? "").hasPrefix("repeat interval"), "\(again)")
        XCTAssertEqual(harness.files(in: harness.outboxNew).count, 1)

        // A critical alert nobody acknowledges is escalated once to the escalation list; an acknowledged one is not.
        try harness.drop("c1.ndjson", lactate("L-C1", "LYS-05-003", 4.8, minutes: 4) + lactate("L-C2", "LYS-05-004", 4.9, minutes: 4))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.files(in: self.harness.outboxNew).count == 3 })
        let critical = try entries(rule: "lactate").filter { $0["VIGIL_SEVERITY"] as? String == "critical" }
        let acked = try XCTUnwrap(critical.first { $0["VIGIL_SUBJECT"] as? String == "LYS-05-004" }?["VIGIL_ALERT_ID"] as? String)
        let unacked = try XCTUnwrap(critical.first { $0["VIGIL_SUBJECT"] as? String == "LYS-05-003" }?["VIGIL_ALERT_ID"] as? String)
        XCTAssertEqual(try harness.vigilctl(["ack", acked, "--by", "Dr Night"]).status, 0)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) { self.harness.files(in: self.harness.outboxNew).contains("\(unacked)-escalation.eml") },
                      "escalated on the timer; outbox: \(harness.files(in: harness.outboxNew))")
        let escalation = try String(contentsOfFile: "\(harness.outboxNew)/\(unacked)-escalation.eml", encoding: .utf8)
        XCTAssertTrue(escalation.contains("To: director@site.invalid"), escalation)
        XCTAssertTrue(escalation.contains("Subject: [VIGIL ESCALATION: UNACKNOWLEDGED"), escalation)
        usleep(6_000_000)  // one more timer pass: nothing is escalated twice
        XCTAssertFalse(harness.files(in: harness.outboxNew).contains("\(acked)-escalation.eml"))
        XCTAssertEqual(try harness.journalEntries().filter { $0["VIGIL_PHASE"] as? String == "escalated" }.count, 1)
        let alerts = try harness.vigilctl(["alerts", "--all", "--json"])
        XCTAssertTrue(alerts.stdout.contains("Dr Night (root)"), "who acknowledged, from the peer credentials")

        // reload over the socket.
        let reload = try harness.vigilctl(["reload"])
        XCTAssertEqual(reload.status, 0, reload.stderr)
        XCTAssertTrue(reload.stdout.contains("in force"))
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// A delivery pass records its deliveries in the ledger together at its end, so the repeat interval
    /// must also count the mail sent earlier in the same pass: one file whose signal rises, ends and
    /// rises again gets one mail, and the second raise is journal-only.
    func testRepeatIntervalHoldsASecondRaiseDeliveredInTheSamePass() throws {
        try harness.writeConfiguration(lactate: (2.0, 4.0), extra: "")
        let config = try String(contentsOfFile: harness.configPath, encoding: .utf8)
            .replacingOccurrences(of: "rules:\n", with: "rules:\n  hold_down_minutes: 0\n")
        try config.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()
        try harness.drop("flap.ndjson", lactate("L-F1", "LYS-05-006", 2.5, minutes: 1) + lactate("L-F2", "LYS-05-006", 1.0, minutes: 2)
            + lactate("L-F3", "LYS-05-006", 2.7, minutes: 3))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { ((try? self.entries(rule: "lactate")) ?? []).filter { $0["VIGIL_PHASE"] as? String == "raised" }.count == 2 })
        let raised = try entries(rule: "lactate").filter { $0["VIGIL_PHASE"] as? String == "raised" }
        XCTAssertEqual(raised.map { $0["VIGIL_MAIL"] as? String ?? "" }.filter { $0 == "sent" }.count, 1, "\(raised)")
        XCTAssertEqual(raised.filter { ($0["VIGIL_MAIL"] as? String ?? "").hasPrefix("repeat interval") }.count, 1, "\(raised)")
        XCTAssertEqual(harness.files(in: harness.outboxNew).count, 1)
        // Both raises and their deliveries are in the ledger: nothing is left queued for the journal.
        let status = try harness.vigilctl(["status", "--json"])
        let reply = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(status.stdout.utf8)) as? [String: Any])
        XCTAssertEqual((reply["journal"] as? [String: Any])?["pending_entries"] as? Int, 0, status.stdout)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// systemd-socket-activate owns the socket and passes it to vigild (sd_listen_fds), as vigil.socket does.
    func testSocketActivation() throws {
        let activated = "\(harness.directory)/activated.sock"
        // Started through a shell in its own session, not as a direct child: Foundation's child reaper
        // blocks in wait4 on a child that exec()s itself into another program.
        let launcher = try TestSupport.run("/bin/sh", ["-c", "setsid /usr/bin/systemd-socket-activate -l '\(activated)' '\(harness.products)/vigild' --config '\(harness.configPath)' </dev/null >/dev/null 2>&1 & echo $!"])
        let pid = try XCTUnwrap(Int32(launcher.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer {
            kill(pid, SIGTERM)
            TestSupport.waitUntil(timeout: 5) { kill(pid, 0) != 0 }
        }
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { FileManager.default.fileExists(atPath: activated) })
        // The first connection starts vigild; the request waits in the socket's queue until it answers.
        let ping = try TestSupport.run("\(harness.products)/vigilctl", ["ping", "--socket", activated])
        XCTAssertEqual(ping.status, 0, ping.stderr)
        XCTAssertTrue(ping.stdout.hasPrefix("pong from vigild"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.socket), "the configured path is not bound when a socket is passed")

        let unit = "\(harness.directory)/vigil.socket"
        try FileManager.default.copyItem(atPath: "\(TestSupport.repositoryRoot())/systemd/vigil.socket", toPath: unit)
        let service = try String(contentsOfFile: "\(TestSupport.repositoryRoot())/systemd/vigil.service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/bin/vigild", with: "\(harness.products)/vigild")
        try service.write(toFile: "\(harness.directory)/vigil.service", atomically: true, encoding: .utf8)
        let verify = try TestSupport.run("/usr/bin/systemd-analyze", ["verify", "--man=no", unit, "\(harness.directory)/vigil.service"])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.stderr.split(separator: "\n").filter { $0.contains("vigil.s") }, [])
    }
}
