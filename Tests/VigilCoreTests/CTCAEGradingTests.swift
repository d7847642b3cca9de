import XCTest
@testable import VigilCore

/// CTCAE v5.0 laboratory grades, docs/ARCHITECTURE.md §4. Source: U.S. Department of Health and Human Services,
/// NIH/NCI. Common Terminology Criteria for Adverse Events (CTCAE) Version 5.0, published November 27,
/// 2017 (https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm#ctc_50). Boundaries
/// checked against the v5.0 term table as transcribed in github.com/oncohub/CTCAE5 (ctcaev5.js), and
/// the sodium/potassium rules against github.com/PharmaForest/ctcae5_grader (ctcae5_na.sas, ctcae5_k.sas):
///   Platelet count decreased   <LLN–75.0 | <75.0–50.0 | <50.0–25.0 | <25.0 ×10e9/L
///   Neutrophil count decreased <LLN–1.5 | <1.5–1.0 | <1.0–0.5 | <0.5 ×10e9/L
///   White blood cell decreased <LLN–3.0 | <3.0–2.0 | <2.0–1.0 | <1.0 ×10e9/L
///   Anemia                     Hgb <LLN–10.0 | <10.0–8.0 | <8.0 g/dL | grade 4 "life-threatening consequences" (no lab value)
///   ALT / AST increased        >ULN–3.0 | >3.0–5.0 | >5.0–20.0 | >20.0 ×ULN "if baseline was normal"
///   Blood bilirubin increased  >ULN–1.5 | >1.5–3.0 | >3.0–10.0 | >10.0 ×ULN "if baseline was normal"
///   Creatinine increased       >ULN–1.5 | >1.5–3.0 | >3.0–6.0 | >6.0 ×ULN (grades 2–3 also ">1.5–3.0 × baseline", ">3.0 × baseline")
///   Hyperkalemia               >ULN–5.5 | >5.5–6.0 | >6.0–7.0 | >7.0 mmol/L
///   Hypokalemia                <LLN–3.0 | "symptomatic with <LLN–3.0" | <3.0–2.5 | <2.5 mmol/L
///   Hypernatremia              >ULN–150 | >150–155 | >155–160 | >160 mmol/L
///   Hyponatremia               <LLN–130 | "125–129 mmol/L and asymptomatic" | "125–129 symptomatic; 120–124 regardless of
///                              symptoms" | <120 mmol/L
final class CTCAEGradingTests: XCTestCase {
    let grading = CTCAEGrading()

    func grade(_ code: String, _ value: Double, low: Double? = nil, high: Double? = nil) -> Int? {
        grading.grade(code: code, value: value, low: low, high: high)?.grade
    }

    func assertGrades(_ code: String, low: Double? = nil, high: Double? = nil, _ cases: [(Double, Int?)], file: StaticString = #filePath, line: UInt = #line) {
        for (value, expected) in cases {
            XCTAssertEqual(grade(code, value, low: low, high: high), expected, "\(code) \(value)", file: file, line: line)
        }
    }

    func testPlateletCountDecreased() {
        assertGrades("platelets", low: 150, [
            (150, nil), (149.9, 1), (75, 1), (74.9, 2), (50, 2), (49.9, 3), (25, 3), (24.9, 4), (0, 4), (400, nil),
        ])
        XCTAssertEqual(grading.grade(code: "platelets", value: 40, low: 150, high: 400), CTCAEGrade(term: "Platelet count decreased", grade: 3))
    }

    func testNeutrophilCountDecreased() {
        assertGrades("neutrophils", low: 2.0, [
            (2.0, nil), (1.99, 1), (1.5, 1), (1.49, 2), (1.0, 2), (0.99, 3), (0.5, 3), (0.49, 4),
        ])
        XCTAssertEqual(grading.grade(code: "neutrophils", value: 0.3, low: nil, high: nil)?.term, "Neutrophil count decreased")
    }

