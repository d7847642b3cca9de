import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// Faults from outside the daemon: a full disk, journald stopped mid-run, files written in place or
/// deleted under the daemon, ten thousand files at once, and running as the unprivileged user from
/// sysusers.d. In each, the daemon stays up, says what is wrong, and loses and doubles nothing.
final class FaultToleranceTests: XCTestCase {
    static func lactate(id: String, subject: String, value: Double, time: String = "2026-11-23T08:00:00+01:00") -> String {
        #"{"type":"observation","id":"\#(id)","subject":"\#(subject)","time":"\#(time)","code":"lactate","value":\#(value),"unit":"mmol/L"}"# + "\n"
    }

    func requireRoot(_ why: String) throws {
        guard getuid() == 0 else { throw TestSupport.Failure("this test needs root to \(why) (CI runs as root)") }
    }

    /// Inbox, state and outbox on a 6 MiB tmpfs that is then filled: the daemon stays up, reports
    /// `degraded` with the reason in `status` and in sd_notify STATUS=, keeps the files in the inbox,
    /// and once space returns catches up: every record applied once, every alert mailed and
    /// journalled once.
    func testDiskFullDegradesThenCatchesUpWithNothingLost() throws {
        try requireRoot("mount a tmpfs")
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "disk-full")
        let volume = "\(harness.directory)/var"
        try FileManager.default.createDirectory(atPath: volume, withIntermediateDirectories: true)
        XCTAssertEqual(try TestSupport.run("/bin/mount", ["-t", "tmpfs", "-o", "size=6m", "vigil-test-full", volume]).status, 0)
        defer {
            harness.crash()
            _ = try? TestSupport.run("/bin/umount", ["-l", volume])
            harness.cleanUp()
        }
        try harness.configuration(lactate: (2.0, 4.0)).replacingOccurrences(of: "rescan_interval_seconds: 30", with: "rescan_interval_seconds: 2")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()
        try harness.drop("before.ndjson", Self.lactate(id: "LAB-F-0", subject: "LYS-08-001", value: 4.5))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { harness.files(in: harness.outboxNew).count == 1 }, harness.stderr)

        // Three files ready under temporary names, then the volume filled to the last byte.
        var expectedRecords = 1
        for file in 1...3 {
            var lines = ""
            for row in 1...40 {
                let value: Double = row == 40 ? 4.2 + Double(file) / 10 : 1.0
                lines += Self.lactate(id: "LAB-F-\(file)-\(row)", subject: "LYS-08-0\(10 + file)", value: value,
                                      time: String(format: "2026-11-23T09:%02d:00+01:00", row))
            }
            expectedRecords += 40
            try lines.write(toFile: "\(harness.inbox)/.full-\(file).ndjson.tmp", atomically: false, encoding: .utf8)
        }
        let filler = open("\(volume)/filler", O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(filler, 0)
        for chunk in [65536, 4096, 1] {
            let block = [UInt8](repeating: 0x58, count: chunk)
            while block.withUnsafeBytes({ write(filler, $0.baseAddress, chunk) }) == chunk {}
        }
        close(filler)
        let notifyMark = harness.notify.messages.count
        for file in 1...3 {
            XCTAssertEqual(rename("\(harness.inbox)/.full-\(file).ndjson.tmp", "\(harness.inbox)/full-\(file).ndjson"), 0)
        }

        var degradedStatus: [String: Any] = [:]
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) {
            degradedStatus = (try? harness.statusJSON()) ?? [:]
            return degradedStatus["state"] as? String == "degraded"
        }, "\(degradedStatus)\n\(harness.stderr.suffix(2000))")
        let reasons = (degradedStatus["degraded"] as? [String] ?? []).joined(separator: "\n")
        XCTAssertTrue(reasons.contains("No space left on device") || reasons.contains("disk is full"), reasons)
        XCTAssertTrue(harness.notify.waitFor("STATUS=degraded: " + (reasons.split(separator: "\n").first.map(String.init) ?? ""), timeout: 5, after: notifyMark)
                      || harness.notify.messages.dropFirst(notifyMark).contains { $0.contains("STATUS=degraded:") },
                      "\(harness.notify.messages.dropFirst(notifyMark))")
        XCTAssertTrue(harness.isRunning)
        XCTAssertEqual(try harness.vigilctl(["ping"]).status, 0)
        XCTAssertFalse(harness.files(in: harness.rejected).contains { $0.hasPrefix("full-") }, "a full disk is not the file's fault: nothing rejected")
        XCTAssertTrue(harness.isRunning)

        // Space returns: the retries catch up.
        XCTAssertEqual(unlink("\(volume)/filler"), 0)
        var status: [String: Any] = [:]
        XCTAssertTrue(TestSupport.waitUntil(timeout: 40) {
            status = (try? harness.statusJSON()) ?? [:]
            return status["state"] as? String == "ok" && harness.files(in: harness.inbox).isEmpty && harness.files(in: harness.outboxNew).count == 4
                && ((status["records"] as? [String: Any])?["stored"] as? Int) == expectedRecords
                && ((status["journal"] as? [String: Any])?["pending_entries"] as? Int) == 0
        }, "\(status)\ninbox \(harness.files(in: harness.inbox)) outbox \(harness.files(in: harness.outboxNew))\n\(harness.stderr.suffix(3000))")
        let records = try XCTUnwrap(status["records"] as? [String: Any])
        let ledger = try TestSupport.run("/usr/bin/sqlite3", [harness.database, "SELECT name, outcome, applied, rejected, unchanged, destination FROM file_ledger"]).stdout
        XCTAssertEqual(records["stored"] as? Int, expectedRecords, "ledger:\n\(ledger)\nrejected: \(harness.files(in: harness.rejected))\n\(harness.stderr.suffix(4000))")
        XCTAssertEqual(records["rejected"] as? Int, 0)
        XCTAssertEqual(Set(harness.archivedFiles().map { ($0 as NSString).lastPathComponent }), ["before.ndjson", "full-1.ndjson", "full-2.ndjson", "full-3.ndjson"])
        usleep(6_000_000)  // a delivery tick: a doubled entry would show now
        let journal = try harness.journalEntries().filter { $0["VIGIL_PHASE"] as? String == "raised" }
        XCTAssertEqual(journal.count, 4, "each alert journalled once: \(journal.map { $0["VIGIL_ALERT_ID"] ?? "?" })")
        XCTAssertEqual(Set(journal.compactMap { $0["VIGIL_ALERT_ID"] as? String }).count, 4)
        XCTAssertTrue(harness.notify.messages.dropFirst(notifyMark).contains { $0.contains("STATUS=recovered") }, "\(harness.notify.messages.dropFirst(notifyMark))")
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// journald is stopped while the daemon runs (its socket file left behind, as a crash leaves
    /// it): alerts still reach the outbox, `status` says the journal is unreachable with the entries
    /// queued, and when journald is back every queued entry is delivered exactly once.
    /// The daemon and its journald live in a private mount namespace, so the host journal is untouched.
    func testJournaldStoppedMidRunGetsEveryEntryOnceWhenBack() throws {
        try requireRoot("make a private mount namespace with its own journald")
        let harness = try DaemonHarness(label: "journal-down")
        var restarted: Process?
        defer {
            harness.crash()
            if let restarted, restarted.isRunning { restarted.terminate(); restarted.waitUntilExit() }
            if let pid = Int32((try? String(contentsOfFile: "\(harness.directory)/journald.pid", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") {
                kill(pid, SIGKILL)
            }
            harness.cleanUp()
        }
        let script = """
            set -e
            mkdir -p /run/systemd/journal /run/log/journal
            mount -t tmpfs vigil-test-journal /run/systemd/journal
            mount -t tmpfs vigil-test-journal-files /run/log/journal
            if [ -d /var/log/journal ]; then mount -t tmpfs vigil-test-journal-var /var/log/journal; fi
            /lib/systemd/systemd-journald </dev/null >/dev/null 2>&1 &
            echo $! > \(harness.directory)/journald.pid
            i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
            exec "$0" "$@"
            """
        try harness.start(wrapper: ["/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script])
        let daemonPID = try XCTUnwrap(harness.process?.processIdentifier)
        let journaldPID = try XCTUnwrap(Int32(try String(contentsOfFile: "\(harness.directory)/journald.pid", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        func namespaceJournal() throws -> [[String: Any]] {
            let result = try TestSupport.run("/usr/bin/nsenter", ["-t", "\(daemonPID)", "-m", "/usr/bin/journalctl", "-o", "json", "--no-pager", "--all", "VIGIL_TRIAL=\(harness.trial)"])
            return result.stdout.split(separator: "\n").compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        }

        try harness.drop("first.ndjson", Self.lactate(id: "LAB-J-1", subject: "LYS-09-001", value: 4.6))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { ((try? namespaceJournal()) ?? []).count == 1 }, harness.stderr)

        // journald stops; the socket file stays.
        kill(journaldPID, SIGTERM)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) {
            let state = (try? String(contentsOfFile: "/proc/\(journaldPID)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(2).first
            return state == nil || state == "Z"
        })
        let mark = harness.notify.messages.count
        try harness.drop("second.ndjson", Self.lactate(id: "LAB-J-2", subject: "LYS-09-002", value: 4.7) + Self.lactate(id: "LAB-J-3", subject: "LYS-09-003", value: 2.4))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { harness.files(in: harness.outboxNew).count == 3 }, harness.stderr)
        let down = try harness.statusJSON()
        let journalState = try XCTUnwrap(down["journal"] as? [String: Any])
        XCTAssertEqual(journalState["reachable"] as? Bool, false, "\(down)")
        XCTAssertEqual(journalState["pending_entries"] as? Int, 2)
        XCTAssertTrue((journalState["detail"] as? String ?? "").contains("Connection refused"), "\(journalState)")
        XCTAssertEqual(down["state"] as? String, "degraded")
        XCTAssertTrue(harness.notify.waitFor("STATUS=degraded: journal: " + (journalState["detail"] as? String ?? ""), timeout: 5, after: mark)
                      || harness.notify.messages.dropFirst(mark).contains { $0.contains("STATUS=degraded: journal") }, "\(harness.notify.messages.dropFirst(mark))")
        XCTAssertTrue(harness.stderr.contains("VIGIL_SUBJECT=LYS-09-002"), "the fields go to stderr meanwhile")

        // journald returns (in the daemon's namespace): the two queued entries arrive, once each.
        let journald = Process()
        journald.executableURL = URL(fileURLWithPath: "/usr/bin/nsenter")
        journald.arguments = ["-t", "\(daemonPID)", "-m", "/lib/systemd/systemd-journald"]
        journald.standardOutput = FileHandle.nullDevice
        journald.standardError = FileHandle.nullDevice
        try journald.run()
        restarted = journald
        var entries: [[String: Any]] = []
        XCTAssertTrue(TestSupport.waitUntil(timeout: 30) {
            entries = ((try? namespaceJournal()) ?? []).filter { $0["VIGIL_PHASE"] as? String == "raised" }
            return entries.count >= 3 && ((try? harness.statusJSON())?["state"] as? String) == "ok"
        }, "\(entries.count) entries; \(harness.stderr.suffix(2000))")
        usleep(6_000_000)  // one more delivery tick: nothing may be sent twice
        entries = try namespaceJournal().filter { $0["VIGIL_PHASE"] as? String == "raised" }
        XCTAssertEqual(entries.count, 3)
        XCTAssertEqual(Set(entries.compactMap { $0["VIGIL_SUBJECT"] as? String }), ["LYS-09-001", "LYS-09-002", "LYS-09-003"])
        let up = try XCTUnwrap(try harness.statusJSON()["journal"] as? [String: Any])
        XCTAssertEqual(up["reachable"] as? Bool, true)
        XCTAssertEqual(up["pending_entries"] as? Int, 0)
        XCTAssertEqual(harness.files(in: harness.outboxNew).count, 3, "mail was never held back or doubled")
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// A producer that writes in place (against the rename contract), one line at a time over a few
    /// seconds while rescans run every second: the file is never taken half-written and archived under
    /// its writer; every record is applied once, nothing rejected.
    func testFileGrowingWhileReadIsTakenWholeOnce() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "growing")
        defer { harness.cleanUp() }
        try harness.configuration(lactate: (2.0, 4.0)).replacingOccurrences(of: "rescan_interval_seconds: 30", with: "rescan_interval_seconds: 1")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()
        let fd = open("\(harness.inbox)/growing.ndjson", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        XCTAssertGreaterThanOrEqual(fd, 0)
        let count = 300
        for row in 0..<count {
            let subject = "LYS-10-" + String(format: "%03d", row % 7)
            let day: Int = 1 + row / 100
            let hour: Int = (row % 100) / 10
            let line = Self.lactate(id: "LAB-G-\(row)", subject: subject, value: 1.0, time: String(format: "2026-11-2%dT%02d:%02d:00+01:00", day, hour, row % 10))
            _ = line.withCString { write(fd, $0, strlen($0)) }
            usleep(12_000)
        }
        close(fd)
        var status: [String: Any] = [:]
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) {
            status = (try? harness.statusJSON()) ?? [:]
            return harness.files(in: harness.inbox).isEmpty && ((status["records"] as? [String: Any])?["stored"] as? Int) == count
        }, "\(status); \(harness.stderr.suffix(2000))")
        let records = try XCTUnwrap(status["records"] as? [String: Any])
        XCTAssertEqual(records["rejected"] as? Int, 0, harness.stderr)
        XCTAssertEqual(harness.archivedFiles().filter { $0.contains("growing.ndjson") }.count, 1, "\(harness.archivedFiles())")
        XCTAssertEqual(harness.files(in: harness.outboxNew).count, 0, "no data-quality alert from a half-read line")
        XCTAssertEqual(try harness.statusJSON()["state"] as? String, "ok")
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// A large file removed from the inbox while the daemon is processing it: its records are applied
    /// (the data were read), the missing archive copy is reported, the daemon is not left degraded, and
    /// the next file is processed as usual.
    func testFileDeletedUnderTheDaemonIsReportedAndNothingElseIsAffected() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "deleted")
        defer { harness.cleanUp() }
        try harness.start()
        let count = 4000
        var big = ""
        for row in 0..<count {
            let subject = "LYS-11-" + String(format: "%03d", row % 40)
            let day: Int = 1 + row / 40 / 24
            let hour: Int = (row / 40) % 24
            big += Self.lactate(id: "LAB-D-\(row)", subject: subject, value: 1.0, time: String(format: "2026-11-%02dT%02d:00:00+01:00", day, hour))
        }
        try harness.drop("doomed.ndjson", big)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) { ((try? harness.statusJSON())?["busy_seconds"] as? Double) != nil })
        XCTAssertEqual(unlink("\(harness.inbox)/doomed.ndjson"), 0)
        try harness.drop("after.ndjson", Self.lactate(id: "LAB-D-X", subject: "LYS-11-999", value: 4.9))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 60) { harness.files(in: harness.outboxNew).count == 1 }, harness.stderr.suffix(2000).description)
        let status = try harness.statusJSON()
        XCTAssertEqual((status["records"] as? [String: Any])?["stored"] as? Int, count + 1)
        XCTAssertEqual(status["state"] as? String, "ok", "\(status)")
        XCTAssertTrue(harness.stderr.contains("doomed.ndjson was removed by someone else after it was read"), harness.stderr.suffix(2000).description)
        // The file is moved after its alerts are delivered: its mail can be seen a moment before.
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { harness.archivedFiles().contains { $0.hasSuffix("/after.ndjson") } })
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// A flood of one-record files renamed into the inbox at once: every file archived, every record
    /// applied once. The short run (`make test`, CI) drops 2,000; `scripts/full-checks` drops 10,000
    /// (VIGIL_FLOOD_FILES). Each rename is one inotify event, so 10,000 stays within the default
    /// queue of 16,384; the overflow path (a full rescan) is the same code as the start-up scan.
    func testFloodOfFilesAtOnceIsAllProcessedOnce() throws {
        try TestSupport.ensureJournald()
        let count = Int(ProcessInfo.processInfo.environment["VIGIL_FLOOD_FILES"] ?? "") ?? 2_000
        let harness = try DaemonHarness(label: "flood")
        defer { harness.cleanUp() }
        let staging = "\(harness.directory)/staging"
        try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
        try harness.start()
        for index in 0..<count {
            let subject = "LYS-12-" + String(format: "%03d", index % 100)
            let day: Int = 1 + index / 1440
            let hour: Int = (index / 60) % 24
            let time = String(format: "2026-11-%02dT%02d:%02d:00+01:00", day, hour, index % 60)
            try Self.lactate(id: "LAB-N-\(index)", subject: subject, value: 1.0, time: time)
                .write(toFile: "\(staging)/f\(index).ndjson", atomically: false, encoding: .utf8)
        }
        for index in 0..<count {
            XCTAssertEqual(rename("\(staging)/f\(index).ndjson", "\(harness.inbox)/f\(index).ndjson"), 0)
        }
        var status: [String: Any] = [:]
        XCTAssertTrue(TestSupport.waitUntil(timeout: 900) {
            status = (try? harness.statusJSON()) ?? [:]
            return ((status["records"] as? [String: Any])?["files"] as? Int) == count && harness.files(in: harness.inbox).isEmpty
        }, "\(status)")
        let records = try XCTUnwrap(status["records"] as? [String: Any])
        XCTAssertEqual(records["stored"] as? Int, count)
        XCTAssertEqual(records["applied"] as? Int, count)
        XCTAssertEqual(records["rejected"] as? Int, 0)
        XCTAssertEqual(harness.archivedFiles().count, count)
        XCTAssertEqual(status["state"] as? String, "ok")
        XCTAssertEqual(harness.terminate(timeout: 30).status, 0)
    }
}
