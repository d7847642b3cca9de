import Foundation
import VigilConfig
import VigilControl
@testable import VigilDaemon
import XCTest

/// `ControlRequest.parse`: the grammar of every control-socket command and the usage replies, without
/// a daemon. What needs the configuration or the peer (subject ids, authorisation) is `ControlHandler`'s.
final class ControlRequestTests: XCTestCase {
    func parsed(_ line: String, file: StaticString = #filePath, line number: UInt = #line) -> ControlRequest? {
        switch ControlRequest.parse(line) {
        case .success(let request): return request
        case .failure(let error):
            XCTFail("«\(line)» refused: \(error.message)", file: file, line: number)
            return nil
        }
    }

    func refusal(_ line: String, file: StaticString = #filePath, line number: UInt = #line) -> ControlRequestError? {
        switch ControlRequest.parse(line) {
        case .success(let request):
            XCTFail("«\(line)» accepted as \(request)", file: file, line: number)
            return nil
        case .failure(let error): return error
        }
    }

    func testCommandsWithoutArguments() {
        XCTAssertEqual(parsed("ping"), .ping)
        XCTAssertEqual(parsed("status"), .status)
        XCTAssertEqual(parsed("subjects"), .subjects)
        XCTAssertEqual(parsed("rules"), .rules)
        XCTAssertEqual(parsed("report"), .report)
        XCTAssertEqual(parsed("reload"), .reload)
        XCTAssertEqual(parsed("silences"), .silences)
        // Extra words after an argument-less command are ignored.
        XCTAssertEqual(parsed("status please"), .status)
        XCTAssertEqual(parsed("  ping  "), .ping, "runs of spaces separate nothing")
    }

    func testAlerts() {
        XCTAssertEqual(parsed("alerts"), .alerts(openOnly: true, limit: 50))
        XCTAssertEqual(parsed("alerts all"), .alerts(openOnly: false, limit: 50))
        XCTAssertEqual(parsed("alerts open 5"), .alerts(openOnly: true, limit: 5))
        XCTAssertEqual(parsed("alerts 10000 all"), .alerts(openOnly: false, limit: 10_000))
        XCTAssertEqual(parsed("alerts all open 1"), .alerts(openOnly: true, limit: 1), "the last word wins")
        XCTAssertEqual(refusal("alerts 0")?.message, "usage: alerts [open|all] [N]; '0' is neither")
        XCTAssertEqual(refusal("alerts 10001")?.message, "usage: alerts [open|all] [N]; '10001' is neither")
        XCTAssertEqual(refusal("alerts closed")?.command, "alerts")
        let long = String(repeating: "x", count: 100)
        XCTAssertEqual(refusal("alerts \(long)")?.message, "usage: alerts [open|all] [N]; '\(long.prefix(40))' is neither",
                       "the bad word is echoed at most 40 characters long")
    }

    func testSubject() {
        XCTAssertEqual(parsed("subject LYS-01-001"), .subject(id: "LYS-01-001"))
        XCTAssertEqual(parsed("subject whatever"), .subject(id: "whatever"), "the pattern is checked by the handler, against the configuration")
        XCTAssertEqual(refusal("subject"), ControlRequestError(command: "subject", message: "usage: subject ID"))
        XCTAssertEqual(refusal("subject LYS-01-001 LYS-01-002")?.message, "usage: subject ID")
    }

    func testAcknowledge() {
        XCTAssertEqual(parsed("ack 0123456789abcdef"), .acknowledge(alertID: "0123456789abcdef", reported: false, by: nil))
        XCTAssertEqual(parsed("ack 0123456789ABCDEF reported by:Dr_Anne_Martin"),
                       .acknowledge(alertID: "0123456789ABCDEF", reported: true, by: "Dr Anne Martin"))
        XCTAssertEqual(parsed("ack 0123456789abcdef by:x reported by:y"), .acknowledge(alertID: "0123456789abcdef", reported: true, by: "x"))
        let usage = ControlRequestError(command: "ack", message: "usage: ack ALERT_ID [reported] [by:NAME]")
        XCTAssertEqual(refusal("ack"), usage)
        XCTAssertEqual(refusal("ack 0123456789abcde"), usage, "15 digits")
        XCTAssertEqual(refusal("ack 0123456789abcdeg"), usage, "not hexadecimal")
        XCTAssertEqual(refusal("ack reported 0123456789abcdef"), usage, "the id comes first")
    }

    func testResume() {
        XCTAssertEqual(parsed("resume Dr_Martin DSMB reviewed  both deaths"), .resume(by: "Dr Martin", reason: "DSMB reviewed both deaths"))
        let usage = ControlRequestError(command: "resume", message: "usage: resume BY REASON…")
        XCTAssertEqual(refusal("resume"), usage)
        XCTAssertEqual(refusal("resume Dr_Martin"), usage, "a reason is required")
    }