    func testWhiteBloodCellDecreased() {
        assertGrades("wbc", low: 4.0, [
            (4.0, nil), (3.9, 1), (3.0, 1), (2.99, 2), (2.0, 2), (1.99, 3), (1.0, 3), (0.99, 4), (15, nil),
        ])
        XCTAssertEqual(grading.grade(code: "wbc", value: 2.5, low: 4, high: 11)?.term, "White blood cell decreased")
    }

    func testAnemiaHasNoLaboratoryGradeFour() {
        assertGrades("hemoglobin", low: 13.0, [
            (13.0, nil), (12.9, 1), (10.0, 1), (9.9, 2), (8.0, 2), (7.9, 3), (4.0, 3),
        ])
        XCTAssertEqual(grading.grade(code: "hemoglobin", value: 9, low: 12, high: 16)?.term, "Anemia")
    }

    func testAminotransferasesIncreased() {
        for (code, term) in [("alt", "Alanine aminotransferase increased"), ("ast", "Aspartate aminotransferase increased")] {
            // ULN 40 U/L: 3.0× = 120, 5.0× = 200, 20.0× = 800.
            assertGrades(code, high: 40, [
                (40, nil), (41, 1), (120, 1), (121, 2), (200, 2), (201, 3), (800, 3), (801, 4), (10, nil),
            ])
            XCTAssertEqual(grading.grade(code: code, value: 250, low: 7, high: 40)?.term, term)
        }
    }

    func testBloodBilirubinIncreased() {
        // ULN 21 µmol/L: 1.5× = 31.5, 3.0× = 63, 10.0× = 210.
        assertGrades("bilirubin", high: 21, [
            (21, nil), (21.1, 1), (31.5, 1), (31.6, 2), (63, 2), (63.1, 3), (210, 3), (210.1, 4),
        ])
        XCTAssertEqual(grading.grade(code: "bilirubin", value: 70, low: nil, high: 21)?.term, "Blood bilirubin increased")
    }

    func testCreatinineIncreased() {
        // ULN 90 µmol/L: 1.5× = 135, 3.0× = 270, 6.0× = 540.
        assertGrades("creatinine", high: 90, [
            (90, nil), (90.1, 1), (135, 1), (135.1, 2), (270, 2), (270.1, 3), (540, 3), (540.1, 4),
        ])
        XCTAssertEqual(grading.grade(code: "creatinine", value: 300, low: 45, high: 90)?.term, "Creatinine increased")
    }

    // Laboratory values exactly on a multiple whose quotient is not exact in binary floating point
    // (26.1 / 17.4 = 1.5000000000000002) must stay on the boundary, i.e. in the lower grade.
    func testExactMultiplesOfAnAwkwardULNStayOnTheBoundary() {
        XCTAssertEqual(grade("bilirubin", 26.1, high: 17.4), 1, "1.5 × 17.4")
        XCTAssertEqual(grade("bilirubin", 52.2, high: 17.4), 2, "3.0 × 17.4")
        XCTAssertEqual(grade("creatinine", 120.9, high: 80.6), 1, "1.5 × 80.6")
        XCTAssertEqual(grade("creatinine", 241.8, high: 80.6), 2, "3.0 × 80.6")
        XCTAssertEqual(grade("creatinine", 483.6, high: 80.6), 3, "6.0 × 80.6")
    }

    func testHyperkalemia() {
        assertGrades("potassium", low: 3.5, high: 5.1, [
            (5.1, nil), (5.2, 1), (5.5, 1), (5.51, 2), (6.0, 2), (6.01, 3), (7.0, 3), (7.01, 4),
        ])
        XCTAssertEqual(grading.grade(code: "potassium", value: 6.5, low: 3.5, high: 5.1)?.term, "Hyperkalemia")
    }

    // Grade 2 hypokalaemia needs symptoms, so a value alone jumps from 1 to 3.
    func testHypokalemia() {
        assertGrades("potassium", low: 3.5, high: 5.1, [
            (3.5, nil), (3.49, 1), (3.0, 1), (2.99, 3), (2.5, 3), (2.49, 4), (4.2, nil),
        ])
        XCTAssertEqual(grading.grade(code: "potassium", value: 3.2, low: 3.5, high: 5.1)?.term, "Hypokalemia")
    }

