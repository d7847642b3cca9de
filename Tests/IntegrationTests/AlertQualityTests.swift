import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// Alerts a team can trust: files written in place are read once, whole (settle time); a value
/// hovering around a threshold is one episode and one mail (hold-down); and the burden and the time
/// to acknowledge are measured.
final class AlertQualityTests: XCTestCase {
    static func lactate(id: String, subject: String, value: Double, at time: Date) -> String {
        let formatter = ISO8601DateFormatter()
        return #"{"type":"observation","id":"\#(id)","subject":"\#(subject)","time":"\#(formatter.string(from: time))","code":"lactate","value":\#(value),"unit":"mmol/L"}"# + "\n"
    }

    /// Lactate 2.1 / 1.9 mmol/L alternating every 30 min for 12 h (warning threshold 2.0): with the
    /// default 2-h hold-down this is one episode: one mail, one `raised` entry, and a `reentered`
    /// journal line for each return.
    func testLactateOscillatingAroundTheThresholdMailsOnce() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "flapping")
        defer { harness.cleanUp() }
        // Repeat interval off, so only the hold-down can be what keeps the mail to one.
        try harness.configuration(lactate: (2.0, 4.0)).replacingOccurrences(of: "  from: vigil@site.invalid", with: "  from: vigil@site.invalid\n  repeat_interval_minutes: 0")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()
        let start = Date(timeIntervalSince1970: 1_795_420_800)  // 2026-11-23T08:00:00Z
        var lines = ""
        for step in 0..<24 {
            lines += Self.lactate(id: "LAB-FL-\(step)", subject: "LYS-15-001", value: step.isMultiple(of: 2) ? 2.1 : 1.9, at: start.addingTimeInterval(Double(step) * 1800))
        }
        try harness.drop("oscillating.ndjson", lines)
        var entries: [[String: Any]] = []
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) {
            entries = ((try? harness.journalEntries()) ?? []).filter { $0["VIGIL_RULE"] as? String == "lactate" }
            return entries.count == 24
        }, "\(entries.count) lactate entries; \(harness.stderr.suffix(1500))")
        let phases = entries.compactMap { $0["VIGIL_PHASE"] as? String }
        XCTAssertEqual(phases.filter { $0 == "raised" }.count, 1)
        XCTAssertEqual(phases.filter { $0 == "reentered" }.count, 11)
        XCTAssertEqual(phases.filter { $0 == "resolved" }.count, 12)
        usleep(1_000_000)
        XCTAssertEqual(harness.files(in: harness.outboxNew).count, 1, "exactly one mail for 12 h of flapping")
        let back = try XCTUnwrap(entries.first { $0["VIGIL_PHASE"] as? String == "reentered" })
        XCTAssertTrue((back["MESSAGE"] as? String ?? "").contains("within the 120-min hold-down"), "\(back)")
        XCTAssertEqual(back["PRIORITY"] as? String, "5")
        // One alert for the subject, resolved by the last reading (1.9).
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try harness.vigilctl(["alerts", "--all", "--json"]).stdout.utf8)) as? [String: Any])
        let alerts = (listed["alerts"] as? [[String: Any]] ?? []).filter { $0["subject"] as? String == "LYS-15-001" }
        XCTAssertEqual(alerts.count, 1, "\(alerts)")
        XCTAssertNotNil(alerts.first?["resolved_at"], "\(alerts)")
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// A producer that writes a file in place in six chunks, closing it after each (six close-write
    /// events), with `limits.settle_seconds: 2`: the file is read once, whole.
    func testSettleTimeTakesAFileWrittenInChunksOnceWhole() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "settle")
        defer { harness.cleanUp() }
        try harness.configuration(lactate: (2.0, 4.0)).replacingOccurrences(of: "  rescan_interval_seconds: 30", with: "  rescan_interval_seconds: 30\n  settle_seconds: 2")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()
        let start = Date(timeIntervalSince1970: 1_795_420_800)
        let path = "\(harness.inbox)/slow-export.ndjson"
        var written = 0
        for chunk in 0..<6 {
            let fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
            XCTAssertGreaterThanOrEqual(fd, 0)
            for row in 0..<50 {
                let line = Self.lactate(id: "LAB-ST-\(chunk)-\(row)", subject: "LYS-15-002", value: 1.0, at: start.addingTimeInterval(Double(chunk * 50 + row) * 60))
                _ = line.withCString { write(fd, $0, strlen($0)) }
                written += 1
            }
            close(fd)
            usleep(500_000)
        }
        var status: [String: Any] = [:]
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) {
            status = (try? harness.statusJSON()) ?? [:]
            return harness.files(in: harness.inbox).isEmpty && ((status["records"] as? [String: Any])?["files"] as? Int) == 1
        }, "\(status)")
        let records = try XCTUnwrap(status["records"] as? [String: Any])
        XCTAssertEqual(records["files"] as? Int, 1, "read once")
        XCTAssertEqual(records["applied"] as? Int, written, "whole")
        XCTAssertEqual(records["rejected"] as? Int, 0)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// Two critical lactates; one acknowledged. `status` names the other as the oldest unacknowledged
    /// critical alert with its age; `report` gives time to acknowledge by severity and the burden, with
    /// the alert followed by an ICU transfer 6 h later counted as confirmed (1 of 2).
    func testTimeToAcknowledgeAndBurdenAreReported() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "burden")
        defer { harness.cleanUp() }
        try harness.start()
        let start = Date(timeIntervalSince1970: 1_795_420_800)
        try harness.drop("two.ndjson", Self.lactate(id: "LAB-B-1", subject: "LYS-15-003", value: 4.5, at: start)
                         + Self.lactate(id: "LAB-B-2", subject: "LYS-15-004", value: 4.8, at: start.addingTimeInterval(600))
                         + Self.lactate(id: "LAB-B-3", subject: "LYS-15-004", value: 1.0, at: start.addingTimeInterval(2 * 86_400))
                         + #"{"type":"event","id":"EV-B-ICU","subject":"LYS-15-003","time":"\#(ISO8601DateFormatter().string(from: start.addingTimeInterval(6 * 3600)))","kind":"icu_transfer","location":"REA"}"# + "\n")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { harness.files(in: harness.outboxNew).count >= 2 }, harness.stderr)
        let listed = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try harness.vigilctl(["alerts", "--all", "--json"]).stdout.utf8)) as? [String: Any])
        let critical = (listed["alerts"] as? [[String: Any]] ?? []).filter { $0["severity"] as? String == "critical" }
        let first = try XCTUnwrap(critical.first { $0["subject"] as? String == "LYS-15-003" }?["id"] as? String, "\(listed) \(harness.stderr)")
        let second = try XCTUnwrap(critical.first { $0["subject"] as? String == "LYS-15-004" }?["id"] as? String)
        XCTAssertEqual(try harness.vigilctl(["ack", first, "--by", "Dr On-Call"]).status, 0)

        let status = try harness.statusJSON()
        let oldest = try XCTUnwrap(status["oldest_unacknowledged"] as? [String: Any], "\(status)")
        XCTAssertEqual(oldest["id"] as? String, second)
        XCTAssertGreaterThanOrEqual(oldest["age_seconds"] as? Double ?? -1, 0)
        XCTAssertTrue(try harness.vigilctl(["status"]).stdout.contains("UNACKED   CRITICAL lactate LYS-15-004"))

        let report = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(try harness.vigilctl(["report", "--json"]).stdout.utf8)) as? [String: Any])
        let acknowledgement = try XCTUnwrap((report["acknowledgement"] as? [[String: Any]])?.first { $0["severity"] as? String == "critical" }, "\(report)")
        XCTAssertEqual(acknowledgement["raised"] as? Int, 2)
        XCTAssertEqual(acknowledgement["acknowledged"] as? Int, 1)
        XCTAssertNotNil(acknowledgement["median_minutes"] as? Double)
        XCTAssertEqual(report["subject_days"] as? Double, 3, "LYS-15-003: 6 h → 1 day; LYS-15-004: 2 days − 10 min → 2 days")
        let lactate = try XCTUnwrap((report["burden"] as? [[String: Any]])?.first { $0["rule"] as? String == "lactate" && $0["severity"] as? String == "critical" })
        XCTAssertEqual(lactate["alerts"] as? Int, 2)
        XCTAssertEqual(lactate["confirmed"] as? Int, 1)
        XCTAssertEqual(lactate["confirmed_share"] as? Double, 0.5)
        let text = try harness.vigilctl(["report"]).stdout
        XCTAssertTrue(text.contains("Time to acknowledge:"), text)
        XCTAssertTrue(text.contains("Alert burden over 3 subject-days"), text)
        XCTAssertEqual(harness.terminate().status, 0)
    }
}
