import Foundation
import XCTest
@testable import VigilCore

/// The canonical JSON is defined as what JSONEncoder writes (sorted keys, unescaped slashes,
/// ISO8601Coding dates): stored payloads and content hashes are made with it, so a record sent again
/// must hash the same. `CanonicalJSONWriter` must give the same bytes for every record.
final class CanonicalJSONTests: XCTestCase {
    /// The definition, configured here independently of the code under test.
    let reference: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = ISO8601Coding.encodingStrategy
        return encoder
    }()

    func assertSame(_ record: Record, file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try reference.encode(record)
        let written = try Digest.canonicalJSON(record)
        XCTAssertEqual(String(decoding: written, as: UTF8.self), String(decoding: expected, as: UTF8.self), file: file, line: line)
    }

    func testHandPickedRecordsMatchJSONEncoder() throws {
        let t = Date(timeIntervalSince1970: 1_795_400_000)
        try assertSame(.observation(Observation(id: "O-1", subject: "LYS-01-001", time: t, code: "lactate", value: .number(4.5), unit: "mmol/L")))
        try assertSame(.observation(Observation(
            id: "O-2", subject: "LYS-01-001", time: t.addingTimeInterval(0.75), code: "culture", value: .text("Staph. aureus \"MRSA\" / blood\n"),
            unit: nil, originalValue: "pos\\itive", originalUnit: "", loinc: "600-7", low: -0.0, high: 1e16, comparator: ">=",
            status: "final", abnormalFlags: "HH")))
        try assertSame(.observation(Observation(id: "O-3", subject: "S", time: t, code: "oxygen", value: .flag(true), unit: nil)))
        try assertSame(.observation(Observation(id: "O-4", subject: "S", time: t, code: "oxygen", value: .flag(false), unit: nil, low: 1e-7, high: .leastNonzeroMagnitude)))
        try assertSame(.adverseEvent(AdverseEvent(id: "AE-1", subject: "LYS-01-002", onset: "2026-11", onsetTime: nil, term: "Sepsis",
                                                  meddraPT: nil, grade: nil, serious: [], related: nil, expected: nil, outcome: nil, aware: nil)))
        try assertSame(.adverseEvent(AdverseEvent(id: "AE-2", subject: "LYS-01-002", onset: "2026-11-20", onsetTime: t, term: "Syndrome de Lyell \u{1}",
                                                  meddraPT: "10040070", grade: 4, serious: ["death", "hospitalisation"], related: "probable",
                                                  expected: false, outcome: "fatal", aware: t.addingTimeInterval(3600))))
        try assertSame(.event(ClinicalEvent(id: "E-1", subject: "S", time: t, kind: "infusion")))
        try assertSame(.event(ClinicalEvent(id: "E-2", subject: "S", time: t, kind: "enrolment",
                                            attributes: ["age": "54", "malignancy": "no", "index_date": "2026-11-02", "B": "x", "_": "y", "a10": "", "a9": ""])))
        // Non-ASCII attribute names go to JSONEncoder itself: still the same bytes.
        try assertSame(.event(ClinicalEvent(id: "E-3", subject: "S", time: t, kind: "enrolment", attributes: ["âge": "54", "z": "1", "😀": "", "｡": ""])))
        // A date outside the fast range of ISO8601Coding.
        try assertSame(.event(ClinicalEvent(id: "E-4", subject: "S", time: Date(timeIntervalSince1970: -3e9), kind: "death")))
    }

    func testNonFiniteNumbersThrowAsWithJSONEncoder() {
        let t = Date(timeIntervalSince1970: 1_795_400_000)
        for value in [Double.nan, .infinity, -.infinity] {
            let record = Record.observation(Observation(id: "O", subject: "S", time: t, code: "lactate", value: .number(value), unit: nil))
            XCTAssertThrowsError(try reference.encode(record))
            XCTAssertThrowsError(try Digest.canonicalJSON(record), "\(value)")
            let bound = Record.observation(Observation(id: "O", subject: "S", time: t, code: "lactate", value: .number(1), unit: nil, high: value))
            XCTAssertThrowsError(try Digest.canonicalJSON(bound), "\(value)")
        }
    }

    /// 20,000 random records: every optional present or not, numbers from all of Double's range,
    /// texts with quotes, backslashes, slashes, control characters, DEL, U+2028 and astral characters.
    func testRandomRecordsMatchJSONEncoder() throws {
        var rng = SplitMix64(seed: 0x5EED_CAFE)
        let alphabet: [Unicode.Scalar] = ["a", "Z", "0", " ", "\"", "\\", "/", "\n", "\r", "\t", "\u{8}", "\u{C}", "\u{0}", "\u{1}", "\u{1F}",
                                          "\u{7F}", "é", "\u{301}", "\u{2028}", "\u{FFFD}", "😀", "ß", "µ", "<", "&"]
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func text() -> String {
            var s = String.UnicodeScalarView()
            for _ in 0..<below(12) { s.append(alphabet[below(alphabet.count)]) }
            return String(s)
        }
        func maybe<T>(_ make: () -> T) -> T? { below(2) == 0 ? nil : make() }
        func number() -> Double {
            switch below(4) {
            case 0: return Double(below(100_000)) / 1000 - 50
            case 1: return Double(Int64(bitPattern: rng.next()) >> Int64(below(63)))
            case 2: return pow(10, Double(below(60)) - 30) * Double(below(999) + 1)
            default:
                let d = Double(bitPattern: rng.next())
                return d.isFinite ? d : 0
            }
        }
        func date() -> Date { Date(timeIntervalSince1970: Double(below(8_000_000_000)) - 2_500_000_000 + (below(3) == 0 ? 0.5 : 0)) }
        for _ in 0..<20_000 {
            let record: Record
            switch below(3) {
            case 0:
                let value: ObservationValue = switch below(3) {
                case 0: .number(number())
                case 1: .text(text())
                default: .flag(below(2) == 0)
                }
                record = .observation(Observation(
                    id: text(), subject: text(), time: date(), code: text(), value: value, unit: maybe(text), originalValue: maybe(text),
                    originalUnit: maybe(text), loinc: maybe(text), low: maybe(number), high: maybe(number), comparator: maybe(text),
                    status: maybe(text), abnormalFlags: maybe(text)))
            case 1:
                record = .adverseEvent(AdverseEvent(
                    id: text(), subject: text(), onset: text(), onsetTime: maybe(date), term: text(), meddraPT: maybe(text),
                    grade: maybe { below(11) - 5 }, serious: (0..<below(4)).map { _ in text() }, related: maybe(text),
                    expected: maybe { below(2) == 0 }, outcome: maybe(text), aware: maybe(date)))
            default:
                var attributes: [String: String] = [:]
                for _ in 0..<below(5) { attributes[text()] = text() }
                record = .event(ClinicalEvent(id: text(), subject: text(), time: date(), kind: text(), attributes: attributes))
            }
            let expected = try reference.encode(record)
            let written = try Digest.canonicalJSON(record)
            if written != expected {
                XCTFail("differs for \(record):\nJSONEncoder \(String(decoding: expected, as: UTF8.self))\nwriter      \(String(decoding: written, as: UTF8.self))")
                return
            }
        }
    }

    /// Signal states are written at the end of every transaction by the same writer; a state read
    /// back must be the one written, as JSONEncoder's bytes would give it.
    func testRandomSignalStatesMatchJSONEncoder() throws {
        var rng = SplitMix64(seed: 0x51_6E41)
        let alphabet: [Unicode.Scalar] = ["a", "Z", "0", "-", "/", "\"", "\\", "\n", "\u{1}", "é", "😀"]
        func below(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        func text() -> String {
            var s = String.UnicodeScalarView()
            for _ in 0..<below(10) { s.append(alphabet[below(alphabet.count)]) }
            return String(s)
        }
        func maybe<T>(_ make: () -> T) -> T? { below(2) == 0 ? nil : make() }
        func date() -> Date { Date(timeIntervalSince1970: Double(below(4_000_000_000)) - 1_000_000_000) }
        func severity() -> Severity { Severity.allCases[below(Severity.allCases.count)] }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = ISO8601Coding.decodingStrategy
        for _ in 0..<5_000 {
            let state = SignalState(rule: text(), subject: text(), severity: maybe(severity), since: maybe(date), evidenceTime: date(),
                                    alertID: maybe(text), peak: maybe(severity), endedAt: maybe(date), endedAlertID: maybe(text))
            let expected = try reference.encode(state)
            let written = Data(state.canonicalJSON())
            if written != expected {
                XCTFail("differs for \(state):\nJSONEncoder \(String(decoding: expected, as: UTF8.self))\nwriter      \(String(decoding: written, as: UTF8.self))")
                return
            }
            XCTAssertEqual(try decoder.decode(SignalState.self, from: written), state)
        }
    }
}
