import XCTest
import VigilCore
@testable import VigilIngest

final class JSONRecordParserTests: XCTestCase {
    let parser = JSONRecordParser(options: try! IngestOptions(subjectPattern: "^LYS-[0-9]{2}-[0-9]{3}$", siteTimeZone: TimeZone(identifier: "Europe/Paris")!))

    func parse(_ text: String) -> ParseResult { parser.parse(Data(text.utf8)) }

    func testNDJSONObservationsAreParsedAndConverted() throws {
        let result = parse("""
            {"type":"observation","id":"LAB-1","subject":"LYS-01-003","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":4.5,"unit":"mmol/L","loinc":"2524-7","low":0.5,"high":2.2}

            {"type":"observation","id":"LAB-2","subject":"LYS-01-004","time":"2026-11-23T06:40:00Z","code":"lactate","value":20,"unit":"mg/dL","low":4.5,"high":19.8}
            """)
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.records.map(\.line), [1, 3])
        guard case .observation(let second) = result.records[1].record else { return XCTFail("not an observation") }
        XCTAssertEqual(second.value.number!, 20 / 9.008, accuracy: 1e-9)
        XCTAssertEqual(second.unit, "mmol/L")
        XCTAssertEqual(second.originalValue, "20")
        XCTAssertEqual(second.originalUnit, "mg/dL")
        XCTAssertEqual(second.low!, 4.5 / 9.008, accuracy: 1e-9, "reference range is converted with the value")
        guard case .observation(let first) = result.records[0].record else { return XCTFail("not an observation") }
        XCTAssertEqual(first.time, Date(timeIntervalSince1970: 1_795_412_400), "06:40 at +01:00 is 05:40 UTC")
    }

    func testEveryBadRecordIsLocatedByLineAndField() {
        let result = parse("""
            {"type":"observation","id":"A","subject":"LYS-01-003","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":3,"unit":"mg%"}
            {"type":"observation","id":"B","subject":"LYS-01-003","time":"yesterday","code":"lactate","value":3,"unit":"mmol/L"}
            {"type":"observation","id":"C","subject":"LYS-01-003","time":"2026-11-23T06:40:00+01:00","code":"lactate","unit":"mmol/L"}
            {"type":"observation","id":"D","subject":"LYS-01-003","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":3,"unit":"mmol/L"}
            {"type":"observation","id":"E",
            {"type":"vitals","id":"F"}
            """)
        XCTAssertEqual(result.records.map(\.record.id), ["D"])
        let located = result.errors.map { "\($0.line ?? 0):\($0.field ?? "-")" }
        XCTAssertEqual(located, ["1:unit", "2:time", "3:value", "5:-", "6:type"])
        XCTAssertEqual(result.errors[0].error, "unknown unit for lactate")
        XCTAssertEqual(result.errors[0].valueShape, "text of 3 characters: letters, punctuation or symbols")
        XCTAssertEqual(result.errors[1].summary, "line 2, field time: not an ISO 8601 date-time (found text of 9 characters: letters; expected e.g. 2026-11-23T06:40:00+01:00)")
        XCTAssertEqual(result.errors[0].expected, "one of: mEq/L, mg/dL, mmol/L")
        XCTAssertTrue(result.errors[3].error.hasPrefix("invalid JSON"))
    }

    func testSubjectThatIsNotATrialIDIsRefusedWithoutEchoingIt() {
        let result = parse(#"{"type":"event","id":"E1","subject":"DUPONT Jean 1961-04-02","time":"2026-11-20T10:00:00Z","kind":"infusion"}"#)
        XCTAssertEqual(result.records, [])
        XCTAssertEqual(result.errors.first?.field, "subject")
        XCTAssertNil(result.errors.first?.rejectedValue)
        XCTAssertEqual(result.errors.first?.valueShape, "text of 22 characters: letters, spaces, digits, punctuation or symbols")
        XCTAssertFalse(result.errors.first!.summary.contains("DUPONT"))
    }

    func testArrayFileReportsTheLineOfEachElement() {
        let result = parse("""
            [
              {"type":"event","id":"E1","subject":"LYS-01-001","time":"2026-11-20T10:00:00Z","kind":"infusion"},
              {"type":"event","id":"E2","subject":"LYS-01-001",
               "time":"2026-11-20T10:00:00Z","kind":"teleport"}
            ]
            """)
        XCTAssertEqual(result.records.map(\.record.id), ["E1"])
        XCTAssertEqual(result.records.first?.line, 2)
        XCTAssertEqual(result.errors.first?.line, 3)
        XCTAssertEqual(result.errors.first?.field, "kind")
    }

    func testPrettyPrintedSingleObjectAndBOM() {
        let text = "\u{FEFF}{\n  \"type\": \"event\",\n  \"id\": \"E1\",\n  \"subject\": \"LYS-01-001\",\n  \"time\": \"2026-11-20T10:00:00Z\",\n  \"kind\": \"death\"\n}\n"
        let result = parse(text)
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.records.first?.record.id, "E1")
    }

    func testInvalidUTF8IsLocated() {
        var data = Data("{\"type\":\"event\"}\n".utf8)
        data.append(contentsOf: [0x7B, 0xFF, 0xFE, 0x7D, 0x0A])
        let result = parser.parse(data)
        XCTAssertEqual(result.errors.first?.line, 2)
        XCTAssertEqual(result.errors.first?.error, "file is not valid UTF-8")
    }

    func testLocalTimeIsReadInSiteZoneAndNoted() throws {
        let result = parse(#"{"type":"observation","id":"A","subject":"LYS-01-003","time":"2026-07-01T12:00","code":"spo2","value":93,"unit":"%"}"#)
        guard case .observation(let o) = try XCTUnwrap(result.records.first).record else { return XCTFail("not an observation") }
        XCTAssertEqual(o.time, ISO8601.parse("2026-07-01T10:00:00Z", zone: .gmt)?.date, "Paris is UTC+2 in July")
        XCTAssertEqual(result.notes.count, 1)
        XCTAssertTrue(result.notes[0].contains("Europe/Paris"))
    }

    func testAdverseEventWithPartialOnset() throws {
        let result = parse("""
            {"type":"adverse_event","id":"AE-42","subject":"LYS-01-003","onset":"2026-11","term":"Pulmonary embolism","meddra_pt":"10037377","grade":3,"serious":["hospitalisation"],"related":"probable","expected":false,"outcome":"recovering","aware":"2026-11-23T08:00:00Z"}
            {"type":"adverse_event","id":"AE-43","subject":"LYS-01-003","onset":"2026-11-22","term":"Rash","grade":7,"serious":["bad"],"related":"perhaps","expected":"no"}
            """)
        guard case .adverseEvent(let ae) = try XCTUnwrap(result.records.first).record else { return XCTFail("not an AE") }
        XCTAssertEqual(ae.onset, "2026-11")
        XCTAssertEqual(ae.grade, 3)
        XCTAssertEqual(ae.serious, ["hospitalisation"])
        XCTAssertEqual(ae.expected, false)
        XCTAssertEqual(result.errors.map(\.field), ["grade", "serious", "related", "expected"])
        XCTAssertTrue(result.errors.allSatisfy { $0.line == 2 })
    }

    func testFlagValueForOxygen() throws {
        let result = parse(#"{"type":"observation","id":"O","subject":"LYS-01-003","time":"2026-11-23T06:40:00Z","code":"oxygen","value":true}"#)
        guard case .observation(let o) = try XCTUnwrap(result.records.first).record else { return XCTFail("not an observation") }
        XCTAssertEqual(o.value, .flag(true))
    }

    func testEmptyFileIsAnError() {
        XCTAssertEqual(parse("\n  \n").errors.first?.error, "file holds no record")
    }
}
