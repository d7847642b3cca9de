import Foundation
import XCTest
@testable import VigilCore

/// The alert lifecycle of docs/ARCHITECTURE.md §3.3 (as Alertmanager stages it: silence, then the
/// repeat interval; escalation of unacknowledged critical and halt alerts), decided by table.
final class DeliveryPolicyTests: XCTestCase {
    let now = Date(timeIntervalSince1970: 1_796_000_000)
    let policy = DeliveryPolicy(repeatInterval: 4 * 3600, escalateAfter: 30 * 60)

    func alert(_ rule: String, _ severity: Severity, subject: String? = "LYS-01-001") -> Alert {
        Alert(rule: rule, severity: severity, subject: subject, trial: "LYSYME", triggerKey: "k", records: [], value: "v",
              title: "t", reason: "r", action: "a", evidence: [], raisedAt: now)
    }

    func testMailDecisionsByTable() {
        let silence = DeliveryPolicy.SilenceInForce(id: "S1", until: now.addingTimeInterval(3600), reason: "maintenance")
        // (alert, silence, mailed earlier within the interval, expected: nil = send, else the hold's prefix)
        let table: [(Alert, DeliveryPolicy.SilenceInForce?, Bool, String?, String)] = [
            (alert("lactate", .warning), nil, false, nil, "first mail of a rule and subject"),
            (alert("lactate", .warning), nil, true, "repeat interval: lactate for LYS-01-001", "again within the interval"),
            (alert("lactate", .critical), nil, false, nil, "severity rose: the earlier mails were lower (the fact says none at or above)"),
            (alert("halt-susar", .halt, subject: nil), nil, true, nil, "a halt is always mailed"),
            (alert("susar-clock", .critical), nil, true, nil, "a SUSAR deadline is always mailed"),
            (alert("lactate", .warning), silence, false, "silenced by S1 until 2026-11-30T", "a silence holds mail"),
            (alert("halt-susar", .halt, subject: nil), silence, false, "silenced by S1", "even a halt's mail, when its rule is silenced"),
        ]
        for (alert, silence, mailed, expected, why) in table {
            let decision = policy.mail(alert, silence: silence) { interval in
                XCTAssertEqual(interval, 4 * 3600, "the fact is asked for the configured interval")
                return mailed
            }
            switch (decision, expected) {
            case (.send, nil): continue
            case (.hold(let reason), let prefix?): XCTAssertTrue(reason.hasPrefix(prefix), "\(why): \(reason)")
            default: XCTFail("\(why): got \(decision)")
            }
        }
        let everyAlert = DeliveryPolicy(repeatInterval: 0, escalateAfter: 60)
        XCTAssertEqual(everyAlert.mail(alert("lactate", .warning), silence: nil) { _ in XCTFail("not asked when 0"); return true }, .send,
                       "repeat_interval_minutes 0 mails every alert")
    }

    func testEscalationByTable() {
        let table: [(Severity, TimeInterval, Bool)] = [
            (.critical, 30 * 60, true), (.critical, 30 * 60 - 1, false), (.halt, 3600, true), (.warning, 3600, false), (.info, 86400, false),
        ]
        for (severity, age, due) in table {
            XCTAssertEqual(policy.isDueForEscalation(severity: severity, raisedAt: now.addingTimeInterval(-age), now: now), due, "\(severity) after \(age) s")
        }
        XCTAssertEqual(policy.escalationCutoff(now: now), now.addingTimeInterval(-1800))
    }
}
