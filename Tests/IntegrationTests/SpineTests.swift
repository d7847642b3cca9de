import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// The vertical slice, end to end with real components: the built vigild, a real journald read back
/// with `journalctl -o json`, real SQLite, inotify, the Unix control socket and the real vigilctl.
final class SpineTests: XCTestCase {
    var harness: DaemonHarness!

    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
        harness = try DaemonHarness(label: "spine")
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    func testLactateFileReachesJournalOutboxArchiveAndStatus() throws {
        try harness.start()
        try harness.drop("labs.ndjson", """
            {"type":"observation","id":"LAB-A-1","subject":"LYS-01-001","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":4.5,"unit":"mmol/L","loinc":"2524-7"}
            {"type":"observation","id":"LAB-B-1","subject":"LYS-01-002","time":"2026-11-23T06:45:00+01:00","code":"lactate","value":20,"unit":"mg/dL","loinc":"2524-7"}

            """)

        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.archivedFiles().contains { $0.hasSuffix("/labs.ndjson") } },
                      "file archived; stderr:\n\(harness.stderr)")
        XCTAssertEqual(harness.files(in: harness.inbox), [])

        // Journal: one critical, one warning, with the fields of docs/ARCHITECTURE.md §3.3.
        var entries: [[String: Any]] = []
        TestSupport.waitUntil(timeout: 10) {
            entries = (try? self.harness.journalEntries()) ?? []
            return entries.count >= 2
        }
        XCTAssertEqual(entries.count, 2, "exactly two journal entries: \(entries)")
        let bySeverity = Dictionary(grouping: entries) { $0["VIGIL_SEVERITY"] as? String ?? "?" }
        let critical = try XCTUnwrap(bySeverity["critical"]?.first)
        let warning = try XCTUnwrap(bySeverity["warning"]?.first)
        XCTAssertEqual(critical["VIGIL_SUBJECT"] as? String, "LYS-01-001")
        XCTAssertEqual(critical["PRIORITY"] as? String, "2")
        XCTAssertEqual(critical["VIGIL_RULE"] as? String, "lactate")
        XCTAssertEqual(critical["VIGIL_VALUE"] as? String, "4.5 mmol/L")
        XCTAssertEqual(critical["VIGIL_RECORDS"] as? String, "LAB-A-1")
        XCTAssertEqual(critical["SYSLOG_IDENTIFIER"] as? String, "vigild")
        XCTAssertEqual((critical["MESSAGE_ID"] as? String)?.count, 32)
        XCTAssertTrue((critical["MESSAGE"] as? String)?.contains("\n") ?? false, "multi-line MESSAGE")
        XCTAssertEqual(warning["VIGIL_SUBJECT"] as? String, "LYS-01-002")
        XCTAssertEqual(warning["PRIORITY"] as? String, "4")
        XCTAssertEqual(warning["VIGIL_VALUE"] as? String, "2.22 mmol/L", "20 mg/dL ÷ 9.008")

        // Outbox: exactly one message per alert, named by the alert id.
        let ids = Set(entries.compactMap { $0["VIGIL_ALERT_ID"] as? String })
        XCTAssertEqual(Set(harness.files(in: harness.outboxNew)), Set(ids.map { "\($0).eml" }))
        XCTAssertEqual(harness.files(in: "\(harness.directory)/var/outbox/tmp"), [])
        let criticalID = try XCTUnwrap(critical["VIGIL_ALERT_ID"] as? String)
        let mail = try String(contentsOfFile: "\(harness.outboxNew)/\(criticalID).eml", encoding: .utf8)
        XCTAssertTrue(mail.contains("Subject: [VIGIL CRITICAL] LYS-01-001 lactate 4.5 mmol/L"))
        XCTAssertTrue(mail.contains("vigilctl ack \(criticalID)"))

        // Control socket, through the real vigilctl.
        let status = try harness.statusJSON()
        let records = try XCTUnwrap(status["records"] as? [String: Any])
        XCTAssertEqual(records["applied"] as? Int, 2)
        XCTAssertEqual(records["rejected"] as? Int, 0)
        let open = try XCTUnwrap(status["open_alerts"] as? [String: Int])
        XCTAssertEqual(open.values.reduce(0, +), 2)
        XCTAssertEqual(open["critical"], 1)
        XCTAssertEqual(open["warning"], 1)
        XCTAssertEqual((status["journal"] as? [String: Any])?["reachable"] as? Bool, true)
        XCTAssertEqual((status["trial"] as? [String: Any])?["state"] as? String, "running")
        XCTAssertEqual((status["outbox"] as? [String: Any])?["backlog"] as? Int, 2)
        let human = try harness.vigilctl(["status"])
        XCTAssertEqual(human.status, 0)
        XCTAssertTrue(human.stdout.contains("Open alerts halt 0, critical 1, warning 1, info 0"), human.stdout)
        let ping = try harness.vigilctl(["ping"])
        XCTAssertTrue(ping.stdout.hasPrefix("pong from vigild"), ping.stdout + ping.stderr)

        // A malformed file: rejected with a located error, the daemon keeps running.
        try harness.drop("broken.ndjson", """
            {"type":"observation","id":"LAB-C-1","subject":"LYS-01-003","time":"2026-11-23T07:00:00+01:00","code":"lactate","value":3.1,"unit":"mg%"}
            {"type":"observation","id":"LAB-C-2",
            """)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.files(in: self.harness.rejected).contains("broken.ndjson") })
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(harness.rejected)/broken.ndjson.errors.json"))) as? [[String: Any]]
        XCTAssertEqual(report?.count, 2)
        XCTAssertEqual(report?.first?["line"] as? Int, 1)
        XCTAssertEqual(report?.first?["field"] as? String, "unit")
        XCTAssertEqual(report?.first?["error"] as? String, "unknown unit for lactate")
        XCTAssertEqual(report?.last?["line"] as? Int, 2)
        XCTAssertTrue(harness.isRunning)
        XCTAssertEqual(try harness.vigilctl(["ping"]).status, 0)
        let afterReject = try harness.statusJSON()
        XCTAssertEqual((afterReject["records"] as? [String: Any])?["rejected"] as? Int, 2)
        XCTAssertEqual((afterReject["open_alerts"] as? [String: Int])?["warning"], 2, "the rejection raised a data-quality warning")

        // SIGTERM: STOPPING=1, exit 0 within 2 s.
        let stop = harness.terminate()
        XCTAssertEqual(stop.status, 0)
        XCTAssertLessThan(stop.seconds, 2.0)
        XCTAssertTrue(harness.notify.waitFor("STOPPING=1", timeout: 1))
        XCTAssertFalse(FileManager.default.fileExists(atPath: harness.socket), "socket removed on exit")
        let down = try harness.vigilctl(["status"])
        XCTAssertEqual(down.status, 3)
        XCTAssertTrue(down.stderr.contains("vigild is not running"), down.stderr)
    }

    func testFilesDroppedWhileStoppedAreProcessedAtStartAndReplaysAreNotDoubled() throws {
        try FileManager.default.createDirectory(atPath: harness.inbox, withIntermediateDirectories: true)
        let content = """
            {"type":"observation","id":"LAB-D-1","subject":"LYS-01-004","time":"2026-11-23T08:00:00+01:00","code":"lactate","value":5.2,"unit":"mmol/L"}

            """
        try harness.drop("early.ndjson", content)
        try harness.start()
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.archivedFiles().contains { $0.hasSuffix("/early.ndjson") } })
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { ((try? self.harness.journalEntries()) ?? []).count == 1 })

        // The same bytes again: recognised by SHA-256, archived, nothing re-applied or re-alerted.
        try harness.drop("early-again.ndjson", content)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.archivedFiles().contains { $0.hasSuffix("/early-again.ndjson") } })
        // The same record id with the same content in a different file: a no-op.
        try harness.drop("same-record.ndjson", content + "\n")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.archivedFiles().contains { $0.hasSuffix("/same-record.ndjson") } })

        // Simulate a crash between commit and outbox write: the ledger says "not in outbox", the file is gone.
        harness.crash()
        let id = try XCTUnwrap(harness.files(in: harness.outboxNew).first).replacingOccurrences(of: ".eml", with: "")
        try FileManager.default.removeItem(atPath: "\(harness.outboxNew)/\(id).eml")
        let sql = try TestSupport.run("/usr/bin/sqlite3", [harness.database, "UPDATE alerts SET outbox_at = NULL, journal_at = NULL WHERE id = '\(id)'"])
        XCTAssertEqual(sql.status, 0, sql.stderr)
        try harness.start()
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.files(in: self.harness.outboxNew) == ["\(id).eml"] },
                      "the undelivered alert was written to the outbox on restart")
        usleep(500_000)
        XCTAssertEqual(try harness.journalEntries().count, 1, "the journal already had the entry: not sent twice")
        let status = try harness.statusJSON()
        XCTAssertEqual((status["records"] as? [String: Any])?["applied"] as? Int, 1)
        XCTAssertEqual((status["journal"] as? [String: Any])?["pending_entries"] as? Int, 0)
        XCTAssertEqual(harness.terminate().status, 0)
    }
}
