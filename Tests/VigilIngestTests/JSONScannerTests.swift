import Foundation
import VigilCore
import XCTest
@testable import VigilIngest

/// `JSONScanner` against Foundation's `JSONSerialization` as the reference reader of RFC 8259:
/// the same texts are valid, the same values come out (numbers shown as `NSNumber` shows them),
/// and errors are located by column. The generated texts are seeded, so a failure repeats.
final class JSONScannerTests: XCTestCase {
    func scan(_ text: String) -> Result<JSONValue, JSONSyntaxError> {
        Array(text.utf8).withUnsafeBufferPointer { JSONScanner.value($0) }
    }

    /// The reference's value in the scanner's terms; numbers carry the integer when `NSNumber`
    /// prints one, and `text` is checked against `stringValue` separately.
    func reference(_ object: Any) -> JSONValue {
        switch object {
        case is NSNull: return .null
        case let s as String: return .string(s)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" { return .bool(n.boolValue) }
            return .number(n.doubleValue, integer: Int(n.stringValue))
        case let list as [Any]: return .array(list.map(reference))
        case let object as [String: Any]: return .object(object.mapValues(reference))
        default:
            XCTFail("unexpected reference value \(object)")
            return .null
        }
    }

    /// Every number's text as the scanner shows it equals `NSNumber.stringValue`, which the
    /// JSONSerialization-based reader stored for event attributes (`age`).
    func assertNumbersShowAsNSNumber(_ value: JSONValue, _ object: Any, _ text: String) {
        switch (value, object) {
        case (.number, let n as NSNumber):
            XCTAssertEqual(value.text, n.stringValue, text)
        case (.array(let items), let list as [Any]):
            for (item, other) in zip(items, list) { assertNumbersShowAsNSNumber(item, other, text) }
        case (.object(let fields), let object as [String: Any]):
            for (key, item) in fields { if let other = object[key] { assertNumbersShowAsNSNumber(item, other, text) } }
        default: break
        }
    }

    func testGeneratedTextsReadAsJSONSerializationReadsThem() throws {
        var random = SplitMix64(seed: 20_261_206)
        var valid = 0
        var invalid = 0
        for round in 0..<6_000 {
            var text = Self.randomValue(&random, depth: 0)
            if round % 3 == 0 { text = Self.mutate(text, &random) }
            let data = Data(text.utf8)
            let expected = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
            let got = scan(text)
            switch (expected, got) {
            case (let object?, .success(let value)):
                XCTAssertEqual(value, reference(object), text)
                assertNumbersShowAsNSNumber(value, object, text)
                valid += 1
            case (nil, .failure):
                invalid += 1
            case (let object?, .failure(let error)):
                XCTFail("the reference reads \(text.debugDescription) as \(object); the scanner refuses it: \(error)")
            case (nil, .success(let value)):
                XCTFail("the reference refuses \(text.debugDescription); the scanner reads \(value)")
            }
        }
        XCTAssertGreaterThan(valid, 3_000, "most generated texts are valid")
        XCTAssertGreaterThan(invalid, 500, "the mutations make invalid texts")
    }

    func testFieldNamesAreTheCasesSpelledAsTheContractSpellsThem() {
        XCTAssertEqual(RecordFields.Name.keys.count, RecordFields.Name.allCases.count)
        for name in RecordFields.Name.allCases {
            let spelled = "\(name)".replacingOccurrences(of: "meddraPT", with: "meddra_pt").replacingOccurrences(of: "indexDate", with: "index_date")
            XCTAssertEqual(name.key, spelled)
        }
    }

