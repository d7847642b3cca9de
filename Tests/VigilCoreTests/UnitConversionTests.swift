import XCTest
@testable import VigilCore

/// Unit conversions of docs/ARCHITECTURE.md §3.2. Factors: lactate mg/dL ÷ 9.008 (molar mass 90.08 g/mol),
/// creatinine mg/dL × 88.4, bilirubin mg/dL × 17.1, glucose mg/dL ÷ 18.016, BUN mg/dL → urea × 0.357,
/// °F → °C (F − 32) × 5/9.
final class UnitConversionTests: XCTestCase {
    func value(_ code: String, _ raw: Double, _ unit: String?) throws -> Double {
        let normal = try CanonicalCodes.normalise(code: code, raw: .number(raw), unit: unit)
        return try XCTUnwrap(normal.value.number)
    }

    func testLactateMilligramsPerDecilitreAreConverted() throws {
        XCTAssertEqual(try value("lactate", 20, "mg/dL"), 2.2202, accuracy: 0.0001)
        XCTAssertEqual(try value("lactate", 36.032, "mg/dl"), 4.0, accuracy: 1e-9, "unit spelling is matched ignoring case")
        XCTAssertEqual(try value("lactate", 4.5, "mmol/L"), 4.5)
    }

    func testOtherDesignConversions() throws {
        XCTAssertEqual(try value("creatinine", 1.2, "mg/dL"), 106.08, accuracy: 1e-9)
        XCTAssertEqual(try value("bilirubin", 2.0, "mg/dL"), 34.2, accuracy: 1e-9)
        XCTAssertEqual(try value("glucose", 180, "mg/dL"), 9.9911, accuracy: 0.0001)
        XCTAssertEqual(try value("urea_nitrogen", 28, "mg/dL"), 9.996, accuracy: 1e-9)
        XCTAssertEqual(try CanonicalCodes.normalise(code: "urea_nitrogen", raw: .number(28), unit: "mg/dL").code, "urea", "BUN is stored as urea")
        XCTAssertThrowsError(try value("urea", 28, "mg/dL"), "urea mg/dL is not BUN mg/dL: refused, never guessed")
        XCTAssertEqual(try value("temperature", 98.6, "°F"), 37.0, accuracy: 1e-9)
        XCTAssertEqual(try value("hemoglobin", 95, "g/L"), 9.5, accuracy: 1e-9)
    }

    func testUnknownUnitIsRefusedWithTheAcceptedUnits() {
        XCTAssertThrowsError(try value("lactate", 3, "mg%")) { error in
            guard case .unknownUnit(let code, let unit, let accepted) = error as? NormalisationError else {
                return XCTFail("expected unknownUnit, got \(error)")
            }
            XCTAssertEqual(code, "lactate")
            XCTAssertEqual(unit, "mg%")
            XCTAssertEqual(accepted, ["mEq/L", "mg/dL", "mmol/L"])
        }
    }

    func testMeasuredValuesNeedAUnitButScoresDoNot() throws {
        XCTAssertThrowsError(try value("lactate", 3, nil)) { error in
            XCTAssertEqual((error as? NormalisationError)?.field, "unit")
        }
        XCTAssertEqual(try value("gcs", 14, nil), 14)
    }

    func testImplausibleValueIsRefused() {
        XCTAssertThrowsError(try value("spo2", 140, "%")) { error in
            guard case .implausible = error as? NormalisationError else { return XCTFail("expected implausible, got \(error)") }
        }
    }

    func testDecimalCommaAndRefusedNumbers() {
        XCTAssertEqual(CanonicalCodes.parseNumber("4,5"), 4.5)
        XCTAssertEqual(CanonicalCodes.parseNumber(" -0.25 "), -0.25)
        XCTAssertNil(CanonicalCodes.parseNumber("1,234.5"), "thousands separator is ambiguous")
        XCTAssertNil(CanonicalCodes.parseNumber("1,2,3"))
        XCTAssertNil(CanonicalCodes.parseNumber("4.5 mmol"))
        XCTAssertNil(CanonicalCodes.parseNumber("nan"))
    }

