import XCTest
@testable import VigilCore

/// SOFA, docs/ARCHITECTURE.md §4. Source: Vincent JL, Moreno R, Takala J, et al. The SOFA (Sepsis-related Organ
/// Failure Assessment) score to describe organ dysfunction/failure. Intensive Care Med 1996;22:707-710,
/// table 1, as reproduced in Singer M et al. (Sepsis-3), JAMA 2016;315(8):801-810, table 1
/// (https://pmc.ncbi.nlm.nih.gov/articles/PMC4968574/table/T1):
///   respiration PaO2/FiO2 ≥400 0, <400 1, <300 2, <200 with respiratory support 3, <100 with support 4;
///   platelets ×10^3/µL ≥150 0, <150 1, <100 2, <50 3, <20 4;
///   bilirubin mg/dL (µmol/L) <1.2 (20) 0, 1.2–1.9 (20–32) 1, 2.0–5.9 (33–101) 2, 6.0–11.9 (102–204) 3, >12.0 (204) 4;
///   MAP ≥70 0, MAP <70 1, dopamine ≤5 or dobutamine any 2, dopamine >5 or epinephrine ≤0.1 or
///   norepinephrine ≤0.1 3, dopamine >15 or epinephrine >0.1 or norepinephrine >0.1 4 (µg/kg/min);
///   GCS 15 0, 13–14 1, 10–12 2, 6–9 3, <6 4;
///   creatinine mg/dL <1.2 0, 1.2–1.9 1, 2.0–3.4 2, 3.5–4.9 or urine <500 mL/d 3, ≥5.0 or urine <200 mL/d 4.
/// (Sepsis-3's reprint writes the dopamine tiers as "<5" and "5.1–15"; Vincent 1996 and docs/ARCHITECTURE.md say
/// "≤5" and ">5", which is what is tested here: dopamine 5 scores 2.)
final class SOFAScoreTests: XCTestCase {
    let asOf = Date(timeIntervalSince1970: 1_795_400_000)

    func value(_ v: Double, hoursAgo: Double = 0.5, record: String? = nil) -> TimedValue {
        TimedValue(value: .number(v), time: asOf.addingTimeInterval(-hoursAgo * 3600), record: record ?? "R\(v)")
    }

    func snapshot(_ latest: [String: TimedValue]) -> SubjectSnapshot {
        SubjectSnapshot(subject: "LYS-01-007", asOf: asOf, latest: latest)
    }

    func component(_ result: ScoreResult, _ name: String) -> ScoreComponent? {
        result.components.first { $0.name == name }
    }

    var completeInputs: [String: TimedValue] {
        [
            "pao2": value(80, record: "ABG-1"), "fio2": value(0.5),
            "respiratory_support": TimedValue(value: .flag(true), time: asOf.addingTimeInterval(-600), record: "VENT-1"),
            "platelets": value(90), "bilirubin": value(40), "mean_arterial_pressure": value(65), "norepinephrine": value(0.05, record: "NE-1"),
            "gcs": value(13), "creatinine": value(200), "urine_output": value(400, record: "UO-1"),
        ]
    }

    // Worked example, scored by hand from Vincent 1996 table 1: PaO2/FiO2 80/0.5 = 160 on respiratory
    // support → 3; platelets 90 → 2; bilirubin 40 µmol/L = 2.34 mg/dL → 2; MAP 65 on norepinephrine
    // 0.05 → 3; GCS 13 → 1; creatinine 200 µmol/L = 2.26 mg/dL → 2 but urine 400 mL/d → 3. Total 14.
    func testWorkedExampleScoresEveryOrgan() throws {
        let result = SOFAScore.evaluate(snapshot(completeInputs))
        XCTAssertEqual(result.name, "SOFA")
        XCTAssertEqual(result.components.map(\.name), ["respiration", "coagulation", "liver", "cardiovascular", "cns", "renal"])
        XCTAssertEqual(result.components.map(\.points), [3, 2, 2, 3, 1, 3])
        XCTAssertEqual(result.total, 14)
        XCTAssertEqual(result.missing, [])
        XCTAssertTrue(result.isComplete)

        let respiration = try XCTUnwrap(component(result, "respiration"))
        XCTAssertEqual(respiration.value, "PaO2/FiO2 160 mmHg (PaO2 80 mmHg, FiO2 0.5), respiratory support")
        XCTAssertEqual(respiration.record, "ABG-1", "cites the blood gas")
        let cardiovascular = try XCTUnwrap(component(result, "cardiovascular"))
        XCTAssertEqual(cardiovascular.value, "MAP 65 mmHg, norepinephrine 0.05 µg/kg/min")
        XCTAssertEqual(cardiovascular.record, "NE-1", "cites the vasopressor that set the points")
        let renal = try XCTUnwrap(component(result, "renal"))
        XCTAssertEqual(renal.value, "creatinine 200 µmol/L (2.262 mg/dL), urine output 400 mL/24 h")
        XCTAssertEqual(renal.record, "UO-1", "cites urine output, which set the points")
        XCTAssertEqual(component(result, "liver")?.value, "bilirubin 40 µmol/L (2.339 mg/dL)")
    }

