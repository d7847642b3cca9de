import XCTest
import VigilCore
@testable import VigilIngest

/// HL7 v2.5 (Health Level Seven, Version 2.5, chapter 2 control and chapter 7 observation
/// reporting): ORU^R01 results, ADT^A02/A03, escapes (§2.7), batches (§2.10.3), MLLP framing.
final class HL7ParserTests: XCTestCase {
    let parser = HL7Parser(options: TestOptions.options())

    func parse(_ segments: [String], terminator: String = "\r") -> ParseResult {
        parser.parse(Data((segments.joined(separator: terminator) + terminator).utf8))
    }

    static let msh = "MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01^ORU_R01|M1|P|2.5"
    static let pid = "PID|1||LYS-01-005^^^LYSYME^RI~900123456^^^HOSP^MR"
    static let obr = "OBR|1|ORD-1|FIL-1^LAB|2524-7^Lactate^LN|||20261123071500+0100"

    func observations(_ result: ParseResult) -> [Observation] {
        result.records.compactMap { if case .observation(let o) = $0.record { o } else { nil } }
    }

    func testResultWithEscapesRangeFlagsAndTimes() throws {
        let result = parse([Self.msh, Self.pid, Self.obr,
                            "OBX|1|NM|2524-7^Lactate \\T\\ SerPl^LN|1|4.8|mmol/L^millimole per liter^UCUM|0.5-2.2|HH~A|||F|||20261123071000+0100"])
        XCTAssertEqual(result.errors, [])
        let o = try XCTUnwrap(observations(result).first)
        XCTAssertEqual(o.id, "HL7-FIL-1-2524-7-1")
        XCTAssertEqual(o.subject, "LYS-01-005")
        XCTAssertEqual(o.value, .number(4.8))
        XCTAssertEqual(o.low, 0.5)
        XCTAssertEqual(o.high, 2.2)
        XCTAssertEqual(o.abnormalFlags, "HH~A")
        XCTAssertEqual(o.status, "final")
        XCTAssertEqual(o.loinc, "2524-7")
        XCTAssertEqual(o.time, HL7Time.parse("202611230610", zone: .gmt)?.date, "OBX-14 wins over OBR-7")
        XCTAssertEqual(result.records.first?.segment, 4)
    }

    func testEscapeSequences() {
        let encoding = HL7Encoding()
        XCTAssertEqual(encoding.unescape("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f"), "a|b^c&d~e\\f")
        XCTAssertEqual(encoding.unescape("line\\.br\\next"), "line\nnext")
        XCTAssertEqual(encoding.unescape("\\XC3A9\\"), "é")
        XCTAssertEqual(encoding.unescape("\\H\\bold"), "\\H\\bold", "formatting escapes stay visible")
    }

    func testEncodingCharactersAreReadFromMSH() throws {
        let result = parse(["MSH#*!/$#LAB#HSL#VIGIL#LYSYME#20261123074500+0100##ORU*R01#M9#P#2.5",
                            "PID#1##LYS-01-005***LYSYME*RI",
                            "OBR#1#ORD-9#FIL-9#2524-7*Lactate*LN###20261123071500+0100",
                            "OBX#1#SN#LACT*Lactate /S/ serum*L##>*15#mmol/L####F"])
        XCTAssertEqual(result.errors, [])
        let o = try XCTUnwrap(observations(result).first)
        XCTAssertEqual(o.value, .number(15))
        XCTAssertEqual(o.comparator, ">")
        XCTAssertEqual(o.code, "lactate", "local code through mapping.local")
    }

