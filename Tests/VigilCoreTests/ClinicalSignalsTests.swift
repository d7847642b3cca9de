import XCTest
@testable import VigilCore

/// Signals of docs/ARCHITECTURE.md §4 on snapshots, and the Alertmanager-style lifecycle of `SignalEngine`.
final class ClinicalSignalsTests: XCTestCase {
    let signals = ClinicalSignals(rules: ClinicalRules())

    func reading(_ rule: String, _ snapshot: SubjectSnapshot, baseline: Int = 0, infection: [Evidence] = []) -> SignalReading? {
        signals.readings(snapshot, sofaBaseline: baseline, infection: infection).first { $0.rule == rule }
    }

    func testNEWS2SingleParameterOfThreeIsAWarning() {
        var values = Snap.calm
        values["systolic_bp"] = .number(90)  // 3 points, total 3
        XCTAssertEqual(reading("news2", Snap.make(values))?.severity, .warning)
        values["systolic_bp"] = .number(91)  // 2 points
        XCTAssertNil(reading("news2", Snap.make(values))?.severity)
    }

    func testIncompleteScoreBelowThresholdIsInconclusive() {
        var values = Snap.calm
        values.removeValue(forKey: "temperature")
        let partial = reading("news2", Snap.make(values))
        XCTAssertNil(partial?.severity)
        XCTAssertEqual(partial?.conclusive, false, "a missing parameter may hide points: never normal")
        XCTAssertEqual(reading("news2", Snap.make(Snap.calm))?.conclusive, true)
    }

    /// Sepsis-3 (Singer et al., JAMA 2016): SOFA rise ≥ 2 over baseline with suspected infection.
    func testPossibleSepsisNeedsBothRiseAndInfection() {
        let organs: [String: ObservationValue] = ["platelets": .number(90), "creatinine": .number(150)]  // coagulation 2, renal 1
        let snapshot = Snap.make(organs)
        let culture = [Evidence(label: "blood culture", value: "positive", time: Snap.asOf, record: "BC-1")]
        XCTAssertEqual(reading("sofa-sepsis", snapshot, baseline: 0, infection: culture)?.severity, .critical)
        XCTAssertNil(reading("sofa-sepsis", snapshot, baseline: 2, infection: culture)?.severity, "rise 1 < 2")
        let noInfection = reading("sofa-sepsis", snapshot, baseline: 0, infection: [])
        XCTAssertNil(noInfection?.severity)
        XCTAssertEqual(noInfection?.conclusive, false, "an incomplete SOFA cannot end the signal")
    }

    func testSuspectedInfectionSources() {
        let snapshot = Snap.make(["procalcitonin": .number(0.6), "crp": .number(250), "blood_culture": .text("negative")])
        let found = signals.suspectedInfection(snapshot, adverseEvents: [
            AdverseEvent(id: "AE-1", subject: "LYS-01-001", onset: "2026-11-22", onsetTime: Snap.asOf.addingTimeInterval(-86400), term: "Staphylococcal sepsis",
                         meddraPT: nil, grade: 3, serious: [], related: nil, expected: nil, outcome: "not recovered", aware: nil),
            AdverseEvent(id: "AE-2", subject: "LYS-01-001", onset: "2026-11-20", onsetTime: Snap.asOf.addingTimeInterval(-3 * 86400), term: "Cellulitis",
                         meddraPT: nil, grade: 2, serious: [], related: nil, expected: nil, outcome: "recovered/resolved", aware: nil),
        ])
        XCTAssertEqual(found.map(\.label), ["procalcitonin", "adverse event"], "PCT 0.6 > 0.5; CRP off by default; resolved AE ignored")
        XCTAssertTrue(signals.suspectedInfection(Snap.make(["procalcitonin": .number(0.5)]), adverseEvents: []).isEmpty, "0.5 is not above 0.5")
    }

    func testSepticShockNeedsPressorLowMAPAndLactate() {
        let shock = Snap.make(["mean_arterial_pressure": .number(64), "norepinephrine": .number(0.1), "lactate": .number(2.1)])
        XCTAssertEqual(reading("septic-shock", shock)?.severity, .critical)
        XCTAssertNil(reading("septic-shock", Snap.make(["mean_arterial_pressure": .number(65), "norepinephrine": .number(0.1), "lactate": .number(3)]))?.severity)
        XCTAssertNil(reading("septic-shock", Snap.make(["mean_arterial_pressure": .number(60), "norepinephrine": .number(0), "lactate": .number(3)]))?.severity)
        XCTAssertNil(reading("septic-shock", Snap.make(["mean_arterial_pressure": .number(60), "norepinephrine": .number(0.2), "lactate": .number(2.0)]))?.severity)
    }

    func testICUTransferSignals() {
        XCTAssertEqual(reading("bsa-detached", Snap.make(["bsa_detached": .number(30)]))?.severity, .critical)
        XCTAssertNil(reading("bsa-detached", Snap.make(["bsa_detached": .number(29)]))?.severity)
        XCTAssertEqual(reading("spo2-on-oxygen", Snap.make(["spo2": .number(91), "oxygen": .flag(true)]))?.severity, .critical)
        XCTAssertNil(reading("spo2-on-oxygen", Snap.make(["spo2": .number(91), "oxygen": .flag(false)]))?.severity, "on air: NEWS2's business")
        XCTAssertNil(reading("spo2-on-oxygen", Snap.make(["spo2": .number(92), "oxygen": .flag(true)]))?.severity)
        XCTAssertEqual(reading("blood-culture", Snap.make(["blood_culture": .text("positive")]))?.severity, .critical)
    }

