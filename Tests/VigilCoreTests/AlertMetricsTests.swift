import Foundation
import VigilCore
import XCTest

/// Time to acknowledge and alert burden on hand-computed examples.
final class AlertMetricsTests: XCTestCase {
    let t0 = Date(timeIntervalSince1970: 1_795_420_800)

    func alert(_ rule: String, _ severity: Severity, _ subject: String, raisedMinutes: Double, ackMinutes: Double?) -> AlertMetrics.RaisedAlert {
        let raised = t0.addingTimeInterval(raisedMinutes * 60)
        return .init(rule: rule, severity: severity, subject: subject, raisedAt: raised,
                     acknowledgedAt: ackMinutes.map { raised.addingTimeInterval($0 * 60) }, observedAt: raised)
    }

    /// Percentiles by linear interpolation (NumPy's default): for 10, 20, 30, 40 the median is 25 and
    /// the 90th percentile 37 (rank 0.9 × 3 = 2.7 → 30 + 0.7 × 10).
    func testTimeToAcknowledgeMedianAndNinetiethPercentile() throws {
        let alerts = [
            alert("lactate", .critical, "A", raisedMinutes: 0, ackMinutes: 10),
            alert("lactate", .critical, "B", raisedMinutes: 5, ackMinutes: 40),
            alert("news2", .critical, "C", raisedMinutes: 9, ackMinutes: 20),
            alert("news2", .critical, "D", raisedMinutes: 12, ackMinutes: 30),
            alert("news2", .critical, "E", raisedMinutes: 15, ackMinutes: nil),
            alert("sirs", .info, "A", raisedMinutes: 1, ackMinutes: nil),
        ]
        let summary = AlertMetrics.acknowledgement(alerts)
        XCTAssertEqual(summary.map(\.severity), ["critical", "info"], "most severe first, severities with alerts only")
        let critical = try XCTUnwrap(summary.first)
        XCTAssertEqual(critical.raised, 5)
        XCTAssertEqual(critical.acknowledged, 4)
        XCTAssertEqual(try XCTUnwrap(critical.medianMinutes), 25, accuracy: 1e-9)
        XCTAssertEqual(try XCTUnwrap(critical.p90Minutes), 37, accuracy: 1e-9)
        XCTAssertNil(summary[1].medianMinutes, "none acknowledged: no figure, not zero")
        XCTAssertEqual(AlertMetrics.oldestUnacknowledged(alerts)?.subject, "E")
        XCTAssertNil(AlertMetrics.oldestUnacknowledged(alerts.filter { $0.subject != "E" }), "the info alert is below the floor")
    }

    /// Two subjects over 3 and 1 days = 4 subject-days; 2 lactate warnings → 0.5 per subject-day.
    /// Of the two, only the one followed 47 h later by a positive culture is confirmed (the other's
    /// ICU transfer came 49 h later, outside the 48-h window; an outcome before the alert never counts).
    func testBurdenPerSubjectDayAndConfirmedShare() throws {
        let days = AlertMetrics.subjectDays(spans: [(t0, t0.addingTimeInterval(2.5 * 86_400)), (t0, t0.addingTimeInterval(3600))])
        XCTAssertEqual(days, 4)
        let alerts = [
            alert("lactate", .warning, "A", raisedMinutes: 0, ackMinutes: nil),
            alert("lactate", .warning, "B", raisedMinutes: 0, ackMinutes: nil),
            alert("data-quality", .warning, "A", raisedMinutes: 0, ackMinutes: nil),
        ]
        let outcomes = [
            AlertMetrics.Outcome(subject: "A", time: t0.addingTimeInterval(47 * 3600), kind: "blood_culture"),
            AlertMetrics.Outcome(subject: "B", time: t0.addingTimeInterval(49 * 3600), kind: "icu_transfer"),
            AlertMetrics.Outcome(subject: "B", time: t0.addingTimeInterval(-3600), kind: "infection_ae"),
        ]
        let rows = AlertMetrics.burden(alerts, outcomes: outcomes, subjectDays: days)
        let lactate = try XCTUnwrap(rows.first { $0.rule == "lactate" })
        XCTAssertEqual(lactate.alerts, 2)
        XCTAssertEqual(try XCTUnwrap(lactate.perSubjectDay), 0.5, accuracy: 1e-12)
        XCTAssertEqual(lactate.confirmed, 1)
        XCTAssertEqual(try XCTUnwrap(lactate.confirmedShare), 0.5, accuracy: 1e-12)
        let quality = try XCTUnwrap(rows.first { $0.rule == "data-quality" })
        XCTAssertNil(quality.confirmed, "data quality is not a deterioration rule")
        XCTAssertEqual(rows.map(\.rule), ["data-quality", "lactate"])
    }
}