    /// Delimiters must be displayable ASCII (HL7 v2.3, chapter 2); others are refused with the segment
    /// and the field, not read as a different split of the message.
    func testDelimitersOutsideDisplayableASCIIAreRefused() {
        for msh in ["MSH§^~\\&§LAB§HSL§VIGIL§LYSYME§20261123074500+0100§§ORU^R01§M9§P§2.5",
                    "MSH|^~\\é|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01|M9|P|2.5",
                    "MSH|^~\t&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01|M9|P|2.5"] {
            let result = parse([msh, Self.pid, Self.obr, "OBX|1|NM|2524-7^Lactate^LN|1|4.8|mmol/L|||||F"])
            XCTAssertEqual(result.records.count, 0, msh)
            XCTAssertEqual(result.errors.first?.segment, 1, msh)
            XCTAssertEqual(result.errors.first?.field, "MSH-2", msh)
            XCTAssertEqual(result.errors.first?.error, "cannot read the field separator and encoding characters", msh)
        }
    }

    func testCorrectedResultSharesTheIdAndPreliminaryIsConfigurable() {
        let first = [Self.msh, Self.pid, Self.obr, "OBX|1|NM|2524-7^Lactate^LN|1|1.8|mmol/L|||||P"]
        let second = ["MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123081000+0100||ORU^R01|M2|P|2.5", Self.pid, Self.obr,
                      "OBX|1|NM|2524-7^Lactate^LN|1|4.6|mmol/L|||||C"]
        let result = parse(first + second)
        XCTAssertEqual(observations(result).map(\.id), ["HL7-FIL-1-2524-7-1", "HL7-FIL-1-2524-7-1"])
        XCTAssertEqual(observations(result).map(\.status), ["preliminary", "corrected"])
        let strict = HL7Parser(options: TestOptions.options(hl7: HL7Options(subjectAuthority: "LYSYME", acceptPreliminary: false)))
        let strictResult = strict.parse(Data((first.joined(separator: "\r") + "\r").utf8))
        XCTAssertEqual(strictResult.records, [])
        XCTAssertEqual(strictResult.errors, [])
        XCTAssertTrue(strictResult.notes.first?.contains("preliminary") ?? false)
    }

    func testDeletedAndCancelledResults() {
        let result = parse([Self.msh, Self.pid, Self.obr, "OBX|1|NM|2524-7^Lactate^LN|1||mmol/L|||||D", "OBX|2|NM|8867-4^HR^LN|1||/min|||||X"])
        XCTAssertEqual(result.retractions, ["HL7-FIL-1-2524-7-1"])
        XCTAssertEqual(result.records, [])
        XCTAssertEqual(result.errors, [])
    }

    func testBatchWithMLLPFramingAndLFTerminatorsHoldsSeveralMessages() {
        let text = "\u{0B}FHS|^~\\&|LAB\nBHS|^~\\&|LAB\n" + [Self.msh, Self.pid, Self.obr, "OBX|1|NM|2524-7^Lactate^LN|1|2.4|mmol/L|||||F"].joined(separator: "\n")
            + "\n\u{1C}\r\u{0B}" + ["MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123081000+0100||ORU^R01|M2|P|2.5", "PID|1||900123456^^^HOSP^MR",
                                    "OBR|1|ORD-2|FIL-2|x|||20261123080000+0100", "OBX|1|NM|8867-4^HR^LN|1|101|/min|||||F"].joined(separator: "\r\n")
            + "\r\nBTS|2\nFTS|1\n\u{1C}\r"
        let result = parser.parse(Data(text.utf8))
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(observations(result).map(\.subject), ["LYS-01-005", "LYS-01-009"], "second subject through hl7.subject_map")
    }

