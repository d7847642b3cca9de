import Foundation
import VigilControl
@testable import VigilDaemon
import XCTest

/// `vigilctl status` on an 80-column terminal: long paths and reasons wrap; colour only when asked.
final class StatusTextTests: XCTestCase {
    func report() -> StatusReport {
        StatusReport(
            ok: true, version: "0.1.0", pid: 4242, uptimeSeconds: 93_784,
            configPath: "/etc/vigil/sites/hopital-henri-mondor/lysyme-nct04711200/vigil.yaml", configDigest: "47f51995a2c6",
            lastReloadError: "/etc/vigil/vigil.yaml:12: rules.lactate.warning_mmol_per_l: expected a number between 0 and 30, got 'two point five'",
            trial: .init(id: "LYSYME", state: "halted", reason: "halt-thromboembolism: grade 3 pulmonary embolism in LYS-01-004 within 30 days of infusion since 2026-11-23T08:00:00Z"),
            state: "degraded",
            degraded: ["outbox: outbox write failed: write /var/lib/vigil/outbox/tmp/ceddf8cd79977cc8.eml: No space left on device"],
            inboxBacklog: 3, lastFileAt: Date(timeIntervalSince1970: 1_795_420_800), busySeconds: nil,
            records: .init(applied: 123_456, rejected: 12, stored: 123_444, files: 4_321, filesRejected: 2),
            openAlerts: ["halt": 1, "critical": 2, "warning": 0, "info": 5],
            oldestUnacknowledged: .init(id: "ceddf8cd79977cc8", severity: "critical", rule: "sofa-sepsis", subject: "LYS-01-004",
                                        raisedAt: Date(timeIntervalSince1970: 1_795_420_800), ageSeconds: 5_400),
            subjectsWithActiveSignals: (1...15).map { String(format: "LYS-01-%03d", $0) },
            outbox: .init(backlog: 2, oldestAgeSeconds: 600, failing: 1, lastRelayError: "msmtp: cannot connect to smtp.hopital.invalid, port 587: Connection refused"),
            journal: .init(reachable: false, detail: "sd_journal_sendv: Connection refused (/run/systemd/journal/socket)", pendingEntries: 7),
            store: .init(path: "/var/lib/vigil/state/vigil.sqlite", bytes: 123_456_789))
    }

    func testStatusFitsEightyColumnsAndKeepsEveryFact() {
        let text = StatusText.render(report(), colour: false)
        for line in text.split(separator: "\n") {
            XCTAssertLessThanOrEqual(line.count, 80, "too wide: \(line)")
        }
        XCTAssertFalse(text.contains("\u{1B}"), "no colour unless asked")
        let joined = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
        for fact in ["HALTED", "No space left on device", "UNACKED   CRITICAL sofa-sepsis LYS-01-004 for 1h30m", "LYS-01-015", "7 entries queued", "1 FAILING"] {
            XCTAssertTrue(joined.contains(fact), "lost in wrapping: \(fact)\n\(text)")
        }
    }

    func testColourMarksHaltAndCriticalOnATerminal() {
        let text = StatusText.render(report(), colour: true)
        XCTAssertTrue(text.contains("\u{1B}[1;31mhalt 1\u{1B}[0m"), text)
        XCTAssertTrue(text.contains("\u{1B}[1;31mCRITICAL\u{1B}[0m"), text)
        XCTAssertTrue(text.contains("warning 0"), "zero counts stay plain")
    }
}
