import Foundation
import XCTest
@testable import VigilIngest

/// The parsers' own trimming must trim exactly what Foundation's `CharacterSet.whitespaces` and
/// `.whitespacesAndNewlines` trim: it stands in for them on the hot path and keeps their meaning.
final class TrimmingTests: XCTestCase {
    let samples = [
        "", " ", "\t", "abc", "  4.5 ", "\t4.5\t", "\u{00A0}7\u{00A0}", "\u{2003}x y\u{3000}", "\nline\n", "\r\n12\r\n",
        "\u{0085}z\u{0085}", "\u{2028}p\u{2029}", "\u{000B}v\u{000C}", " é ", "\u{200B}zero-width\u{200B}", "a b\tc", "\u{1680}ogham", "\u{180E}mongolian\u{180E}", "\u{FEFF}bom", "\u{202F}n\u{205F}",
    ]

    func testSpacesMatchFoundationWhitespaces() {
        for sample in samples {
            XCTAssertEqual(sample.trimmingSpaces(), sample.trimmingCharacters(in: .whitespaces), "\(sample.unicodeScalars.map { $0.value })")
            XCTAssertEqual(Substring(sample).trimmingSpaces(), sample.trimmingCharacters(in: .whitespaces))
        }
    }

    func testSpacesAndNewlinesMatchFoundation() {
        for sample in samples {
            XCTAssertEqual(sample.trimmingSpacesAndNewlines(), sample.trimmingCharacters(in: .whitespacesAndNewlines),
                           "\(sample.unicodeScalars.map { $0.value })")
        }
    }
}
