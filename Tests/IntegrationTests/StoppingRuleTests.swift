import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// Trial halts reach the journal and the halt recipients, persist across restarts, and only an
/// authorised peer (SO_PEERCRED) can resume; SUSAR clocks remind on their own as time passes.
final class StoppingRuleTests: XCTestCase {
    var harness: DaemonHarness!

    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
        harness = try DaemonHarness(label: "halt")
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    func testSUSARHaltsTheTrialUntilAnAuthorisedResumeAndItsClockReminds() throws {
        try harness.start()
        let now = Date()
        let infusion = now.addingTimeInterval(-15 * 86400)
        // Aware 14.5 days ago of a non-fatal SUSAR: its 15-day report is due in 12 h.
        let aware = now.addingTimeInterval(-14.5 * 86400)
        try harness.drop("susar.ndjson", """
            {"type":"event","id":"EV-20-INF","subject":"LYS-02-020","time":"\(Self.iso(infusion))","kind":"infusion"}
            {"type":"adverse_event","id":"AE-20-1","subject":"LYS-02-020","onset":"\(Self.iso(infusion.addingTimeInterval(3 * 86400)))","term":"Autoimmune hepatitis","grade":3,"serious":["hospitalisation"],"related":"probable","expected":false,"outcome":"recovering","aware":"\(Self.iso(aware))"}

            """)
        var entries: [[String: Any]] = []
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) {
            entries = (try? self.harness.journalEntries()) ?? []
            return entries.contains { $0["VIGIL_RULE"] as? String == "susar-clock" }
        }, "the clock reminder arrives on the timer: \(entries.map { $0["VIGIL_RULE"] ?? "?" })")
        let halt = try XCTUnwrap(entries.first { $0["VIGIL_RULE"] as? String == "halt-susar" })
        XCTAssertEqual(halt["PRIORITY"] as? String, "1", "halt is journal priority ALERT")
        XCTAssertEqual(halt["VIGIL_SEVERITY"] as? String, "halt")
        let haltID = try XCTUnwrap(halt["VIGIL_ALERT_ID"] as? String)
        let mail = try String(contentsOfFile: "\(harness.outboxNew)/\(haltID).eml", encoding: .utf8)
        XCTAssertTrue(mail.contains("To: pv@site.invalid"), "halt recipients from mail.recipients.halt")
        XCTAssertTrue(mail.contains("Subject: [VIGIL HALT] TRIAL \(harness.trial) HALTED"), mail)
        let reminder = try XCTUnwrap(entries.first { $0["VIGIL_RULE"] as? String == "susar-clock" })
        XCTAssertEqual(reminder["VIGIL_SEVERITY"] as? String, "critical")
        XCTAssertTrue((reminder["MESSAGE"] as? String ?? "").contains("due within 24 h (15-day clock)"))

        // HALTED survives a restart and comes first in status.
        XCTAssertEqual(harness.terminate().status, 0)
        try harness.start()
        let status = try harness.vigilctl(["status"])
        XCTAssertTrue(status.stdout.hasPrefix("Trial       \(harness.trial): HALTED: halt-"), status.stdout)

        // An unauthorised peer is refused by SO_PEERCRED, not only by file modes.
        chmod(harness.socket, 0o666)
        let nobody = try TestSupport.run("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", "\(harness.products)/vigilctl",
                                                              "resume", "--by", "intruder", "--reason", "x", "--socket", harness.socket])
        XCTAssertNotEqual(nobody.status, 0)
        XCTAssertTrue(nobody.stderr.contains("access denied"), nobody.stderr)
        XCTAssertEqual(try harness.statusJSON()["trial"].flatMap { ($0 as? [String: Any])?["state"] as? String }, "halted")

        // Reported: the clock stops; root resumes with a reason.
        let ack = try harness.vigilctl(["ack", haltID, "--reported", "--by", "PV officer"])
        XCTAssertEqual(ack.status, 0, ack.stderr)
        XCTAssertTrue(ack.stdout.contains("SUSAR AE-20-1 marked reported"), ack.stdout)
        let resume = try harness.vigilctl(["resume", "--by", "DSMB chair", "--reason", "DSMB review 12: causality revised"])
        XCTAssertEqual(resume.status, 0, resume.stderr)
        XCTAssertEqual(try harness.statusJSON()["trial"].flatMap { ($0 as? [String: Any])?["state"] as? String }, "running")
        let again = try harness.vigilctl(["resume", "--by", "x", "--reason", "y"])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("not halted"))

        let rules = try harness.vigilctl(["rules", "--json"])
        let reply = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(rules.stdout.utf8)) as? [String: Any])
        let boundaries = try XCTUnwrap((reply["toxicity"] as? [String: Any])?["boundaries"] as? [[String: Any]])
        XCTAssertEqual(boundaries.count, 15)
        XCTAssertEqual(boundaries[2]["stopping_toxicities"] as? Int, 3)
        let report = try harness.vigilctl(["report", "--json"])
        let endpoints = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(endpoints["infused"] as? Int, 1)
        XCTAssertEqual((endpoints["primary_safety"] as? [String: Any])?["count"] as? Int, 1)
        XCTAssertEqual(endpoints["toxicities"] as? Int, 1)
        XCTAssertEqual(harness.terminate().status, 0)
    }
}