    func testErrorsNameSegmentAndField() {
        let result = parse([Self.msh, Self.pid, Self.obr,
                            "OBX|1|NM|2524-7^Lactate^LN|1|4,8x|mmol/L|||||F",
                            "OBX|2|NM|2524-7^Lactate^LN|2|4.8|mg%|||||F",
                            "OBX|3|NM|1234-5^Mystery^LN|3|1|U|||||F",
                            "OBX|4|ED|2524-7^Lactate^LN|4|x|mmol/L|||||F",
                            "OBX|5|NM|2524-7^Lactate^LN|5|2.0|mmol/L|||||F",
                            "OBX|6|NM|85353-1^VS panel^LN|6|1||||||F"])
        XCTAssertEqual(result.errors.map { "\($0.segment!):\($0.field!)" }, ["4:OBX-5", "5:OBX-6", "6:OBX-3"],
                       "an unsupported value type (ED) is skipped with a note unless hl7.strict is set")
        XCTAssertTrue(result.notes.contains { $0.hasPrefix("segment 7:") && $0.contains("value type ED") })
        XCTAssertEqual(result.errors[1].valueShape, "text of 3 characters: letters, punctuation or symbols")
        XCTAssertEqual(result.errors[1].rejectedValue, "mg%", "kept in memory for vigilctl check")
        XCTAssertFalse(result.errors[1].summary.contains("mg%"), "the value is described by its shape only")
        XCTAssertTrue(result.errors[1].error.contains("message M1"))
        XCTAssertEqual(observations(result).map(\.id), ["HL7-FIL-1-2524-7-5"])
    }

    func testUnknownSubjectIsRefusedWithoutEchoingTheHospitalNumber() {
        let result = parse([Self.msh, "PID|1||123456789^^^HOSP^MR", Self.obr, "OBX|1|NM|2524-7^Lactate^LN|1|4.8|mmol/L|||||F"])
        XCTAssertEqual(result.records, [])
        XCTAssertEqual(result.errors.first?.field, "PID-3")
        XCTAssertNil(result.errors.first?.rejectedValue, "withheld even from vigilctl check")
        XCTAssertEqual(result.errors.first?.valueShape, "text of 19 characters: digits, punctuation or symbols, letters")
        XCTAssertFalse(result.errors.first!.summary.contains("123456789"))
    }

    func testTransferToICUAndDischargeWithDeath() throws {
        let a02 = parse(["MSH|^~\\&|ADT|HSL|VIGIL|LYSYME|20261123095500+0100||ADT^A02^ADT_A02|ADT-1|P|2.5",
                         "EVN|A02|20261123095500+0100|||nurse|20261123095000+0100", Self.pid, "PV1|1|I|REA^12^1^HSL|||DERM^4^2^HSL"])
        guard case .event(let transfer) = try XCTUnwrap(a02.records.first).record else { return XCTFail("expected an event") }
        XCTAssertEqual(transfer.kind, "icu_transfer")
        XCTAssertEqual(transfer.time, HL7Time.parse("202611230850", zone: .gmt)?.date, "EVN-6 event occurred")
        XCTAssertEqual(transfer.attributes["location"], "REA")

        let back = parse(["MSH|^~\\&|ADT|HSL|VIGIL|LYSYME|20261124095500+0100||ADT^A02|ADT-2|P|2.5", "EVN|A02|20261124095500+0100",
                          Self.pid, "PV1|1|I|DERM^4^2^HSL|||REA^12^1^HSL"])
        guard case .event(let discharge) = try XCTUnwrap(back.records.first).record else { return XCTFail("expected an event") }
        XCTAssertEqual(discharge.kind, "icu_discharge")

        let a03 = parse(["MSH|^~\\&|ADT|HSL|VIGIL|LYSYME|20261125120000+0100||ADT^A03|ADT-3|P|2.5", "EVN|A03|20261125120000+0100",
                         Self.segment("PID", [1: "1", 3: "LYS-01-005^^^LYSYME^RI", 29: "20261125081500+0100", 30: "Y"]), "PV1|1|I|REA^12^1^HSL"])
        XCTAssertEqual(a03.records.compactMap { if case .event(let e) = $0.record { e.kind } else { nil } }, ["death", "icu_discharge"])
    }

    /// A segment with the given fields at their HL7 positions.
    static func segment(_ id: String, _ fields: [Int: String]) -> String {
        ([id] + (1...(fields.keys.max() ?? 1)).map { fields[$0] ?? "" }).joined(separator: "|")
    }