    func testHypernatremia() {
        assertGrades("sodium", low: 135, high: 145, [
            (145, nil), (146, 1), (150, 1), (150.1, 2), (155, 2), (155.1, 3), (160, 3), (160.1, 4),
        ])
        XCTAssertEqual(grading.grade(code: "sodium", value: 152, low: 135, high: 145)?.term, "Hypernatremia")
    }

    // 125–129 is grade 2 when asymptomatic (grade 3 if symptomatic): the value alone gives 2.
    func testHyponatremia() {
        assertGrades("sodium", low: 135, high: 145, [
            (135, nil), (134, 1), (130, 1), (129.9, 2), (129, 2), (125, 2), (124.9, 3), (124, 3), (120, 3), (119.9, 4),
        ])
        XCTAssertEqual(grading.grade(code: "sodium", value: 127, low: 135, high: 145)?.term, "Hyponatremia")
    }

    func testRecordLimitsOverrideDefaults() {
        // Default platelet LLN is 150; a laboratory LLN of 140 makes 145 normal.
        XCTAssertEqual(grade("platelets", 145), 1)
        XCTAssertNil(grade("platelets", 145, low: 140))
        // Default ALT ULN is 40; a laboratory ULN of 55 moves every multiple.
        XCTAssertEqual(grade("alt", 50), 1)
        XCTAssertNil(grade("alt", 50, high: 55))
        XCTAssertEqual(grade("alt", 121), 2)
        XCTAssertEqual(grade("alt", 121, high: 55), 1)
        // One bound given: the other still comes from the defaults (sodium ULN 145).
        XCTAssertEqual(grade("sodium", 148, low: 133), 1)
    }

    func testDefaultLimitsAreUsedWhenTheResultHasNone() {
        XCTAssertEqual(grade("neutrophils", 1.8), 1, "default LLN 2.0")
        XCTAssertEqual(grade("wbc", 3.5), 1, "default LLN 4.0")
        XCTAssertEqual(grade("hemoglobin", 11.5), 1, "default LLN 12.0")
        XCTAssertEqual(grade("bilirubin", 25), 1, "default ULN 21")
        XCTAssertEqual(grade("creatinine", 110), 1, "default ULN 106")
        XCTAssertEqual(grade("potassium", 5.2), 1, "default ULN 5.0")
        XCTAssertEqual(grade("potassium", 3.4), 1, "default LLN 3.5")
        XCTAssertEqual(grade("sodium", 134), 1, "default LLN 135")
        XCTAssertNil(grade("sodium", 140))
    }

    func testAbsoluteBandsApplyWithoutAnyLimits() {
        let bare = CTCAEGrading(defaultLimits: [:])
        XCTAssertNil(bare.grade(code: "platelets", value: 100, low: nil, high: nil), "grade 1 needs an LLN")
        XCTAssertEqual(bare.grade(code: "platelets", value: 60, low: nil, high: nil)?.grade, 2)
        XCTAssertEqual(bare.grade(code: "potassium", value: 6.2, low: nil, high: nil)?.grade, 3)
        XCTAssertNil(bare.grade(code: "alt", value: 5000, low: nil, high: nil), "×ULN grades need a ULN")
        XCTAssertNil(bare.grade(code: "creatinine", value: 500, low: nil, high: 0), "a ULN of 0 is unusable")
    }

    func testUngradedCodesAndNonFiniteValues() {
        XCTAssertNil(grading.grade(code: "lactate", value: 9, low: 0.5, high: 2.2))
        XCTAssertNil(grading.grade(code: "heart_rate", value: 180, low: nil, high: nil))
        XCTAssertNil(grading.grade(code: "platelets", value: .nan, low: 150, high: 400))
    }
}