    func testSilence() {
        XCTAssertEqual(parsed("silence lactate 60 chronic hyperlactataemia"), .silence(target: "lactate", minutes: 60, reason: "chronic hyperlactataemia"))
        XCTAssertEqual(parsed("silence LYS-01-001 10080 end of life care"), .silence(target: "LYS-01-001", minutes: 10_080, reason: "end of life care"))
        XCTAssertEqual(parsed("silence news2 0.5 x"), .silence(target: "news2", minutes: 0.5, reason: "x"))
        let usage = ControlRequestError(command: "silence", message: "usage: silence RULE|SUBJECT MINUTES REASON… (at most 7 days)")
        for bad in ["silence", "silence lactate 60", "silence lactate 0 r", "silence lactate -5 r", "silence lactate 10081 r",
                    "silence lactate nan r", "silence lactate inf r", "silence lactate sixty r"] {
            XCTAssertEqual(refusal(bad), usage, bad)
        }
    }

    func testEmptyAndUnknownRequests() {
        let empty = ControlRequestError(command: nil, message: "empty request; try 'ping'")
        XCTAssertEqual(refusal(""), empty)
        XCTAssertEqual(refusal("   "), empty)
        XCTAssertEqual(refusal("format-disk now")?.message,
                       "unknown command 'format-disk'; known: ping, status, alerts, ack, subjects, subject, rules, report, trial, resume, reload, silence, silences, backup, replay")
        XCTAssertNil(refusal("PING")?.command, "commands are lower case")
        let long = String(repeating: "z", count: 100)
        XCTAssertTrue(refusal(long)?.message.hasPrefix("unknown command '\(long.prefix(40))';") == true)
    }

    func testPrivilegedCommandsAreNamedInTheirErrors() {
        // The handler answers "access denied" to an unauthorised peer before any usage message.
        let privileged = ControlRequest.accessTable.filter { $0.value == .authorised }.map(\.key)
        XCTAssertEqual(privileged, ["ack", "resume", "reload", "silence", "backup", "replay"])
        XCTAssertEqual(ControlRequest.accessTable.count, Set(ControlRequest.accessTable.map(\.key)).count, "one row per command")
        XCTAssertNil(ControlRequest.access(for: "format-disk"))
        for line in ["ack", "resume x", "silence x"] {
            XCTAssertEqual(ControlRequest.access(for: refusal(line)?.command ?? ""), .authorised, line)
        }
        for request in ["ping", "status", "alerts", "ack 0123456789abcdef", "subjects", "subject a", "rules", "report", "resume a b",
                        "reload", "silence a 1 b", "silences"] {
            XCTAssertEqual(parsed(request)?.command, String(request.split(separator: " ")[0]))
        }
    }

    func testDecodeDoesWhatTheServerDoesToTheBytes() {
        XCTAssertEqual(try ControlRequest.decode(bytes: Array("  ping \r\n".utf8)).get(), "ping")
        XCTAssertEqual(try ControlRequest.decode(bytes: Array("status\nignored after the newline".utf8)).get(), "status")
        XCTAssertEqual(try ControlRequest.decode(bytes: Array("alerts all".utf8)).get(), "alerts all", "end of stream ends the line")
        XCTAssertEqual(try ControlRequest.decode(bytes: []).get(), "")
        let limit = ControlRequest.maxBytes
        XCTAssertEqual(try ControlRequest.decode(bytes: Array(repeating: 0x20, count: limit) + [0x0A]).get(), "")
        XCTAssertEqual(ControlRequest.decode(bytes: Array(repeating: 0x20, count: limit + 1)),
                       .failure(ControlRequestError(command: nil, message: "request longer than 4096 bytes")))
        XCTAssertEqual(ControlRequest.decode(bytes: Array(repeating: 0x20, count: limit + 1) + [0x0A]),
                       .failure(ControlRequestError(command: nil, message: "request longer than 4096 bytes")))
        XCTAssertEqual(ControlRequest.decode(bytes: [0x70, 0xFF, 0x0A]), .failure(ControlRequestError(command: nil, message: "request is not UTF-8")))
        XCTAssertEqual(try ControlRequest.decode(bytes: [0x70, 0x0A, 0xFF]).get(), "p", "bytes after the newline are never read")
    }

    func testBackupAndReplayArguments() {
        XCTAssertEqual(try ControlRequest.parse("backup /var/lib/vigil/backups/v 1.sqlite").get(), .backup(path: "/var/lib/vigil/backups/v 1.sqlite"))
        XCTAssertEqual(refusal("backup relative.sqlite")?.command, "backup", "only absolute paths")
        XCTAssertEqual(try ControlRequest.parse("replay /etc/vigil/candidate.yaml").get(), .replay(configPath: "/etc/vigil/candidate.yaml", since: nil))
        XCTAssertEqual(try ControlRequest.parse("replay /c.yaml 2026-11-20T00:00:00Z").get(),
                       .replay(configPath: "/c.yaml", since: Date(timeIntervalSince1970: 1_795_132_800)))
        XCTAssertTrue(refusal("replay /c.yaml yesterday")?.message.contains("is not an ISO 8601 time") == true)
        XCTAssertEqual(refusal("replay")?.command, "replay")
    }
}