    func testUnsupportedMessageTypeAndStraySegments() {
        let result = parse(["OBX|1|NM|x", "MSH|^~\\&|X|Y|Z|W|20261123074500||ORM^O01|M3|P|2.5", Self.pid])
        XCTAssertEqual(result.errors.map(\.field), ["OBX", "MSH-9"])
        XCTAssertEqual(result.errors.map(\.segment), [1, 2])
    }

    func testHL7Times() {
        XCTAssertEqual(HL7Time.parse("20261123071500+0100", zone: .gmt)?.date, ISO8601.parse("2026-11-23T06:15:00Z", zone: .gmt)?.date)
        XCTAssertEqual(HL7Time.parse("202611230715", zone: TimeZone(identifier: "Europe/Paris")!)?.hadOffset, false)
        XCTAssertEqual(HL7Time.parse("20261123071530.25-0500", zone: .gmt)!.date.timeIntervalSince1970,
                       ISO8601.parse("2026-11-23T12:15:30Z", zone: .gmt)!.date.timeIntervalSince1970 + 0.25, accuracy: 1e-6)
        XCTAssertNil(HL7Time.parse("20261331", zone: .gmt))
        XCTAssertNil(HL7Time.parse("2026112", zone: .gmt))
    }

    /// `component` walks to the component it is asked for, on the segment's bytes; it must answer
    /// what splitting the field into repetitions and components answers (kept here as reference),
    /// for fields made of delimiters, escapes, spaces, combining marks and text. The delimiters are
    /// single ASCII characters (HL7 v2.3, chapter 2), so the reference splits on Unicode scalars: a
    /// combining mark after a delimiter does not hide it, as it would if fields were split into
    /// Swift `Character`s (grapheme clusters).
    func testComponentAnswersAsSplittingTheFieldDoes() {
        let encoding = HL7Encoding()
        func split(_ text: String, _ delimiter: Character) -> [String] {
            text.unicodeScalars.split(separator: delimiter.unicodeScalars.first!, omittingEmptySubsequences: false)
                .map { String(String.UnicodeScalarView($0)) }
        }
        func reference(_ field: String, _ c: Int, repetition: String?) -> String? {
            let source = repetition ?? split(field, encoding.repetition).first ?? ""
            let parts = split(source, encoding.component)
            guard c - 1 < parts.count else { return nil }
            let text = encoding.unescape(parts[c - 1]).trimmingSpaces()
            return text.isEmpty ? nil : text
        }
        let pieces = ["^", "~", "&", "\\F\\", "\\S\\", " ", "a", "7.5", "\u{301}", "é", "LN", "^^", "~~"]
        var random = SplitMix64(seed: 11)
        for _ in 0..<5_000 {
            let text = (0..<Int(random.next() % 9)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined()
            let segment = HL7Segment(index: 1, line: "OBX|1|" + text, encoding: encoding)
            let field = segment.raw(2)
            XCTAssertEqual(field, text, "a leading combining mark stays with the field, not with the \"|\" before it")
            for c in 1...5 {
                XCTAssertEqual(segment.component(2, c), reference(field, c, repetition: nil), "component \(c) of '\(field)'")
                for repetition in segment.repetitions(2) {
                    XCTAssertEqual(segment.component(2, c, repetition: repetition), reference(field, c, repetition: repetition))
                }
            }
            let firstRepetition = split(field, encoding.repetition).first ?? ""
            let whole = encoding.unescape(firstRepetition).trimmingSpaces()
            XCTAssertEqual(segment.value(2), whole.isEmpty ? nil : whole)
        }
    }

    // MARK: Leniency where peers are lenient, and strict mode

    static let strict = HL7Parser(options: TestOptions.options(hl7: HL7Options(subjectAuthority: "LYSYME", strict: true)))

    /// HL7 v2.5 table 0076/0003: ORU with R01; peers read an ORU without its trigger as results.
    func testORUWithoutTriggerIsReadUnlessStrict() {
        let message = ["MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU|M1|P|2.5", Self.pid, Self.obr,
                       "OBX|1|NM|2524-7^Lactate^LN|1|2.4|mmol/L|||||F"]
        let lenient = parse(message)
        XCTAssertEqual(lenient.errors, [])
        XCTAssertEqual(observations(lenient).count, 1)
        let strict = Self.strict.parse(Data((message.joined(separator: "\r") + "\r").utf8))
        XCTAssertEqual(strict.errors.map(\.field), ["MSH-9"])
        XCTAssertEqual(strict.records, [])
    }

    /// HL7 v2.5 table 0085 (observation result status): S partial and U final carry a value; O (order
    /// detail), I (pending) carry none; D deletes; a local Z status is read as final with a warning.
    func testResultStatusesOfTable0085() {
        let result = parse([Self.msh, Self.pid, Self.obr,
                            "OBX|1|NM|2524-7^Lactate^LN|1|2.4|mmol/L|||||S",
                            "OBX|2|NM|2524-7^Lactate^LN|2|2.5|mmol/L|||||U",
                            "OBX|3|NM|2524-7^Lactate^LN|3||mmol/L|||||O",
                            "OBX|4|NM|2524-7^Lactate^LN|4||mmol/L|||||I",
                            "OBX|5|NM|2524-7^Lactate^LN|5||mmol/L|||||D",
                            "OBX|6|NM|2524-7^Lactate^LN|6|2.6|mmol/L|||||Z"])
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(observations(result).map(\.status), ["preliminary", "final", "final"])
        XCTAssertEqual(result.retractions, ["HL7-FIL-1-2524-7-5"])
        XCTAssertEqual(result.warnings.map { "\($0.segment!):\($0.field!)" }, ["9:OBX-11"])
        let strict = Self.strict.parse(Data(([Self.msh, Self.pid, Self.obr, "OBX|1|NM|2524-7^Lactate^LN|1|2.6|mmol/L|||||Z"].joined(separator: "\r")).utf8))
        XCTAssertEqual(strict.errors.map(\.field), ["OBX-11"])
    }

    /// Text where a number is monitored ("see comment") is skipped with a note; a coded value for a
    /// coded code is read; strict mode makes the text an error. NM with a comparator keeps it.
    func testTextValuesForMeasuredCodesAreSkippedUnlessStrict() throws {
        let message = [Self.msh, Self.pid, Self.obr,
                       "OBX|1|TX|2524-7^Lactate^LN|1|see comment|mmol/L|||||F",
                       "OBX|2|CE|600-7^Blood culture^LN|2|POS^positive^L||||||F",
                       "OBX|3|NM|2524-7^Lactate^LN|3|<0.3|mmol/L|||||F"]
        let lenient = parse(message)
        XCTAssertEqual(lenient.errors, [])
        XCTAssertEqual(observations(lenient).map(\.code), ["blood_culture", "lactate"])
        XCTAssertEqual(observations(lenient).last?.comparator, "<")
        XCTAssertEqual(observations(lenient).last?.value, .number(0.3))
        XCTAssertTrue(lenient.notes.contains { $0.hasPrefix("segment 4:") && $0.contains("TX") })
        let strict = Self.strict.parse(Data(message.joined(separator: "\r").utf8))
        XCTAssertEqual(strict.errors.map { "\($0.segment!):\($0.field!)" }, ["4:OBX-5"])
    }

    /// A reference range that cannot be read leaves the result accepted without it, with a warning.
    func testUnreadableReferenceRangeKeepsTheResult() throws {
        let result = parse([Self.msh, Self.pid, Self.obr, "OBX|1|NM|2524-7^Lactate^LN|1|2.4|mmol/L|70_105|||F"])
        XCTAssertEqual(result.errors, [])
        let lactate = try XCTUnwrap(observations(result).first)
        XCTAssertNil(lactate.low)
        XCTAssertEqual(result.warnings.map(\.field), ["OBX-7"])
    }

    /// IHE PCD-01 monitor feeds: MDC observation and unit codes in OBX-3 and OBX-6.
    func testMDCUnitsInOBX6() throws {
        let options = try IngestOptions(subjectPattern: "^LYS-[0-9]{2}-[0-9]{3}$", siteTimeZone: .gmt,
                                        mapping: CodeMapping(tables: [.local: ["150456": "spo2", "149530": "heart_rate", "150037": "systolic_bp"]]),
                                        hl7: HL7Options(subjectAuthority: "LYSYME"))
        let file = [Self.msh, Self.pid, "OBR|1|ORD-1|FIL-1|x|||20261123071500+0100",
                    "OBX|1|NM|150456^MDC_PULS_OXIM_SAT_O2^MDC|1.1.1.1|97|262688^MDC_DIM_PERCENT^MDC|||||R",
                    "OBX|2|NM|149530^MDC_PULS_OXIM_PULS_RATE^MDC|1.1.1.2|72|264864^MDC_DIM_BEAT_PER_MIN^MDC|||||R",
                    "OBX|3|NM|150037^MDC_PRESS_BLD_NONINV_SYS^MDC|1.1.1.3|120|266016^MDC_DIM_PERCENT^MDC|||||R"].joined(separator: "\r")
        let result = HL7Parser(options: options).parse(Data(file.utf8))
        XCTAssertEqual(observations(result).map { "\($0.code)=\($0.value.number ?? -1)\($0.unit ?? "")" }, ["spo2=97.0%", "heart_rate=72.0/min"])
        XCTAssertEqual(result.errors.map { "\($0.segment!):\($0.field!)" }, ["6:OBX-6"], "a code and a name of different units are refused, never guessed")
    }

    /// MSH-18 (HL7 v2.5 table 0211): declared 8-bit character sets are decoded; undeclared 8-bit text
    /// is read as Windows-1252 with a warning, or refused in strict mode.
    func testDeclaredCharacterSets() throws {
        func message(_ charset: String, _ term: [UInt8]) -> Data {
            var bytes = Array("MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01|M1|P|2.5||||||\(charset)\r\(Self.pid)\r\(Self.obr)\r".utf8)
            bytes += Array("OBX|1|CE|600-7^Blood culture^LN|1|POS^".utf8) + term + Array("||||||F\r".utf8)
            return Data(bytes)
        }
        let positive = Array("positive".utf8)
        XCTAssertEqual(parser.parse(message("8859/1", positive + [0xE9])).errors.map(\.field), ["OBX-5"], "decoded, then refused as not positive/negative")
        let latin1 = parser.parse(message("8859/1", positive + [0xE9]))
        XCTAssertTrue(latin1.errors.first?.rejectedValue?.hasSuffix("positiveé") == true, "0xE9 is é in ISO 8859-1")
        XCTAssertEqual(latin1.warnings, [], "declared, so no warning")
        let euro = parser.parse(message("8859/15", positive))
        XCTAssertEqual(euro.errors, [])
        let undeclared = parser.parse(message("", Array("positive".utf8) + [0x92]))
        XCTAssertEqual(undeclared.warnings.map(\.field), ["MSH-18"])
        XCTAssertEqual(Self.strict.parse(message("", positive + [0x92])).errors.map(\.field), ["MSH-18"])
        XCTAssertEqual(parser.parse(message("UNICODE UTF-8", positive + [0xE9])).errors.map(\.field), ["MSH-18"],
                       "declared UTF-8 that is not UTF-8 is refused")
        XCTAssertEqual(HL7CharacterSet.latin9.decode([0xA4, 0x41]), "€A")
    }
}
