import XCTest
@testable import VigilCore

/// SCORTEN, docs/ARCHITECTURE.md §4. Source: Bastuji-Garin S, Fouchard N, Bertocchi M, Roujeau JC, Revuz J,
/// Wolkenstein P. SCORTEN: a severity-of-illness score for toxic epidermal necrolysis. J Invest Dermatol
/// 2000;115:149-153 (doi:10.1046/j.1523-1747.2000.00061.x). Abstract: age above 40 y, malignancy,
/// tachycardia above 120/min, initial epidermal detachment above 10 %, serum urea above 10 mmol/L,
/// serum glucose above 14 mmol/L, bicarbonate below 20 mmol/L; P(death) = e^logit / (1 + e^logit),
/// logit = −4.448 + 1.237 × SCORTEN. The age and heart-rate limits are inclusive (≥ 40, ≥ 120) in the
/// paper's table as reprinted by the MSD Manual (https://www.msdmanuals.com/uk/professional/multimedia/
/// table/severity-of-illness-score-for-toxic-epidermal-necrolysis-scorten) and in docs/ARCHITECTURE.md. That reprint
/// gives detachment as ≥ 10 %; the abstract and docs/ARCHITECTURE.md say above 10 %, which is tested here.
final class SCORTENTests: XCTestCase {
    let asOf = Date(timeIntervalSince1970: 1_795_400_000)

    func value(_ v: Double, hoursAgo: Double = 1) -> TimedValue {
        TimedValue(value: .number(v), time: asOf.addingTimeInterval(-hoursAgo * 3600), record: "R\(v)")
    }

    func snapshot(_ latest: [String: TimedValue], age: String? = "30", malignancy: String? = "false") -> SubjectSnapshot {
        var enrolment: [String: String] = [:]
        enrolment["age"] = age
        enrolment["malignancy"] = malignancy
        return SubjectSnapshot(subject: "LYS-01-011", asOf: asOf, latest: latest, enrolment: enrolment)
    }

    /// All seven laboratory and vital factors on the healthy side of their limits.
    var normal: [String: TimedValue] {
        ["heart_rate": value(90), "bsa_detached": value(5), "urea": value(6), "bicarbonate": value(24), "glucose": value(6)]
    }

    func points(_ result: ScoreResult, _ name: String) -> Int? {
        result.components.first { $0.name == name }?.points
    }

    // Worked example (every factor present; by hand from the paper's seven criteria): 52 years, active
    // malignancy, HR 124, 15 % detached, urea 12, bicarbonate 18, glucose 15 → SCORTEN 7.
    func testWorkedExampleAllFactors() {
        let inputs = ["heart_rate": value(124), "bsa_detached": value(15), "urea": value(12), "bicarbonate": value(18), "glucose": value(15)]
        let result = SCORTEN.evaluate(snapshot(inputs, age: "52", malignancy: "yes"))
        XCTAssertEqual(result.name, "SCORTEN")
        XCTAssertEqual(result.total, 7)
        XCTAssertEqual(result.components.count, 7)
        XCTAssertEqual(result.missing, [])
        XCTAssertEqual(result.components.first?.value, "52 years")
    }

    // Second worked example: a 45-year-old without malignancy, HR 100, 30 % detached, urea 11,
    // bicarbonate 22, glucose 8 → age, BSA and urea: SCORTEN 3 (predicted death 32.4 %).
    func testWorkedExampleScoreThree() {
        let inputs = ["heart_rate": value(100), "bsa_detached": value(30), "urea": value(11), "bicarbonate": value(22), "glucose": value(8)]
        let result = SCORTEN.evaluate(snapshot(inputs, age: "45", malignancy: "no"))
        XCTAssertEqual(result.total, 3)
        XCTAssertEqual(SCORTEN.predictedMortality(score: result.total), 0.3237, accuracy: 1e-3)
    }

    func testNormalSubjectScoresZero() {
        let result = SCORTEN.evaluate(snapshot(normal))
        XCTAssertEqual(result.total, 0)
        XCTAssertTrue(result.isComplete)
    }

    func testAgeBoundary() {
        XCTAssertEqual(points(SCORTEN.evaluate(snapshot(normal, age: "40")), "age ≥ 40"), 1)
        XCTAssertEqual(points(SCORTEN.evaluate(snapshot(normal, age: "39")), "age ≥ 40"), 0)
        XCTAssertEqual(points(SCORTEN.evaluate(snapshot(normal, age: "39.9")), "age ≥ 40"), 0)
    }