    func testCTCAEGradeThreeWarnsAndFourIsCritical() {
        XCTAssertEqual(reading("ctcae-platelets", Snap.make(["platelets": .number(45)]))?.severity, .warning)
        XCTAssertEqual(reading("ctcae-platelets", Snap.make(["platelets": .number(20)]))?.severity, .critical)
        XCTAssertNil(reading("ctcae-platelets", Snap.make(["platelets": .number(60)]))?.severity)
    }

    func testStaleValuesRaiseNothing() {
        let stale = Snap.make(["lactate": .number(6)], stale: ["lactate": 7 * 60])
        XCTAssertNil(reading("lactate", stale), "a 7-hour-old blood gas is past the 6-hour window")
    }

    func testEngineLifecycle() throws {
        let t = Snap.asOf
        func r(_ severity: Severity?, conclusive: Bool = true, minutes: Double) -> SignalReading {
            SignalReading(rule: "news2", subject: "S", severity: severity, conclusive: conclusive, value: "", title: "t", reason: "r", action: "a",
                          evidence: [], evidenceTime: t.addingTimeInterval(minutes * 60), records: ["R\(Int(minutes))"])
        }
        let start = try XCTUnwrap(SignalEngine.advance(r(.warning, minutes: 0), previous: nil, trial: "T", now: t))
        XCTAssertEqual(start.alert?.severity, .warning)
        XCTAssertNil(SignalEngine.advance(r(nil, conclusive: false, minutes: 10), previous: start.state, trial: "T", now: t), "inconclusive: nothing changes")
        let rise = try XCTUnwrap(SignalEngine.advance(r(.critical, minutes: 20), previous: start.state, trial: "T", now: t))
        XCTAssertEqual(rise.alert?.severity, .critical)
        XCTAssertNil(SignalEngine.advance(r(.critical, minutes: 5), previous: rise.state, trial: "T", now: t), "older evidence ignored")
        let end = try XCTUnwrap(SignalEngine.advance(r(nil, minutes: 30), previous: rise.state, trial: "T", now: t))
        XCTAssertEqual(end.alert?.phase, .resolved)
        XCTAssertEqual(end.alert?.severity, .critical)
    }

    /// A value hovering around a threshold: with a 2-h hold-down each return continues the episode
    /// (journal only) until the signal stays away longer than the hold-down or rises above its peak.
    func testHoldDownTurnsFlappingIntoOneEpisode() throws {
        let t = Snap.asOf
        func r(_ severity: Severity?, minutes: Double) -> SignalReading {
            SignalReading(rule: "lactate", subject: "S", severity: severity, value: "", title: "t", reason: "r", action: "a",
                          evidence: [], evidenceTime: t.addingTimeInterval(minutes * 60), records: ["R\(Int(minutes))"])
        }
        let holdDown: TimeInterval = 2 * 3600
        var state: SignalState? = nil
        var phases: [Alert.Phase] = []
        var opening: String?
        for step in 0..<24 {
            let outcome = try XCTUnwrap(SignalEngine.advance(r(step.isMultiple(of: 2) ? .warning : nil, minutes: Double(step * 30)), previous: state, trial: "T", now: t, holdDown: holdDown))
            state = outcome.state
            if let alert = outcome.alert {
                phases.append(alert.phase)
                if alert.phase == .raised { opening = alert.id }
            }
        }
        XCTAssertEqual(phases.filter { $0 == .raised }.count, 1, "one alert for 12 h of 1.9/2.1")
        XCTAssertEqual(phases.filter { $0 == .reentered }.count, 11)
        XCTAssertEqual(phases.filter { $0 == .resolved }.count, 12)
        XCTAssertEqual(state?.endedAlertID, opening, "every return continued the first episode")

        // A return above the episode's peak is a rise: raised, with mail.
        let rise = try XCTUnwrap(SignalEngine.advance(r(.critical, minutes: 24 * 30 + 10), previous: state, trial: "T", now: t, holdDown: holdDown))
        XCTAssertEqual(rise.alert?.phase, .raised)
        XCTAssertEqual(rise.alert?.severity, .critical)
        // A return after the hold-down has passed is a new episode.
        let end = try XCTUnwrap(SignalEngine.advance(r(nil, minutes: 800), previous: rise.state, trial: "T", now: t, holdDown: holdDown))
        let late = try XCTUnwrap(SignalEngine.advance(r(.warning, minutes: 800 + 121), previous: end.state, trial: "T", now: t, holdDown: holdDown))
        XCTAssertEqual(late.alert?.phase, .raised)
        let within = try XCTUnwrap(SignalEngine.advance(r(.warning, minutes: 800 + 119), previous: end.state, trial: "T", now: t, holdDown: holdDown))
        XCTAssertEqual(within.alert?.phase, .reentered, "119 min after the end is inside a 120-min hold-down")
        // Without a hold-down (0) every return is raised.
        let plain = try XCTUnwrap(SignalEngine.advance(r(.warning, minutes: 800 + 30), previous: end.state, trial: "T", now: t, holdDown: 0))
        XCTAssertEqual(plain.alert?.phase, .raised)
    }
}