    func testRespirationBoundaries() {
        let cases: [(Double, Bool, Int)] = [
            (400, true, 0), (399.9, true, 1), (300, true, 1), (299.9, true, 2), (200, true, 2),
            (199.9, true, 3), (100, true, 3), (99.9, true, 4),
            // Without respiratory support the score stops at 2.
            (199.9, false, 2), (99.9, false, 2), (299.9, false, 2), (300, false, 1),
        ]
        for (ratio, support, points) in cases {
            XCTAssertEqual(SOFAScore.respirationPoints(pfRatio: ratio, respiratorySupport: support), points, "P/F \(ratio), support \(support)")
        }
    }

    func testRespiratorySupportMissingIsTreatedAsUnsupportedAndNotListed() throws {
        var inputs = completeInputs
        inputs["respiratory_support"] = nil
        let result = SOFAScore.evaluate(snapshot(inputs))
        let respiration = try XCTUnwrap(component(result, "respiration"))
        XCTAssertEqual(respiration.points, 2, "P/F 160 without support is capped at 2")
        XCTAssertTrue(respiration.value.contains("no respiratory support (capped at 2)"), respiration.value)
        XCTAssertEqual(result.missing, [])

        inputs["respiratory_support"] = TimedValue(value: .flag(false), time: asOf, record: "V0")
        XCTAssertEqual(component(SOFAScore.evaluate(snapshot(inputs)), "respiration")?.points, 2)
    }

    func testCoagulationBoundaries() {
        let cases: [(Double, Int)] = [(150, 0), (149.9, 1), (100, 1), (99.9, 2), (50, 2), (49.9, 3), (20, 3), (19.9, 4), (0, 4)]
        for (platelets, points) in cases {
            XCTAssertEqual(SOFAScore.coagulationPoints(platelets: platelets), points, "platelets \(platelets)")
        }
    }

    // Bilirubin arrives in µmol/L and is scored on the published mg/dL limits (÷ 17.1).
    func testLiverBoundariesOnMgPerDLLimits() {
        let cases: [(Double, Int)] = [
            (20.5, 0), (1.2 * 17.1, 1), (20.52, 1),    // 1.2 mg/dL = 20.52 µmol/L
            (34.1, 1), (34.2, 2),                       // 2.0 mg/dL = 34.2 µmol/L
            (102.5, 2), (102.6, 3),                     // 6.0 mg/dL = 102.6 µmol/L
            (205.1, 3), (205.2, 4), (12 * 17.1, 4),     // 12.0 mg/dL = 205.2 µmol/L
        ]
        for (micromol, points) in cases {
            XCTAssertEqual(SOFAScore.liverPoints(bilirubinMicromolPerL: micromol), points, "bilirubin \(micromol) µmol/L")
        }
    }

