import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// Start-up validation, SIGHUP reload, the journal-unreachable fallback and the systemd unit.
final class LifecycleTests: XCTestCase {
    var harness: DaemonHarness!

    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
        harness = try DaemonHarness(label: "lifecycle")
    }

    override func tearDown() {
        harness?.cleanUp()
    }

    func testInvalidConfigurationStopsStartWithKeyPathAndLine() throws {
        try harness.writeConfiguration(lactate: (2.0, 4.0), extra: "limitz:\n  max_file_bytes: 10\n")
        let result = try TestSupport.run("\(harness.products)/vigild", ["--config", harness.configPath])
        XCTAssertEqual(result.status, 78, "EX_CONFIG")
        let line = try XCTUnwrap(String(contentsOfFile: harness.configPath, encoding: .utf8).components(separatedBy: "\n").firstIndex(of: "limitz:")) + 1
        XCTAssertTrue(result.stderr.contains("\(harness.configPath):\(line): limitz: unknown key"), result.stderr)

        let check = try TestSupport.run("\(harness.products)/vigilctl", ["validate-config", harness.configPath])
        XCTAssertEqual(check.status, 1)
        XCTAssertTrue(check.stderr.contains(":\(line): limitz: unknown key"), check.stderr)
        try harness.writeConfiguration(lactate: (2.0, 4.0))
        let valid = try TestSupport.run("\(harness.products)/vigilctl", ["validate-config", harness.configPath])
        XCTAssertEqual(valid.status, 0, valid.stderr)
        XCTAssertTrue(valid.stdout.contains("valid"))
    }

    func testSighupReloadsAndKeepsTheOldConfigurationWhenTheNewOneIsInvalid() throws {
        try harness.start()
        let pid = try XCTUnwrap(harness.process?.processIdentifier)
        let digest = try XCTUnwrap(harness.statusJSON()["config_digest"] as? String)

        // A valid change: lower critical threshold to 3.0; RELOADING=1 then READY=1.
        try harness.writeConfiguration(lactate: (2.0, 3.0))
        var mark = harness.notify.messages.count
        kill(pid, SIGHUP)
        XCTAssertTrue(harness.notify.waitFor("RELOADING=1", timeout: 5, after: mark))
        XCTAssertTrue(harness.notify.waitFor("READY=1", timeout: 5, after: mark))
        let reloaded = try XCTUnwrap(harness.statusJSON()["config_digest"] as? String)
        XCTAssertNotEqual(reloaded, digest)
        try harness.drop("after-reload.ndjson", #"{"type":"observation","id":"LAB-R-1","subject":"LYS-01-005","time":"2026-11-23T09:00:00+01:00","code":"lactate","value":3.2,"unit":"mmol/L"}"# + "\n")
        var entries: [[String: Any]] = []
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) {
            entries = (try? self.harness.journalEntries()) ?? []
            return !entries.isEmpty
        })
        XCTAssertEqual(entries.first?["VIGIL_SEVERITY"] as? String, "critical", "3.2 ≥ the reloaded 3.0 threshold")

        // An invalid change: refused, old configuration kept, READY=1 again, daemon still serving.
        try "trial: [".write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        mark = harness.notify.messages.count
        kill(pid, SIGHUP)
        XCTAssertTrue(harness.notify.waitFor("READY=1", timeout: 5, after: mark))
        let status = try harness.statusJSON()
        XCTAssertEqual(status["config_digest"] as? String, reloaded)
        XCTAssertTrue((status["last_reload_error"] as? String)?.contains("not valid YAML") ?? false, "\(status)")
        XCTAssertTrue(harness.isRunning)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// The journal socket is hidden from vigild by a private mount namespace (tmpfs over
    /// /run/systemd/journal): alerts still reach the outbox, stderr says so once and carries the
    /// fields, and `status` reports the journal unreachable with the entries queued.
    func testJournalUnreachableFallsBackToStderrAndIsReported() throws {
        guard getuid() == 0 else {
            throw TestSupport.Failure("this test needs root to make a private mount namespace (CI runs as root)")
        }
        let script = "mount -t tmpfs vigil-test-no-journal /run/systemd/journal && exec \"$0\" \"$@\""
        try harness.start(wrapper: ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script])
        try harness.drop("a.ndjson", #"{"type":"observation","id":"LAB-J-1","subject":"LYS-01-006","time":"2026-11-23T09:00:00+01:00","code":"lactate","value":4.1,"unit":"mmol/L"}"# + "\n"
            + #"{"type":"observation","id":"LAB-J-2","subject":"LYS-01-007","time":"2026-11-23T09:00:00+01:00","code":"lactate","value":2.1,"unit":"mmol/L"}"# + "\n")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.files(in: self.harness.outboxNew).count == 2 }, harness.stderr)
        let status = try harness.statusJSON()
        let journal = try XCTUnwrap(status["journal"] as? [String: Any])
        XCTAssertEqual(journal["reachable"] as? Bool, false)
        XCTAssertEqual(journal["pending_entries"] as? Int, 2)
        XCTAssertEqual(status["state"] as? String, "degraded")
        let stderr = harness.stderr
        XCTAssertEqual(stderr.components(separatedBy: "journal unreachable").count - 1, 1, "said once:\n\(stderr)")
        XCTAssertTrue(stderr.contains("VIGIL_SEVERITY=critical"))
        XCTAssertTrue(stderr.contains("VIGIL_TRIAL=\(harness.trial)"))
        XCTAssertEqual(try harness.journalEntries().count, 0, "nothing reached the real journal")
        let human = try harness.vigilctl(["status"])
        XCTAssertTrue(human.stdout.contains("Journal     UNREACHABLE"), human.stdout)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// `systemd-analyze verify` on the shipped unit, with ExecStart pointed at the built binary
    /// (verify checks that the command exists). Any diagnostic about the unit fails the test.
    func testServiceUnitVerifies() throws {
        let unit = try String(contentsOfFile: "\(TestSupport.repositoryRoot())/systemd/vigil.service", encoding: .utf8)
        XCTAssertTrue(unit.contains("Type=notify"))
        XCTAssertTrue(unit.contains("WatchdogSec="))
        XCTAssertTrue(unit.contains("StateDirectory=vigil"))
        XCTAssertTrue(unit.contains("RuntimeDirectory=vigil"))
        XCTAssertTrue(unit.contains("ExecReload="))
        let copy = "\(harness.directory)/vigil.service"
        try unit.replacingOccurrences(of: "/usr/bin/vigild", with: "\(harness.products)/vigild").write(toFile: copy, atomically: true, encoding: .utf8)
        let result = try TestSupport.run("/usr/bin/systemd-analyze", ["verify", "--man=no", copy])  // man pages: PackagingTests
        XCTAssertEqual(result.status, 0, result.stderr)
        let diagnostics = result.stderr.split(separator: "\n").filter { $0.contains("vigil.service") }
        XCTAssertEqual(diagnostics, [], "systemd-analyze verify complained")
    }
}

