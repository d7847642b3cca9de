import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// What the safety team and IT do around the daemon: try a threshold change on the stored history
/// (`replay`), back the store up (`backup`), follow alerts live (`watch`), complete commands in a shell.
final class OperatorTests: XCTestCase {
    var harness: DaemonHarness!

    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
        harness = try DaemonHarness(label: "operator")
        try harness.start()
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    func lactate(_ id: String, _ subject: String, _ value: Double, hour: Int) -> String {
        #"{"type":"observation","id":"\#(id)","subject":"\#(subject)","time":"2026-11-2\#(hour / 24 + 1)T\#(String(format: "%02d", hour % 24)):00:00+01:00","code":"lactate","value":\#(value),"unit":"mmol/L"}"# + "\n"
    }

    /// Fixture history under lactate warning 2.0 / critical 4.0: A 2.5 (warning), B 3.5 (warning),
    /// C 4.5 (critical), D 1.8 (nothing). Candidate 1.5 / 3.4: D would fire (warning), B changes to
    /// critical, A and C are the same alerts. Candidate 3.0 / 5.0: A would not fire, C changes to warning.
    func testReplayShowsWhatACandidateConfigurationWouldChange() throws {
        try harness.drop("history.ndjson", lactate("L-A", "LYS-16-001", 2.5, hour: 1) + lactate("L-B", "LYS-16-002", 3.5, hour: 2)
                         + lactate("L-C", "LYS-16-003", 4.5, hour: 3) + lactate("L-D", "LYS-16-004", 1.8, hour: 30))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { self.harness.files(in: self.harness.outboxNew).count == 3 }, harness.stderr)
        let before = try TestSupport.run("/usr/bin/sqlite3", [harness.database, "SELECT id, severity, acked_at, resolved_at FROM alerts ORDER BY id; SELECT COUNT(*) FROM records"]).stdout

        let lower = "\(harness.directory)/lower.yaml"
        try harness.configuration(lactate: (1.5, 3.4)).write(toFile: lower, atomically: true, encoding: .utf8)
        let replay = try harness.vigilctl(["replay", "--config", lower, "--json"])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        let reply = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(replay.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(reply["records"] as? Int, 4)
        XCTAssertEqual(reply["live_alerts"] as? Int, 3)
        XCTAssertEqual(reply["candidate_alerts"] as? Int, 4)
        XCTAssertEqual((reply["would_fire"] as? [[String: Any]])?.compactMap { $0["subject"] as? String }, ["LYS-16-004"])
        XCTAssertEqual((reply["would_not_fire"] as? [[String: Any]])?.count, 0)
        let changed = try XCTUnwrap(reply["changed"] as? [[String: Any]])
        XCTAssertEqual(changed.count, 1)
        XCTAssertEqual((changed.first?["live"] as? [String: Any])?["subject"] as? String, "LYS-16-002")
        XCTAssertEqual((changed.first?["live"] as? [String: Any])?["severity"] as? String, "warning")
        XCTAssertEqual((changed.first?["candidate"] as? [String: Any])?["severity"] as? String, "critical")
        let burden = try XCTUnwrap(reply["candidate_burden"] as? [[String: Any]])
        XCTAssertEqual(burden.first { $0["rule"] as? String == "lactate" && $0["severity"] as? String == "warning" }?["alerts"] as? Int, 2)

        let higher = "\(harness.directory)/higher.yaml"
        try harness.configuration(lactate: (3.0, 5.0)).write(toFile: higher, atomically: true, encoding: .utf8)
        let text = try harness.vigilctl(["replay", "--config", higher])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("Would not fire (1):"), text.stdout)
        XCTAssertTrue(text.stdout.contains("LYS-16-001"), text.stdout)
        XCTAssertTrue(text.stdout.contains("LYS-16-003 lactate: critical → warning"), text.stdout)

