import XCTest
@testable import VigilCore

final class AlertTests: XCTestCase {
    /// docs/ARCHITECTURE.md §3.3: id = first 16 hex of SHA-256(rule, subject or "trial", trigger key). The expected
    /// value was computed independently with coreutils:
    /// `printf 'lactate\x1fLYS-01-003\x1fLAB-123|critical' | sha256sum | cut -c1-16`.
    func testAlertIDIsTheDocumentedDigest() {
        XCTAssertEqual(Alert.makeID(rule: "lactate", subject: "LYS-01-003", triggerKey: "LAB-123|critical"), "61520c5a5fb9bcad")
    }

    func testAlertIDsAreDeterministicAndDistinct() {
        let a = Alert.makeID(rule: "lactate", subject: "LYS-01-003", triggerKey: "k")
        XCTAssertEqual(a, Alert.makeID(rule: "lactate", subject: "LYS-01-003", triggerKey: "k"))
        XCTAssertNotEqual(a, Alert.makeID(rule: "lactate", subject: "LYS-01-004", triggerKey: "k"))
        XCTAssertNotEqual(a, Alert.makeID(rule: "lactate", subject: nil, triggerKey: "k"))
        XCTAssertEqual(a.count, 16)
    }

    /// docs/ARCHITECTURE.md §3.3: halt 1 (ALERT), critical 2, warning 4, info 6.
    func testJournalPriorities() {
        XCTAssertEqual(Severity.halt.journalPriority, 1)
        XCTAssertEqual(Severity.critical.journalPriority, 2)
        XCTAssertEqual(Severity.warning.journalPriority, 4)
        XCTAssertEqual(Severity.info.journalPriority, 6)
        XCTAssertTrue(Severity.warning < .critical && Severity.critical < .halt)
    }

    func testContentHashIgnoresNothingAndIsStable() throws {
        let o = Observation(id: "A", subject: "LYS-01-001", time: Date(timeIntervalSince1970: 0), code: "lactate", value: .number(2), unit: "mmol/L")
        var changed = o
        changed.value = .number(2.1)
        XCTAssertEqual(try Digest.contentHash(of: .observation(o)), try Digest.contentHash(of: .observation(o)))
        XCTAssertNotEqual(try Digest.contentHash(of: .observation(o)), try Digest.contentHash(of: .observation(changed)))
        XCTAssertThrowsError(try Digest.canonicalJSON(.observation(Observation(id: "n", subject: "LYS-01-001", time: o.time, code: "lactate", value: .number(.nan), unit: "mmol/L"))))
    }
}
