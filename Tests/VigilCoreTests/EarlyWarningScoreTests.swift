import XCTest
@testable import VigilCore

/// Snapshot builder for score tests: values measured `minutesAgo` before `asOf`.
enum Snap {
    static let asOf = Date(timeIntervalSince1970: 1_795_420_800)

    static func make(_ values: [String: ObservationValue], minutesAgo: Double = 10, hypercapnic: Bool = false,
                     enrolment: [String: String] = [:], stale: [String: Double] = [:]) -> SubjectSnapshot {
        var latest: [String: TimedValue] = [:]
        for (code, value) in values {
            let age = (stale[code] ?? minutesAgo) * 60
            latest[code] = TimedValue(value: value, time: asOf.addingTimeInterval(-age), record: "R-\(code)")
        }
        return SubjectSnapshot(subject: "LYS-01-001", asOf: asOf, latest: latest, enrolment: enrolment, hypercapnic: hypercapnic)
    }

    /// A calm, complete set of NEWS2 inputs (every parameter 0 points).
    static let calm: [String: ObservationValue] = [
        "respiratory_rate": .number(16), "spo2": .number(97), "oxygen": .flag(false), "systolic_bp": .number(120),
        "heart_rate": .number(80), "consciousness": .text("A"), "temperature": .number(37.0),
    ]
}

/// NEWS2 bands from the Royal College of Physicians NEWS2 report (2017), chart 1 "The NEWS scoring
/// system"; each boundary is checked on both sides.
final class NEWS2Tests: XCTestCase {
    func testRespirationRateBands() {
        let cases: [(Double, Int)] = [(8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3)]
        for (value, points) in cases { XCTAssertEqual(NEWS2.respirationPoints(value), points, "RR \(value)") }
    }

    func testSpO2Scale1Bands() {
        let cases: [(Double, Int)] = [(91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0)]
        for (value, points) in cases { XCTAssertEqual(NEWS2.spo2Scale1Points(value), points, "SpO2 \(value)") }
    }

    func testSpO2Scale2Bands() {
        let air: [(Double, Int)] = [(83, 3), (84, 2), (85, 2), (86, 1), (87, 1), (88, 0), (92, 0), (93, 0), (99, 0)]
        for (value, points) in air { XCTAssertEqual(NEWS2.spo2Scale2Points(value, onOxygen: false), points, "SpO2 \(value) on air") }
        let oxygen: [(Double, Int)] = [(92, 0), (93, 1), (94, 1), (95, 2), (96, 2), (97, 3)]
        for (value, points) in oxygen { XCTAssertEqual(NEWS2.spo2Scale2Points(value, onOxygen: true), points, "SpO2 \(value) on oxygen") }
    }

    func testSystolicPulseAndTemperatureBands() {
        let sbp: [(Double, Int)] = [(90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)]
        for (value, points) in sbp { XCTAssertEqual(NEWS2.systolicPoints(value), points, "SBP \(value)") }
        let pulse: [(Double, Int)] = [(40, 3), (41, 1), (50, 1), (51, 0), (90, 0), (91, 1), (110, 1), (111, 2), (130, 2), (131, 3)]
        for (value, points) in pulse { XCTAssertEqual(NEWS2.pulsePoints(value), points, "pulse \(value)") }
        let temperature: [(Double, Int)] = [(35.0, 3), (35.1, 1), (36.0, 1), (36.1, 0), (38.0, 0), (38.1, 1), (39.0, 1), (39.1, 2)]
        for (value, points) in temperature { XCTAssertEqual(NEWS2.temperaturePoints(value), points, "T \(value)") }
    }

    func testAggregateAndOxygen() {
        XCTAssertEqual(NEWS2.evaluate(Snap.make(Snap.calm)).total, 0)
        var ill = Snap.calm
        ill["respiratory_rate"] = .number(24)   // 2
        ill["spo2"] = .number(93)               // 2
        ill["oxygen"] = .flag(true)             // 2
        ill["heart_rate"] = .number(118)        // 2
        ill["temperature"] = .number(38.6)      // 1
        let result = NEWS2.evaluate(Snap.make(ill))
        XCTAssertEqual(result.total, 9)
        XCTAssertTrue(result.isComplete)
        XCTAssertEqual(result.components.first { $0.name == "air or oxygen" }?.points, 2)
        var confused = Snap.calm
        confused["consciousness"] = .text("C")
        XCTAssertEqual(NEWS2.evaluate(Snap.make(confused)).total, 3, "new confusion scores 3")
    }

    func testHypercapnicSubjectUsesScale2() {
        var values = Snap.calm
        values["spo2"] = .number(89)
        XCTAssertEqual(NEWS2.evaluate(Snap.make(values)).total, 3, "scale 1: 89 % scores 3")
        XCTAssertEqual(NEWS2.evaluate(Snap.make(values, hypercapnic: true)).total, 0, "scale 2: 88-92 % scores 0")
    }

    func testStaleAndMissingValuesAreReportedNotNormal() {
        var values = Snap.calm
        values.removeValue(forKey: "consciousness")
        let result = NEWS2.evaluate(Snap.make(values, stale: ["heart_rate": 5 * 60]))
        XCTAssertFalse(result.isComplete)
        XCTAssertEqual(Set(result.missing), ["consciousness", "heart_rate (stale)"], "vitals older than 4 h are stale")
    }
}

/// qSOFA (Seymour et al., JAMA 2016) and SIRS (Bone et al., Chest 1992) criteria on both sides of each limit.
final class QSOFAAndSIRSTests: XCTestCase {
    func testQSOFABoundaries() {
        let none = QSOFA.evaluate(Snap.make(["respiratory_rate": .number(21), "gcs": .number(15), "systolic_bp": .number(101)]))
        XCTAssertEqual(none.total, 0)
        XCTAssertTrue(none.isComplete)
        let all = QSOFA.evaluate(Snap.make(["respiratory_rate": .number(22), "gcs": .number(14), "systolic_bp": .number(100)]))
        XCTAssertEqual(all.total, 3)
        let acvpu = QSOFA.evaluate(Snap.make(["respiratory_rate": .number(12), "consciousness": .text("V"), "systolic_bp": .number(130)]))
        XCTAssertEqual(acvpu.total, 1, "an ACVPU level other than A is altered mentation")
        XCTAssertEqual(QSOFA.evaluate(Snap.make(["respiratory_rate": .number(30)])).missing, ["gcs", "systolic_bp"])
    }

    func testSIRSBoundaries() {
        let calm = SIRS.evaluate(Snap.make(["temperature": .number(38.0), "heart_rate": .number(90), "respiratory_rate": .number(20), "wbc": .number(12)]))
        XCTAssertEqual(calm.total, 0)
        let low = SIRS.evaluate(Snap.make(["temperature": .number(35.9), "heart_rate": .number(91), "respiratory_rate": .number(18), "paco2": .number(31.9), "wbc": .number(3.9)]))
        XCTAssertEqual(low.total, 4)
        let bands = SIRS.evaluate(Snap.make(["temperature": .number(36.0), "heart_rate": .number(60), "respiratory_rate": .number(21), "bands": .number(11)]))
        XCTAssertEqual(bands.total, 2)
        XCTAssertTrue(bands.isComplete)
    }
}