        // --since limits the comparison to data observed from then on: only D's day is left.
        let since = try harness.vigilctl(["replay", "--config", lower, "--since", "2026-11-22", "--json"])
        let sinceReply = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(since.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(sinceReply["live_alerts"] as? Int, 0)
        XCTAssertEqual((sinceReply["would_fire"] as? [[String: Any]])?.count, 1)

        // A bad candidate is refused with its error; the live state is untouched throughout.
        try "trial: [".write(toFile: "\(harness.directory)/bad.yaml", atomically: true, encoding: .utf8)
        let bad = try harness.vigilctl(["replay", "--config", "\(harness.directory)/bad.yaml"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("candidate configuration refused"), bad.stderr)
        XCTAssertEqual(try TestSupport.run("/usr/bin/sqlite3", [harness.database, "SELECT id, severity, acked_at, resolved_at FROM alerts ORDER BY id; SELECT COUNT(*) FROM records"]).stdout, before)
        XCTAssertEqual(harness.files(in: harness.outboxNew).count, 3, "a replay sends nothing")
    }

    /// `vigilctl backup` makes an online backup whose dump equals the live store's; a daemon started
    /// on the restored copy reports the same state and re-sends nothing.
    func testBackupRestoresToAnIdenticalStore() throws {
        try harness.drop("b.ndjson", lactate("L-BK-1", "LYS-16-010", 4.2, hour: 1) + lactate("L-BK-2", "LYS-16-011", 1.0, hour: 2))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { self.harness.files(in: self.harness.outboxNew).count == 1 }, harness.stderr)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { ((try? self.harness.statusJSON())?["journal"] as? [String: Any])?["pending_entries"] as? Int == 0 })
        let copy = "\(harness.directory)/backup.sqlite"
        let backup = try harness.vigilctl(["backup", copy])
        XCTAssertEqual(backup.status, 0, backup.stderr)
        XCTAssertTrue(backup.stdout.contains("store backed up to \(copy)"), backup.stdout)
        let liveDump = try TestSupport.run("/usr/bin/sqlite3", [harness.database, ".dump"]).stdout
        let copyDump = try TestSupport.run("/usr/bin/sqlite3", [copy, ".dump"]).stdout
        XCTAssertGreaterThan(liveDump.count, 1000)
        XCTAssertEqual(liveDump, copyDump, "the backup is the store, row for row")
        XCTAssertNotEqual(try harness.vigilctl(["backup", copy]).status, 0, "an existing file is never overwritten")
        let status = try harness.statusJSON()
        XCTAssertEqual(harness.terminate().status, 0)

        // Restore: a fresh daemon on the copy knows everything and sends nothing again.
        let restored = try DaemonHarness(label: "restored")
        defer { restored.cleanUp() }
        try FileManager.default.createDirectory(atPath: "\(restored.directory)/var/state", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: copy, toPath: restored.database)
        try restored.start()
        let again = try restored.statusJSON()
        XCTAssertEqual((again["records"] as? [String: Any])?["stored"] as? Int, (status["records"] as? [String: Any])?["stored"] as? Int)
        XCTAssertEqual(again["open_alerts"] as? [String: Int], status["open_alerts"] as? [String: Int])
        usleep(1_000_000)
        XCTAssertEqual(restored.files(in: restored.outboxNew), [], "delivered alerts are not delivered again")
    }

    func testWatchFollowsNewAlertsWithoutColourOffATerminal() throws {
        let watch = Process()
        watch.executableURL = URL(fileURLWithPath: "\(harness.products)/vigilctl")
        watch.arguments = ["watch", "--interval", "0.5", "--count", "12", "--socket", harness.socket]
        let out = Pipe()
        watch.standardOutput = out
        watch.standardError = FileHandle.nullDevice
        try watch.run()
        usleep(1_200_000)
        try harness.drop("w.ndjson", lactate("L-W-1", "LYS-16-020", 4.9, hour: 1))
        watch.waitUntilExit()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(watch.terminationStatus, 0)
        XCTAssertTrue(text.contains("CRITICAL lactate LYS-16-020"), text)
        XCTAssertEqual(text.split(separator: "\n").count, 1, "each alert once: \(text)")
        XCTAssertFalse(text.contains("\u{1B}["), "no colour codes into a pipe")
    }

    func testShellCompletionsAreGenerated() throws {
        for shell in ["bash", "zsh", "fish"] {
            let result = try TestSupport.run("\(harness.products)/vigilctl", ["--generate-completion-script", shell])
            XCTAssertEqual(result.status, 0, result.stderr)
            for command in ["status", "ack", "replay", "backup", "watch"] {
                XCTAssertTrue(result.stdout.contains(command), "\(shell) completion lacks \(command)")
            }
        }
    }
}