    /// parseNumber does not go through Foundation's trimming and replacing; it must answer as the
    /// Foundation version (kept here as reference) on random texts of digits, separators, signs,
    /// exponents, ASCII and Unicode spaces (NBSP, thin space, ideographic space), newlines,
    /// combining marks, letters and non-ASCII digits.
    func testParseNumberAnswersAsTheFoundationVersion() {
        func reference(_ text: String) -> Double? {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            let commas = trimmed.filter { $0 == "," }.count
            guard commas <= 1, !(commas == 1 && trimmed.contains(".")) else { return nil }
            let normalised = trimmed.replacingOccurrences(of: ",", with: ".")
            guard !normalised.isEmpty, normalised.allSatisfy({ $0.isASCII && ($0.isNumber || "+-.eE".contains($0)) }),
                  let value = Double(normalised), value.isFinite
            else { return nil }
            return value
        }
        let pieces = ["0", "1", "5", "9", "12", ".", ",", "-", "+", "e", "E", " ", "\t", "\n", "\u{A0}", "\u{2009}", "\u{3000}", "\u{301}",
                      "x", "inf", "nan", "٣", "e999", "0x1p3", "\r\n"]
        var random = SplitMix64(seed: 7)
        var numbers = 0
        for _ in 0..<50_000 {
            let text = (0..<Int(random.next() % 7)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            let expected = reference(text)
            if expected != nil { numbers += 1 }
            XCTAssertEqual(CanonicalCodes.parseNumber(text), expected, "'\(text.unicodeScalars.map { $0.escaped(asASCII: true) }.joined())'")
        }
        XCTAssertGreaterThan(numbers, 1_000, "the random texts include many valid numbers")
    }

    func testTextAndFlagCodes() throws {
        XCTAssertEqual(try CanonicalCodes.normalise(code: "consciousness", raw: .text("v"), unit: nil).value, .text("V"))
        XCTAssertEqual(try CanonicalCodes.normalise(code: "oxygen", raw: .text("yes"), unit: nil).value, .flag(true))
        XCTAssertThrowsError(try CanonicalCodes.normalise(code: "blood_culture", raw: .text("maybe"), unit: nil))
        XCTAssertThrowsError(try CanonicalCodes.normalise(code: "lactic", raw: .number(1), unit: "mmol/L")) { error in
            XCTAssertEqual((error as? NormalisationError)?.field, "code")
        }
    }
}

/// The unit spellings real exports and feeds send: SAS/SDTM "GI/L" (CDISC pilot LBSTRESU),
/// UCUM with annotations ("{cells}/uL": UCUM §4.5, curly-brace annotations carry no meaning), molar
/// haemoglobin (monomer molar mass 16,114.5 g/mol, a quarter of the tetramer's 64,458: 1 mmol/L =
/// 1.61145 g/dL), and a site's own aliases and conversions.
final class UnitTableTests: XCTestCase {
    func value(_ code: String, _ raw: Double, _ unit: String, _ table: UnitTable = .standard) throws -> Double {
        let normal = try CanonicalCodes.normalise(code: code, raw: .number(raw), unit: unit, units: table)
        return try XCTUnwrap(normal.value.number)
    }

    func testCommonSpellingsOfCellCounts() throws {
        XCTAssertEqual(try value("platelets", 250, "GI/L"), 250)
        XCTAssertEqual(try value("wbc", 7.5, "10*9/L"), 7.5)
        XCTAssertEqual(try value("wbc", 7.5, "10^9/L"), 7.5)
        XCTAssertEqual(try value("wbc", 7.5, "10E9/L"), 7.5)
        XCTAssertEqual(try value("neutrophils", 7500, "{cells}/uL"), 7.5, accuracy: 1e-9, "cells per microlitre are 10^6/L")
        XCTAssertEqual(try value("platelets", 250_000, "/mm3"), 250, accuracy: 1e-9)
        XCTAssertEqual(try value("platelets", 250, "10*3/uL{cells}"), 250, "an annotation after the unit is dropped too")
    }

    func testMolarHaemoglobinAndUreaNitrogen() throws {
        XCTAssertEqual(try value("hemoglobin", 8.0, "mmol/L"), 12.8916, accuracy: 1e-9)
        XCTAssertEqual(try value("urea_nitrogen", 5.0, "mmol/L"), 5.0, "SI urea nitrogen is mmol/L of urea")
    }

    func testSiteAliasesAndConversions() throws {
        let site = UnitTable(aliases: ["Giga/l": "10^9/L"], conversions: ["glucose": ["g/L": 5.551]])
        XCTAssertEqual(try value("platelets", 140, "GIGA/L", site), 140, "aliases match ignoring case")
        XCTAssertEqual(try value("glucose", 1.0, "g/L", site), 5.551, accuracy: 1e-12)
        XCTAssertThrowsError(try value("glucose", 1.0, "g/L"), "without the site's conversion the unit is refused")
        XCTAssertThrowsError(try value("lactate", 1.0, "g/L", site), "a conversion is for its own code only")
        XCTAssertThrowsError(try value("hemoglobin", 1.0, "Giga/l", site), "an alias leads only to units the code accepts")
    }

    /// IEEE 11073-10101 unit codes (partition 4, dimensions: 4 × 65536 + base code; base codes from the
    /// standard's Table A.6.3: % 544, /min (beats) 2720, /min (breaths) 2784, mmHg 3872, °C 6048).
    func testMDCUnitCodes() {
        XCTAssertEqual(MDCUnits.read(identifier: "262688", text: "MDC_DIM_PERCENT"), .unit("%"))
        XCTAssertEqual(MDCUnits.read(identifier: "264864", text: "MDC_DIM_BEAT_PER_MIN"), .unit("/min"))
        XCTAssertEqual(MDCUnits.read(identifier: "266016", text: "MDC_DIM_MMHG"), .unit("mmHg"))
        XCTAssertEqual(MDCUnits.read(identifier: "268192", text: nil), .unit("°C"))
        XCTAssertEqual(MDCUnits.read(identifier: "MDC_DIM_RESP_PER_MIN", text: nil), .unit("/min"))
        XCTAssertEqual(MDCUnits.read(identifier: "mmol/L", text: "millimole per liter"), .notMDC)
        guard case .conflict = MDCUnits.read(identifier: "266016", text: "MDC_DIM_PERCENT") else {
            return XCTFail("a code and a reference id naming different units are never guessed between")
        }
        guard case .conflict = MDCUnits.read(identifier: "262145", text: nil) else { return XCTFail("an MDC code Vigil does not list") }
    }
}
