import Foundation
import XCTest
@testable import VigilCore

/// Stored payloads and content hashes depend on the date text byte for byte: a record sent again after
/// an upgrade must hash as before, or it would be taken for an amendment. The fast coding must write and
/// read exactly what Foundation's `.iso8601` strategy does.
final class ISO8601CodingTests: XCTestCase {
    func foundationText(_ date: Date) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return String(decoding: try encoder.encode([date]), as: UTF8.self)
    }

    func fastText(_ date: Date) throws -> String {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = ISO8601Coding.encodingStrategy
        return String(decoding: try encoder.encode([date]), as: UTF8.self)
    }

    func testEncodingMatchesFoundation() throws {
        var times: [Double] = [0, 0.4, 0.5, 0.9999, -0.4, -0.5, -1.5, -86400, -86400.5, 951_782_400, 951_868_799.999, 1_795_400_000.7,
                               -2_208_988_800, -2_208_988_800.5, 253_402_300_799.9, 253_402_300_800, -62_135_596_800, 1e12, 4_107_542_399]
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<5000 { times.append(Double.random(in: -3_000_000_000...260_000_000_000, using: &generator).rounded(.down) + [0, 0.25, 0.999][Int.random(in: 0...2)]) }
        for t in times {
            let date = Date(timeIntervalSince1970: t)
            XCTAssertEqual(try fastText(date), try foundationText(date), "t = \(t)")
        }
    }

    func testDecodingMatchesFoundation() throws {
        let texts = ["2026-01-05T08:00:00Z", "2024-02-29T23:59:59Z", "1900-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "2026-01-05T08:00:00+01:00",
                     "2026-01-05T08:00:00.5Z", "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-01-05T24:00:00Z", "2026-01-05 08:00:00Z",
                     "2026-01-05T08:00Z", "1899-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2026-1-05T08:00:00Z", "２０２６-01-05T08:00:00Z", ""]
        let foundation = JSONDecoder()
        foundation.dateDecodingStrategy = .iso8601
        let fast = JSONDecoder()
        fast.dateDecodingStrategy = ISO8601Coding.decodingStrategy
        for text in texts {
            let json = Data("[\"\(text)\"]".utf8)
            let expected = try? foundation.decode([Date].self, from: json)
            let actual = try? fast.decode([Date].self, from: json)
            XCTAssertEqual(actual, expected, text)
        }
        XCTAssertEqual(ISO8601Coding.fastDate("2026-01-05T08:00:00Z")?.timeIntervalSince1970, 1_767_600_000)
    }
}