    func testEdgeCasesOfTheGrammar() {
        XCTAssertEqual(try scan(#"{"a":[1,-0.5,2E+2,true,null,"\u00e9\ud83d\ude00\n"]}"#).get(),
                       .object(["a": .array([.number(1, integer: 1), .number(-0.5, integer: nil), .number(200, integer: nil), .bool(true), .null,
                                            .string("é😀\n")])]))
        XCTAssertEqual(try scan(#""\/\\\"\b\f\r\t""#).get(), .string("/\\\"\u{8}\u{c}\r\t"))
        XCTAssertEqual(try scan("123456789012345678").get(), .number(Double(123_456_789_012_345_678 as Int), integer: 123_456_789_012_345_678))
        XCTAssertEqual(try scan("  {}  ").get(), .object([:]))
        for bad in ["", "01", "1.", ".5", "-", "+1", "1e", "tru", "nul", "[1,]", "{\"a\":1,}", "{\"a\" 1}", "{a:1}", "\"a", "\"\\x\"",
                    "\"\\u12\"", "\"\\ud800\"", "\"\\udc00x\"", "\"tab\there\"", "[1 2]", "1 2", "NaN", "Infinity", "1e999", "'a'"] {
            guard case .failure = scan(bad) else { return XCTFail("\(bad.debugDescription) must be refused") }
        }
        let deep = String(repeating: "[", count: 300) + String(repeating: "]", count: 300)
        guard case .failure(let error) = scan(deep) else { return XCTFail("nesting is capped") }
        XCTAssertTrue(error.message.contains("nested deeper"), error.message)
    }

    func testErrorsNameTheColumnAndTheParserKeepsGoing() {
        let parser = JSONRecordParser(options: try! IngestOptions(subjectPattern: "^LYS-[0-9]{2}-[0-9]{3}$", siteTimeZone: TimeZone(identifier: "UTC")!))
        let result = parser.parse(Data("""
            {"type":"event","id":"E1","subject":"LYS-01-001","time":"2026-11-23T06:40:00Z","kind":"enrolment","age":45,"unknown":{"deep":[1,2,{"x":null}]}}
            {"type":"event","id":"E2","subject":"LYS-01-002","time":"2026-11-23T06:40:00Z","kind":"enrolment","age":45.5,}
            [1, 2]
            {"type":"event","id":"E3","subject":"LYS-01-003","time":"2026-11-23T06:40:00Z","kind":"enrolment","age":4.50e1}
            """.utf8))
        XCTAssertEqual(result.records.map(\.line), [1, 4])
        guard case .event(let first) = result.records[0].record, case .event(let last) = result.records[1].record else { return XCTFail() }
        XCTAssertEqual(first.attributes["age"], "45", "an integer age is stored as written")
        XCTAssertEqual(last.attributes["age"], "45.0", "as NSNumber.stringValue showed a decimal")
        XCTAssertEqual(result.errors.map(\.line), [2, 3])
        XCTAssertEqual(result.errors[0].error, "invalid JSON: expected a field name in double quotes at column 110")
        XCTAssertEqual(result.errors[1].error, "record is not a JSON object")
    }

    // MARK: Generation

    static func randomValue(_ random: inout SplitMix64, depth: Int) -> String {
        let pick = Int.random(in: 0..<(depth > 3 ? 6 : 9), using: &random)
        switch pick {
        case 0: return "null"
        case 1: return Bool.random(using: &random) ? "true" : "false"
        case 2, 3: return randomNumber(&random)
        case 4, 5: return randomString(&random)
        case 6: return "[" + (0..<Int.random(in: 0..<4, using: &random)).map { _ in randomValue(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let keys = ["type", "id", "subject", "value", "age", "a", "é", "serious", "x\\u0041"]
            return "{" + (0..<Int.random(in: 0..<5, using: &random)).map { _ in
                "\"\(keys.randomElement(using: &random)!)\"" + (Bool.random(using: &random) ? ":" : " : ") + randomValue(&random, depth: depth + 1)
            }.joined(separator: ",") + "}"
        }
    }

    static func randomNumber(_ random: inout SplitMix64) -> String {
        var text = Bool.random(using: &random) ? "" : "-"
        text += Int.random(in: 0..<4, using: &random) == 0 ? "0" : String(Int.random(in: 1...99_999, using: &random))
        if Bool.random(using: &random) { text += "." + String(Int.random(in: 0...9_999, using: &random)) }
        if Int.random(in: 0..<4, using: &random) == 0 { text += ["e", "E", "e+", "e-"].randomElement(using: &random)! + String(Int.random(in: 0...40, using: &random)) }
        return text
    }

    static func randomString(_ random: inout SplitMix64) -> String {
        let pieces = ["a", "LYS-01-003", " ", "é", "😀", "\\n", "\\\"", "\\\\", "\\/", "\\u0041", "\\u00e9", "\\ud83d\\ude00", "\\t", "mmol/L"]
        return "\"" + (0..<Int.random(in: 0..<5, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined() + "\""
    }

    /// Breaks a text the ways producers do: a byte dropped, doubled or replaced, or the end cut off.
    static func mutate(_ text: String, _ random: inout SplitMix64) -> String {
        var bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return "," }
        let at = Int.random(in: 0..<bytes.count, using: &random)
        switch Int.random(in: 0..<4, using: &random) {
        case 0: bytes.remove(at: at)
        case 1: bytes.insert(bytes[at], at: at)
        case 2: bytes[at] = Array("{}[],:\"\\ 0e-.tnx".utf8).randomElement(using: &random)!
        default: bytes.removeLast(bytes.count - at)
        }
        // Keep to valid UTF-8: the reader checks that for the whole file before any record.
        return String(decoding: bytes, as: UTF8.self)
    }
}
