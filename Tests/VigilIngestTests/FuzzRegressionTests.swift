import Foundation
import VigilCore
import XCTest
@testable import VigilIngest

/// Inputs found by the fuzz targets of Fuzz/ (docs/FUZZING.md), or by the checks they run, that can
/// trap a parser or yield a record the store cannot keep. Each must give a located error instead.
final class FuzzRegressionTests: XCTestCase {
    let options = TestOptions.options()

    /// fuzz-hl7 input: OBR-7 `20²61123071500+0100`, as ISO 8859-1 bytes and as UTF-8.
    /// `Character.isNumber` is true for "²" but `Int("²")` is nil, so a time parser that trusted
    /// `isNumber` and force-unwrapped the `Int` would trap.
    func testHL7TimeWithNonASCIIDigitIsAnErrorNotATrap() {
        let file = [
            "MSH|^~\\&|LABSYS|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01^ORU_R01|LAB-MSG-0001|P|2.5",
            "PID|1||LYS-01-005^^^LYSYME^RI",
            "OBR|1|ORD-5501|FIL-88859^LABSYS|2524-7^Lactate^LN|||20\u{B2}61123071500+0100",
            "OBX|1|NM|2524-7^Lactate^LN|1|4.8|mmol/L|0.5-2.2||||F",
        ].joined(separator: "\r")
        var latin1 = Array(file.utf8)
        latin1.removeAll { $0 == 0xC2 }  // "²" as the single ISO 8859-1 byte 0xB2
        for bytes in [latin1, Array(file.utf8)] {
            let result = HL7Parser(options: options).parse(Data(bytes))
            XCTAssertEqual(result.records, [])
            XCTAssertTrue(result.errors.contains { $0.segment == 3 && $0.field == "OBR-7" && $0.error.contains("not an HL7 date/time") },
                          "\(result.errors.map(\.summary))")
        }
    }

    func testHL7TimeAcceptsASCIIDigitsOnly() throws {
        for text in ["2026\u{B2}1123064", "٢٠٢٦١١٢٣٠٦٤٠", "２０２６１１２３０６４０", "202611230640+０１００", "20261123064000.５",
                     "202611230640+01٠0"] {
            XCTAssertNil(HL7Time.parse(text, zone: .gmt), text)
        }
        // A fraction is digits: Double("0.5e300") would move the time by 10^299 seconds.
        XCTAssertNil(HL7Time.parse("20261123064000.5e300", zone: .gmt))
        XCTAssertNil(HL7Time.parse("20261123064000.", zone: .gmt))
        let parsed = try XCTUnwrap(HL7Time.parse("20261123064000.25+0100", zone: .gmt))
        XCTAssertEqual(parsed.date.timeIntervalSince(try XCTUnwrap(HL7Time.parse("20261123064000+0100", zone: .gmt)).date), 0.25, accuracy: 1e-6)
        XCTAssertEqual(parsed.digits, 14)
        XCTAssertTrue(parsed.hadOffset)
    }

    /// Fuzz invariant "every record encodes": a reference limit of -1e308 °F is -inf °C, which
    /// canonical JSON cannot encode; kept, it would leave the record stored (and hashed) as an empty
    /// payload, so the JSON reader refuses it.
    func testJSONReferenceLimitOverflowingItsConversionIsRefused() {
        let line = #"{"type":"observation","id":"T1","subject":"LYS-01-001","time":"2026-11-23T06:40:00+01:00","code":"temperature","value":100,"unit":"degF","low":-1e308,"high":104}"#
        let result = JSONRecordParser(options: options).parse(Data(line.utf8))
        XCTAssertEqual(result.records, [])
        XCTAssertEqual(result.errors.map(\.summary), ["line 1, field low: reference limit out of range: not a finite number in °C (found a number; expected a reference limit of the size of a measured value)"])
        // A limit that converts to a finite number is kept.
        let fine = JSONRecordParser(options: options).parse(Data(line.replacingOccurrences(of: "-1e308", with: "95").utf8))
        XCTAssertEqual(fine.errors, [])
        XCTAssertEqual(fine.records.count, 1)
        for record in fine.records { XCTAssertNoThrow(try Digest.canonicalJSON(record.record)) }
    }

    func testSDTMReferenceLimitOverflowingItsConversionIsLeftOut() {
        let csv = """
            STUDYID,USUBJID,VSSEQ,VSTESTCD,VSORRES,VSORRESU,VSORNRLO,VSDTC
            LYSYME,LYSYME-LYS-01-001,1,TEMP,100,degF,1e308,2026-11-23T06:40
            """
        let options = TestOptions.options()
        let mapped = try! IngestOptions(subjectPattern: options.subjectPattern, siteTimeZone: options.siteTimeZone,
                                        mapping: CodeMapping(tables: [.sdtm: ["TEMP": "temperature"]]), hl7: options.hl7)
        let result = SDTMParser(options: mapped).parse(Data(csv.utf8))
        // The result is kept without the limit (an auxiliary field never drops a result).
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.records.count, 1)
        for record in result.records { XCTAssertNoThrow(try Digest.canonicalJSON(record.record)) }
        XCTAssertEqual(result.warnings.map(\.summary), ["line 2, field VSORNRLO: reference limit out of range: not a finite number in °C; result kept without it (found text of 5 characters: digits, letters; expected a reference limit of the size of a measured value)"])
    }

    func testHL7ReferenceRangeOverflowingItsConversionIsLeftOut() {
        let mapped = try! IngestOptions(subjectPattern: options.subjectPattern, siteTimeZone: options.siteTimeZone,
                                        mapping: CodeMapping(tables: [.loinc: ["8310-5": "temperature"]]), hl7: options.hl7)
        let file = [
            "MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01^ORU_R01|M1|P|2.5",
            "PID|1||LYS-01-005^^^LYSYME^RI",
            "OBR|1|ORD-1|FIL-1^LAB|8310-5^Body temperature^LN|||20261123071500+0100",
            "OBX|1|NM|8310-5^Body temperature^LN|1|100|[degF]|-1e308-104||||F",
        ].joined(separator: "\r")
        let result = HL7Parser(options: mapped).parse(Data(file.utf8))
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.records.count, 1)
        for record in result.records { XCTAssertNoThrow(try Digest.canonicalJSON(record.record)) }
        guard case .observation(let temperature)? = result.records.first?.record else { return XCTFail("expected the result") }
        XCTAssertNil(temperature.low)
        XCTAssertNil(temperature.high)
        XCTAssertEqual(result.warnings.map(\.field), ["OBX-7"])
        XCTAssertTrue(result.warnings.first?.error.contains("reference limit out of range: not a finite number in °C") == true, "\(result.warnings.map(\.summary))")
    }
}