    // The paper's µmol/L column agrees with the mg/dL bands inside each band; at its rounded edges
    // (20, 33, 102) it does not, and the mg/dL limits win (documented difference).
    func testLiverAgreesWithPublishedMicromolColumnInsideBands() {
        let inside: [(Double, Int)] = [(10, 0), (19, 0), (25, 1), (32, 1), (50, 2), (101, 2), (150, 3), (204, 3), (250, 4)]
        for (micromol, points) in inside {
            XCTAssertEqual(SOFAScore.liverPoints(bilirubinMicromolPerL: micromol), points, "bilirubin \(micromol) µmol/L")
        }
        XCTAssertEqual(SOFAScore.liverPoints(bilirubinMicromolPerL: 20), 0, "20 µmol/L = 1.17 mg/dL < 1.2")
        XCTAssertEqual(SOFAScore.liverPoints(bilirubinMicromolPerL: 33), 1, "33 µmol/L = 1.93 mg/dL < 2.0")
        XCTAssertEqual(SOFAScore.liverPoints(bilirubinMicromolPerL: 102), 2, "102 µmol/L = 5.96 mg/dL < 6.0")
    }

    func testCardiovascularBoundaries() {
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 70), 0)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 69.9), 1)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, dopamine: 5), 2)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, dopamine: 5.1), 3)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, dopamine: 15), 3)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, dopamine: 15.1), 4)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, dobutamine: 0.5), 2)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, dobutamine: 20), 2, "dobutamine scores 2 at any dose")
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, epinephrine: 0.1), 3)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, epinephrine: 0.11), 4)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, norepinephrine: 0.1), 3)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 80, norepinephrine: 0.11), 4)
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 60, dobutamine: 5, norepinephrine: 0.2), 4, "the highest tier wins")
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: 75, dopamine: 0, epinephrine: 0, norepinephrine: 0), 0, "a dose of 0 is not running")
        XCTAssertEqual(SOFAScore.cardiovascularPoints(map: nil, norepinephrine: 0.05), 3)
    }

    func testVasopressorWithoutMAPIsStillScored() throws {
        var inputs = completeInputs
        inputs["mean_arterial_pressure"] = nil
        inputs["norepinephrine"] = value(0.3, record: "NE-2")
        let result = SOFAScore.evaluate(snapshot(inputs))
        let cardiovascular = try XCTUnwrap(component(result, "cardiovascular"))
        XCTAssertEqual(cardiovascular.points, 4)
        XCTAssertEqual(cardiovascular.value, "MAP not available, norepinephrine 0.3 µg/kg/min")
        XCTAssertEqual(result.missing, [], "MAP cannot raise the points above a running vasopressor's")
    }

    func testMAPMissingWithoutVasopressorIsMissing() {
        var inputs = completeInputs
        inputs["mean_arterial_pressure"] = nil
        inputs["norepinephrine"] = value(0)
        let result = SOFAScore.evaluate(snapshot(inputs))
        XCTAssertNil(component(result, "cardiovascular"))
        XCTAssertEqual(result.missing, ["mean_arterial_pressure"])
        XCTAssertEqual(result.total, 14 - 3)
    }

    func testStaleRunningVasopressorIsListedAsStale() throws {
        var inputs = completeInputs
        inputs["norepinephrine"] = value(0.2, hoursAgo: 5)   // vasopressors are vitals: 4 h window
        let result = SOFAScore.evaluate(snapshot(inputs))
        XCTAssertEqual(component(result, "cardiovascular")?.points, 1, "only MAP 65 is current")
        XCTAssertEqual(result.missing, ["norepinephrine (stale)"])

        inputs["norepinephrine"] = value(0, hoursAgo: 5)
        XCTAssertEqual(SOFAScore.evaluate(snapshot(inputs)).missing, [], "an old stopped infusion is not a missing input")
    }

    func testCNSBoundaries() {
        let cases: [(Double, Int)] = [(15, 0), (14, 1), (13, 1), (12, 2), (10, 2), (9, 3), (6, 3), (5, 4), (3, 4)]
        for (gcs, points) in cases {
            XCTAssertEqual(SOFAScore.cnsPoints(gcs: gcs), points, "GCS \(gcs)")
        }
    }

    // Creatinine arrives in µmol/L and is scored on the published mg/dL limits (÷ 88.4).
    func testRenalCreatinineBoundaries() {
        let cases: [(Double, Int)] = [
            (106, 0), (106.08, 1), (1.2 * 88.4, 1),     // 1.2 mg/dL = 106.08 µmol/L
            (176.7, 1), (176.8, 2),                     // 2.0 mg/dL = 176.8 µmol/L
            (309.3, 2), (309.4, 3), (3.5 * 88.4, 3),    // 3.5 mg/dL = 309.4 µmol/L
            (441.9, 3), (442, 4),                       // 5.0 mg/dL = 442 µmol/L
        ]
        for (micromol, points) in cases {
            XCTAssertEqual(SOFAScore.renalPoints(creatinineMicromolPerL: micromol), points, "creatinine \(micromol) µmol/L")
        }
    }

    func testRenalUrineOutputBoundaries() {
        let cases: [(Double, Int)] = [(500, 0), (499.9, 3), (200, 3), (199.9, 4), (0, 4)]
        for (urine, points) in cases {
            XCTAssertEqual(SOFAScore.renalPoints(urineOutputMLPerDay: urine), points, "urine \(urine) mL/d")
        }
    }

    func testRenalTakesTheHigherOfCreatinineAndUrine() {
        var inputs = completeInputs
        inputs["creatinine"] = value(80)
        inputs["urine_output"] = value(150)
        XCTAssertEqual(component(SOFAScore.evaluate(snapshot(inputs)), "renal")?.points, 4, "urine wins")
        inputs["creatinine"] = value(450)
        inputs["urine_output"] = value(1500)
        XCTAssertEqual(component(SOFAScore.evaluate(snapshot(inputs)), "renal")?.points, 4, "creatinine wins")
    }

    func testRenalMissingInputs() {
        var inputs = completeInputs
        inputs["urine_output"] = nil
        var result = SOFAScore.evaluate(snapshot(inputs))
        XCTAssertEqual(component(result, "renal")?.points, 2)
        XCTAssertEqual(result.missing, [], "urine output is not missing when creatinine is present")

        inputs["creatinine"] = nil
        inputs["urine_output"] = value(300)
        result = SOFAScore.evaluate(snapshot(inputs))
        XCTAssertEqual(component(result, "renal")?.points, 3)
        XCTAssertEqual(result.missing, ["creatinine"], "creatinine could still raise the renal score")

        inputs["urine_output"] = nil
        result = SOFAScore.evaluate(snapshot(inputs))
        XCTAssertNil(component(result, "renal"))
        XCTAssertEqual(result.missing, ["creatinine", "urine_output"])
    }

    func testStaleValuesCountAsMissing() {
        var inputs = completeInputs
        inputs["gcs"] = value(5, hoursAgo: 4.5)          // vitals: 4 h
        inputs["pao2"] = value(50, hoursAgo: 6.5)        // blood gas: 6 h
        inputs["platelets"] = value(10, hoursAgo: 25)    // labs: 24 h
        let result = SOFAScore.evaluate(snapshot(inputs))
        XCTAssertEqual(result.missing, ["pao2 (stale)", "platelets (stale)", "gcs (stale)"])
        XCTAssertNil(component(result, "respiration"))
        XCTAssertNil(component(result, "coagulation"))
        XCTAssertNil(component(result, "cns"))
        XCTAssertEqual(result.total, 2 + 3 + 3, "liver, cardiovascular and renal only")

        // Inside the window the same values count.
        inputs["gcs"] = value(5, hoursAgo: 3.9)
        XCTAssertEqual(component(SOFAScore.evaluate(snapshot(inputs)), "cns")?.points, 4)
    }

    func testPartialScoreListsWhatIsMissing() {
        let result = SOFAScore.evaluate(snapshot(["platelets": value(45), "gcs": value(11)]))
        XCTAssertEqual(result.components.map(\.name), ["coagulation", "cns"])
        XCTAssertEqual(result.total, 3 + 2, "a lower bound")
        XCTAssertFalse(result.isComplete)
        XCTAssertEqual(result.missing, ["pao2", "fio2", "bilirubin", "mean_arterial_pressure", "creatinine", "urine_output"])
    }

    func testEmptySnapshotScoresZeroWithEverythingMissing() {
        let result = SOFAScore.evaluate(snapshot([:]))
        XCTAssertEqual(result.total, 0)
        XCTAssertTrue(result.components.isEmpty)
        XCTAssertEqual(result.missing, ["pao2", "fio2", "platelets", "bilirubin", "mean_arterial_pressure", "gcs", "creatinine", "urine_output"])
    }
}
