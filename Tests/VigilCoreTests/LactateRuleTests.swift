import XCTest
@testable import VigilCore

/// Lactate signal, docs/ARCHITECTURE.md §4. Source: Singer M, Deutschman CS, Seymour CW, et al. The Third
/// International Consensus Definitions for Sepsis and Septic Shock (Sepsis-3). JAMA 2016;315(8):801-810:
/// serum lactate > 2 mmol/L is the hypoperfusion criterion of septic shock; docs/ARCHITECTURE.md sets ≥ 2 `warning`,
/// ≥ 4 `critical`.
final class LactateRuleTests: XCTestCase {
    let rule = LactateRule()
    let t0 = Date(timeIntervalSince1970: 1_795_400_000)

    func observation(_ id: String, _ value: Double, minutes: Double, subject: String = "LYS-01-003") -> Observation {
        Observation(id: id, subject: subject, time: t0.addingTimeInterval(minutes * 60), code: "lactate", value: .number(value), unit: "mmol/L")
    }

    func testThresholdsAreInclusive() {
        XCTAssertNil(rule.severity(mmolPerL: 1.99))
        XCTAssertEqual(rule.severity(mmolPerL: 2.0), .warning)
        XCTAssertEqual(rule.severity(mmolPerL: 3.99), .warning)
        XCTAssertEqual(rule.severity(mmolPerL: 4.0), .critical)
        XCTAssertEqual(rule.severity(mmolPerL: 12), .critical)
    }

    func testSignalStartsRisesFallsAndResolves() throws {
        let start = try XCTUnwrap(rule.evaluate(observation("L1", 2.5, minutes: 0), previous: nil, trial: "T", now: t0))
        XCTAssertEqual(start.alert?.severity, .warning)
        XCTAssertEqual(start.alert?.phase, .raised)
        XCTAssertEqual(start.state.since, t0)

        let same = try XCTUnwrap(rule.evaluate(observation("L2", 3.0, minutes: 60), previous: start.state, trial: "T", now: t0))
        XCTAssertNil(same.alert, "still warning: no re-notification")

        let rise = try XCTUnwrap(rule.evaluate(observation("L3", 4.6, minutes: 120), previous: same.state, trial: "T", now: t0))
        XCTAssertEqual(rise.alert?.severity, .critical, "severity rose: notify")
        XCTAssertEqual(rise.alert?.records, ["L3"])
        XCTAssertEqual(rise.state.since, t0, "the episode keeps its start")

        let fall = try XCTUnwrap(rule.evaluate(observation("L4", 2.4, minutes: 180), previous: rise.state, trial: "T", now: t0))
        XCTAssertNil(fall.alert, "a fall in severity is recorded without notifying")
        XCTAssertEqual(fall.state.severity, .warning)

        let end = try XCTUnwrap(rule.evaluate(observation("L5", 1.2, minutes: 240), previous: fall.state, trial: "T", now: t0))
        XCTAssertEqual(end.alert?.phase, .resolved)
        XCTAssertNil(end.state.severity)
        XCTAssertTrue(end.alert?.reason.contains(rise.alert!.id) ?? false, "the resolution names the alert that opened the episode")

        let quiet = try XCTUnwrap(rule.evaluate(observation("L6", 1.0, minutes: 300), previous: end.state, trial: "T", now: t0))
        XCTAssertNil(quiet.alert)
    }

    func testOlderObservationDoesNotOverrideNewerEvidence() throws {
        let current = try XCTUnwrap(rule.evaluate(observation("L1", 1.0, minutes: 60), previous: nil, trial: "T", now: t0))
        XCTAssertNil(rule.evaluate(observation("L0", 5.0, minutes: 0), previous: current.state, trial: "T", now: t0))
    }

    func testOnlyLactateIsEvaluated() {
        var other = observation("X", 5, minutes: 0)
        other.code = "potassium"
        XCTAssertNil(rule.evaluate(other, previous: nil, trial: "T", now: t0))
    }

    func testConfiguredThresholdsApply() {
        let strict = LactateRule(warningAtOrAbove: 1.5, criticalAtOrAbove: 3.0)
        XCTAssertEqual(strict.severity(mmolPerL: 1.6), .warning)
        XCTAssertEqual(strict.severity(mmolPerL: 3.0), .critical)
    }
}
