import XCTest
@testable import VigilCore

/// The one rendering rule for producer text (docs/ARCHITECTURE.md §3.5): a table of hostile strings, each with
/// what must come out, then properties over random Unicode.
final class ProducerTextTests: XCTestCase {
    func testHostileStrings() {
        let table: [(input: String, output: String, why: String)] = [
            ("Toxic epidermal necrolysis\r\nBcc: leak@example.org\r\nAction: no action needed",
             "Toxic epidermal necrolysis<CR><LF>Bcc: leak@example.org<CR><LF>Action: no action needed", "CR/LF header and line forgery"),
            ("\u{1B}[2J\u{1B}[31mAnaphylaxis", "<ESC>[2J<ESC>[31mAnaphylaxis", "terminal escape sequences"),
            ("Rash \u{202E}lanoitcaer", "Rash <U+202E>lanoitcaer", "right-to-left override"),
            ("a\u{2066}b\u{2069}c\u{200F}d\u{061C}e", "a<U+2066>b<U+2069>c<U+200F>d<U+061C>e", "bidi isolates and marks"),
            ("x\u{0}y\u{7F}z", "x<NUL>y<DEL>z", "NUL and DEL"),
            ("a\tb\u{0B}c\u{0C}d", "a<TAB>b<U+000B>c<U+000C>d", "tab, vertical tab, form feed"),
            ("NEL\u{85}CSI\u{9B}2J", "NEL<U+0085>CSI<U+009B>2J", "C1 controls"),
            ("line\u{2028}para\u{2029}end", "line<U+2028>para<U+2029>end", "Unicode line and paragraph separators"),
            ("Ana\u{200B}phylaxis\u{FEFF}", "Ana<U+200B>phylaxis<U+FEFF>", "zero-width space and BOM"),
            ("\u{E000}private", "<U+E000>private", "private use"),
            ("\u{0301}Rash", "<U+0301>Rash", "a leading combining mark would sit on Vigil's text"),
            ("Érythème polymorphe, nécrolyse épidermique toxique", "Érythème polymorphe, nécrolyse épidermique toxique", "accents kept"),
            ("e\u{0301}", "e\u{0301}", "a combining mark after a letter kept"),
            ("👩\u{200D}⚕️ nurse", "👩\u{200D}⚕️ nurse", "zero-width joiner kept"),
            ("C:\\path\\n not a newline", "C:\\path\\n not a newline", "backslashes are plain text"),
            ("already <CR><LF> visible", "already <CR><LF> visible", "rendered text is left alone"),
            ("", "", "empty"),
        ]
        for row in table {
            XCTAssertEqual(ProducerText.visible(row.input), row.output, row.why)
            XCTAssertEqual(ProducerText.visible(row.output), row.output, "idempotent: \(row.why)")
        }
    }

    func testLongTextIsCutWithAMarker() {
        let long = String(repeating: "a", count: 5000)
        let rendered = ProducerText.visible(long, limit: 100)
        XCTAssertEqual(rendered, String(repeating: "a", count: 100) + "… [4900 more characters]")
        XCTAssertEqual(ProducerText.visible(rendered, limit: 100), rendered, "a cut text is not cut again")
        let justOver = String(repeating: "b", count: 120)
        XCTAssertEqual(ProducerText.visible(justOver, limit: 100), justOver, "within the marker's room: kept whole")
    }

    func testShapeNeverHoldsTheValue() {
        let value = "Positive: E. coli, patient Jeanne DUPONT born 1971-03-04"
        let shape = ProducerText.shape(of: value)
        XCTAssertEqual(shape, "text of 56 characters: letters, punctuation or symbols, spaces, digits")
        for word in ["Jeanne", "DUPONT", "1971", "coli"] { XCTAssertFalse(shape.contains(word)) }
        XCTAssertEqual(ProducerText.shape(of: ""), "empty text")
        XCTAssertEqual(ProducerText.shape(of: "\u{1B}"), "text of 1 character: control or invisible characters")
    }

    /// Over random strings drawn from every plane: the output holds no character the rule makes
    /// visible, at most `limit` plus the marker's characters, and rendering it again changes nothing.
    func testRandomUnicodeProperties() {
        var random = SplitMix64(seed: 22)
        for _ in 0..<3000 {
            var text = String.UnicodeScalarView()
            for _ in 0..<Int(random.next() % 80) {
                let pick = random.next()
                let value: UInt32 = switch pick % 4 {
                case 0: UInt32((pick >> 8) % 0x80)
                case 1: UInt32(0x80 + (pick >> 8) % 0x2F80)
                case 2: UInt32(0x2000 + (pick >> 8) % 0x70)
                default: UInt32((pick >> 8) % 0x110000)
                }
                if let scalar = Unicode.Scalar(value) { text.append(scalar) }
            }
            let input = String(text)
            let output = ProducerText.visible(input, limit: 60)
            XCTAssertEqual(ProducerText.visible(output, limit: 60), output, "idempotent")
            for (index, scalar) in output.unicodeScalars.enumerated() {
                XCTAssertNil(ProducerText.escapeName(scalar, leading: index == 0), "U+\(String(scalar.value, radix: 16)) left in \(output.debugDescription)")
            }
            XCTAssertLessThanOrEqual(output.count, 60 + ProducerText.markerRoom)
        }
    }

    func testAlertVisibleRendersEveryTextField() {
        let alert = Alert(rule: "halt-x\n", severity: .halt, subject: "LYS\u{1B}", trial: "T\r", triggerKey: "k", records: ["R\n1"],
                          value: "v\u{202E}", title: "t\n", reason: "r\r\n", action: "a\u{0}",
                          evidence: [Evidence(label: "l\t", value: "e\u{85}", time: nil, record: "x\n")], raisedAt: Date(timeIntervalSince1970: 0))
        let visible = alert.visible
        XCTAssertEqual(visible.id, alert.id)
        let texts = [visible.rule, visible.subject!, visible.trial, visible.value, visible.title, visible.reason, visible.action]
            + visible.records + visible.evidence.flatMap { [$0.label, $0.value, $0.record!] }
        for text in texts { XCTAssertTrue(ProducerText.isVisible(text), text.debugDescription) }
        XCTAssertEqual(visible.title, "t<LF>")
    }
}
