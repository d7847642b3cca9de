import XCTest
import VigilTestSupport
@testable import VigilSystemd

/// Against the real systemd-journald (started by the test when none runs) and real sd_notify.
final class JournalTests: XCTestCase {
    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
    }

    func testStructuredMultiLineEntryReachesTheJournal() throws {
        let marker = UUID().uuidString
        let writer = JournalWriter(fallback: { _ in XCTFail("journal should be reachable") })
        XCTAssertTrue(writer.send([
            ("MESSAGE", "first line\nsecond line = with equals"),
            ("PRIORITY", "2"),
            ("SYSLOG_IDENTIFIER", "vigil-test"),
            ("VIGIL_TEST_MARKER", marker),
            ("VIGIL_VALUE", "4.5 mmol/L"),
        ]))
        XCTAssertEqual(writer.isReachable, true)
        var entries: [[String: Any]] = []
        TestSupport.waitUntil(timeout: 10) {
            entries = (try? TestSupport.journalEntries(matching: "VIGIL_TEST_MARKER=\(marker)")) ?? []
            return !entries.isEmpty
        }
        XCTAssertEqual(entries.count, 1)
        XCTAssertEqual(entries.first?["MESSAGE"] as? String, "first line\nsecond line = with equals")
        XCTAssertEqual(entries.first?["PRIORITY"] as? String, "2")
        XCTAssertEqual(entries.first?["VIGIL_VALUE"] as? String, "4.5 mmol/L")
        XCTAssertEqual(JournalReader.contains(field: "VIGIL_TEST_MARKER", value: marker), true)
        XCTAssertEqual(JournalReader.contains(field: "VIGIL_TEST_MARKER", value: "absent-\(marker)"), false)
    }

    func testNotifierSpeaksTheServiceManagerProtocol() throws {
        let directory = try TestSupport.scratchDirectory("notify")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let socket = try NotifySocket(path: "\(directory)/notify.sock")
        setenv("NOTIFY_SOCKET", socket.path, 1)
        setenv("WATCHDOG_USEC", "3000000", 1)
        setenv("WATCHDOG_PID", String(getpid()), 1)
        defer {
            unsetenv("NOTIFY_SOCKET")
            unsetenv("WATCHDOG_USEC")
            unsetenv("WATCHDOG_PID")
        }
        let notifier = ServiceNotifier()
        XCTAssertTrue(notifier.ready(status: "two\nlines"))
        XCTAssertTrue(notifier.watchdog())
        XCTAssertTrue(notifier.reloading(status: "reloading"))
        XCTAssertTrue(notifier.stopping(status: "bye"))
        XCTAssertEqual(notifier.watchdogInterval(), .milliseconds(1500), "half of WATCHDOG_USEC")
        XCTAssertTrue(socket.waitFor("STOPPING=1", timeout: 5))
        let messages = socket.messages
        XCTAssertEqual(messages.first, "READY=1\nSTATUS=two lines")
        XCTAssertEqual(messages[1], "WATCHDOG=1")
        let reload = messages[2].split(separator: "\n")
        XCTAssertEqual(reload.first, "RELOADING=1")
        let monotonic = try XCTUnwrap(reload.first { $0.hasPrefix("MONOTONIC_USEC=") }).dropFirst("MONOTONIC_USEC=".count)
        XCTAssertGreaterThan(UInt64(monotonic) ?? 0, 0)
    }

    func testWithoutNotifySocketNothingIsSent() {
        unsetenv("NOTIFY_SOCKET")
        XCTAssertFalse(ServiceNotifier().ready(status: "x"))
        XCTAssertNil(ServiceNotifier().watchdogInterval())
    }
}