extension LifecycleTests {
    /// WATCHDOG=1 at half of WATCHDOG_USEC, as systemd's `WatchdogSec=` expects.
    func testWatchdogIsPingedAtHalfTheTimeout() throws {
        try harness.start(environment: ["WATCHDOG_USEC": "600000"])
        let start = harness.notify.messages.count
        usleep(1_000_000)
        let pings = harness.notify.messages.dropFirst(start).filter { $0 == "WATCHDOG=1" }.count
        XCTAssertGreaterThanOrEqual(pings, 2, "about 3 pings expected in 1 s at a 0.3 s interval")
        XCTAssertLessThanOrEqual(pings, 6)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// Idle, the daemon unmaps the code pages its start-up touched (WorkingSet.trim), and after that
    /// it still takes a file through to the journal and the outbox: the unmapped code is faulted
    /// back in from the page cache, and nothing the process wrote was discarded.
    func testIdleTrimShrinksResidentCodeAndTheDaemonStillWorks() throws {
        try harness.start(arguments: ["--log-level", "debug"])
        let pid = try XCTUnwrap(harness.process?.processIdentifier)
        func residentFileKib() -> Int? {
            guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("RssFile:") }) else { return nil }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1])
        }
        XCTAssertNotNil(residentFileKib())
        let before = try XCTUnwrap(residentFileKib())
        // The first inbox tick (5 s) with no file taken trims.
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) { self.harness.stderr.contains("idle: heap trimmed") }, "no trim logged; stderr:\n\(harness.stderr)")
        let after = try XCTUnwrap(residentFileKib())
        let line = try XCTUnwrap(harness.stderr.split(separator: "\n").first { $0.contains("idle: heap trimmed") })
        XCTAssertLessThan(after, before / 2, "resident file pages \(before) kB before the trim, \(after) kB after; \(line)")

        try harness.drop("labs.ndjson", #"{"type":"observation","id":"LAB-T-1","subject":"LYS-01-001","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":4.5,"unit":"mmol/L"}"# + "\n")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.files(in: self.harness.outboxNew).count == 1 }, "stderr:\n\(harness.stderr)")
        // The file is moved after its alerts are delivered: its mail can be seen a moment before.
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { self.harness.archivedFiles().contains { $0.hasSuffix("/labs.ndjson") } })
        var entries: [[String: Any]] = []
        TestSupport.waitUntil(timeout: 10) {
            entries = (try? self.harness.journalEntries()) ?? []
            return !entries.isEmpty
        }
        XCTAssertEqual(entries.map { $0["VIGIL_RULE"] as? String }, ["lactate"])
        XCTAssertEqual(try harness.statusJSON()["records"].flatMap { ($0 as? [String: Any])?["applied"] as? Int }, 1)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// SIGTERM while a large file is being applied: the file in hand is finished (applied and
    /// archived), the daemon exits 0, and nothing is left half done.
    func testSigtermFinishesTheFileInHand() throws {
        try harness.start()
        let lines = (0..<20_000).map { i in
            #"{"type":"observation","id":"LAB-BULK-\#(i)","subject":"LYS-\#(String(format: "%02d", i % 90 + 10))-\#(String(format: "%03d", i % 1000))","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":1.0,"unit":"mmol/L"}"#
        }
        try harness.drop("bulk.ndjson", lines.joined(separator: "\n") + "\n")
        let busy = TestSupport.waitUntil(timeout: 10) {
            ((try? self.harness.statusJSON()["busy_seconds"]) as? Double) != nil
        }
        XCTAssertTrue(busy, "the pipeline was seen working on the file")
        let stop = harness.terminate(timeout: 120)  // correctness, not speed: a loaded debug build may take a while
        XCTAssertEqual(stop.status, 0)
        XCTAssertTrue(harness.archivedFiles().contains { $0.hasSuffix("/bulk.ndjson") }, "the file in hand was finished")
        XCTAssertEqual(harness.files(in: harness.inbox), [])
        let count = try TestSupport.run("/usr/bin/sqlite3", [harness.database, "SELECT COUNT(*) FROM records"])
        XCTAssertEqual(count.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "20000")
    }
}