    func testFactorBoundaries() {
        let cases: [(code: String, name: String, value: Double, points: Int)] = [
            ("heart_rate", "heart rate ≥ 120", 120, 1), ("heart_rate", "heart rate ≥ 120", 119, 0),
            ("bsa_detached", "detached BSA > 10 %", 10, 0), ("bsa_detached", "detached BSA > 10 %", 10.1, 1),
            ("urea", "serum urea > 10", 10, 0), ("urea", "serum urea > 10", 10.1, 1),
            ("bicarbonate", "serum bicarbonate < 20", 20, 0), ("bicarbonate", "serum bicarbonate < 20", 19.9, 1),
            ("glucose", "serum glucose > 14", 14, 0), ("glucose", "serum glucose > 14", 14.1, 1),
        ]
        for c in cases {
            var inputs = normal
            inputs[c.code] = value(c.value)
            let result = SCORTEN.evaluate(snapshot(inputs))
            XCTAssertEqual(points(result, c.name), c.points, "\(c.code) \(c.value)")
            XCTAssertEqual(result.total, c.points, "\(c.code) \(c.value): only this factor can score")
        }
    }

    func testMalignancyAnswers() {
        for answer in ["true", "yes", "1", "Yes", " TRUE "] {
            XCTAssertEqual(points(SCORTEN.evaluate(snapshot(normal, malignancy: answer)), "malignancy"), 1, answer)
        }
        for answer in ["false", "no", "0", "No"] {
            XCTAssertEqual(points(SCORTEN.evaluate(snapshot(normal, malignancy: answer)), "malignancy"), 0, answer)
        }
        for answer in ["unknown", "", "maybe"] {
            let result = SCORTEN.evaluate(snapshot(normal, malignancy: answer))
            XCTAssertNil(points(result, "malignancy"), answer)
            XCTAssertEqual(result.missing, ["malignancy"], "an unreadable answer is unknown, not 'no'")
        }
    }

    func testMissingEnrolmentFacts() {
        let result = SCORTEN.evaluate(snapshot(normal, age: nil, malignancy: nil))
        XCTAssertEqual(result.missing, ["age", "malignancy"])
        XCTAssertEqual(result.components.count, 5)
        XCTAssertEqual(SCORTEN.evaluate(snapshot(normal, age: "forty")).missing, ["age"])
    }

    func testStaleValuesCountAsMissing() {
        var inputs = normal
        inputs["heart_rate"] = value(130, hoursAgo: 4.5)   // vitals: 4 h
        inputs["urea"] = value(15, hoursAgo: 25)           // labs: 24 h
        let result = SCORTEN.evaluate(snapshot(inputs, age: "60"))
        XCTAssertEqual(result.missing, ["heart_rate (stale)", "urea (stale)"])
        XCTAssertEqual(result.total, 1, "only age counts; the stale tachycardia and uraemia do not")

        inputs["heart_rate"] = value(130, hoursAgo: 3.5)
        XCTAssertEqual(SCORTEN.evaluate(snapshot(inputs, age: "60")).total, 2)
    }

    func testPartialScoreListsWhatIsMissing() {
        let result = SCORTEN.evaluate(snapshot(["heart_rate": value(125), "bsa_detached": value(40)], age: "70", malignancy: nil))
        XCTAssertEqual(result.total, 3, "a lower bound")
        XCTAssertFalse(result.isComplete)
        XCTAssertEqual(result.missing, ["malignancy", "urea", "bicarbonate", "glucose"])
    }

    // The logistic model of the paper, per score. The figures usually quoted with SCORTEN (0–1: 3.2 %,
    // 2: 12.1 %, 3: 35.3 %, 4: 58.3 %, ≥5: >90 %; MSD Manual reprint, with 95 % CIs such as 0.1–16.7 for
    // 0–1) are the observed death rates per score group in the paper's development sample, not the
    // model's output; the model gives 1.2/3.9, 12.2, 32.4, 62.2, 85.0 (95.1, 98.5) %.
    func testPredictedMortalityFollowsThePaperLogit() {
        let expected: [(Int, Double)] = [
            (0, 0.0116), (1, 0.0388), (2, 0.1220), (3, 0.3237), (4, 0.6225), (5, 0.8503), (6, 0.9514), (7, 0.9854),
        ]
        for (score, probability) in expected {
            XCTAssertEqual(SCORTEN.predictedMortality(score: score), probability, accuracy: 1e-3, "score \(score)")
        }
    }

    func testPredictedMortalityIsCloseToTheObservedRates() {
        // Within 1 (scores 1–2) or 5 (scores 3–4) percentage points of the observed group rates.
        XCTAssertEqual(SCORTEN.predictedMortality(score: 1), 0.032, accuracy: 0.01)
        XCTAssertEqual(SCORTEN.predictedMortality(score: 2), 0.121, accuracy: 0.01)
        XCTAssertEqual(SCORTEN.predictedMortality(score: 3), 0.353, accuracy: 0.05)
        XCTAssertEqual(SCORTEN.predictedMortality(score: 4), 0.583, accuracy: 0.05)
        XCTAssertGreaterThan(SCORTEN.predictedMortality(score: 6), 0.90)
    }
}