extension LifecycleTests {
    /// The journal catalog explains an alert under `journalctl -x`: the catalog is installed where
    /// systemd reads catalogs, the database rebuilt, and the explanation read back for a real entry.
    func testJournalCatalogExplainsAnAlert() throws {
        guard getuid() == 0 else { throw TestSupport.Failure("installing a journal catalog needs root (CI runs as root)") }
        let catalog = "\(TestSupport.repositoryRoot())/systemd/vigil.catalog"
        let text = try String(contentsOfFile: catalog, encoding: .utf8)
        for id in ["a38450225d9a4261bdbc819e0cf3cf64", "23cb724101a54c1ebe1d4c4cdc63b9ed", "dc44bab65c7346269a677127add9cceb",
                   "fb1cd3aaba9f4ee29b3ef99ea8279a2f", "a42424f13e234cc0bfcbd4040b77aa8d", "662b65fdc27b4c3e86d9d0e2b09ee74a",
                   "a78666aafffd4e6ebf5f17aee174c6ea", "d703d7de6b6f47faaac05540eb3c70ce", "b3630b4365684ae38425dc714524a2f4",
                   "e0b48807f55e48d39f3685649df67ed1"] {
            XCTAssertTrue(text.contains("-- \(id)\n"), "catalog entry for \(id)")
        }
        try FileManager.default.createDirectory(atPath: "/usr/lib/systemd/catalog", withIntermediateDirectories: true)
        let installed = "/usr/lib/systemd/catalog/vigil.catalog"
        try? FileManager.default.removeItem(atPath: installed)
        try FileManager.default.copyItem(atPath: catalog, toPath: installed)
        let update = try TestSupport.run("/usr/bin/journalctl", ["--update-catalog"])
        XCTAssertEqual(update.status, 0, update.stderr)

        try harness.start()
        try harness.drop("lactate.ndjson", #"{"type":"observation","id":"LAB-X-1","subject":"LYS-04-001","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":4.9,"unit":"mmol/L"}"# + "\n")
        var explained = ""
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) {
            explained = (try? TestSupport.run("/usr/bin/journalctl", ["-x", "--no-pager", "VIGIL_TRIAL=\(self.harness.trial)"]).stdout) ?? ""
            return explained.contains("Subject: Vigil lactate alert for LYS-04-001 (4.9 mmol/L)")
        }, explained)
        XCTAssertTrue(explained.contains("Sepsis-3"), explained)
        XCTAssertEqual(harness.terminate().status, 0)
    }
}
