import XCTest
import VigilConfig
import VigilCore
@testable import VigilDaemon

final class AlertMailTests: XCTestCase {
    let configuration = try! VigilConfiguration.parse(ConfigurationTests.valid, file: "t.yaml", workingDirectory: "/tmp")

    func alert(_ severity: Severity) -> Alert {
        Alert(rule: "lactate", severity: severity, subject: "LYS-01-003", trial: "LYSYME", triggerKey: "LAB-1|\(severity)", records: ["LAB-1"],
              value: "4.5 mmol/L", title: "LYS-01-003 lactate 4.5 mmol/L", reason: "Lactate 4.5 mmol/L ≥ 4 mmol/L (critical threshold).",
              action: "Review the subject now: assess perfusion, mean arterial pressure and vasopressor need, and the infection work-up; repeat lactate.",
              evidence: [Evidence(label: "lactate", value: "4.5 mmol/L", time: Date(timeIntervalSince1970: 1_795_412_400), record: "LAB-1")],
              raisedAt: Date(timeIntervalSince1970: 1_795_413_000))
    }

    func testMessageIsWellFormedMIME() throws {
        let a = alert(.critical)
        let message = AlertMail(configuration: configuration).render(a)
        let parts = message.components(separatedBy: "\r\n\r\n")
        let head = parts[0]
        XCTAssertTrue(head.contains("Subject: [VIGIL CRITICAL] LYS-01-003 lactate 4.5 mmol/L"))
        XCTAssertTrue(head.contains("Message-ID: <\(a.id)@"))
        XCTAssertTrue(head.contains("To: oncall@site.invalid"))
        XCTAssertTrue(head.contains("Date: Mon, 23 Nov 2026 05:50:00 +0000"))
        XCTAssertTrue(head.contains("Content-Transfer-Encoding: quoted-printable"))
        for line in message.components(separatedBy: "\r\n") {
            XCTAssertLessThanOrEqual(line.count, 78, line)
            XCTAssertTrue(line.unicodeScalars.allSatisfy(\.isASCII), "8-bit text must be encoded: \(line)")
        }
        let body = AlertMail(configuration: configuration).body(a)
        XCTAssertTrue(body.contains("vigilctl ack \(a.id)"))
        XCTAssertTrue(body.contains("2026-11-23 06:40 +01:00"), "evidence time in the site zone")
        XCTAssertTrue(message.contains("=E2=89=A5"), "≥ is quoted-printable")
    }

    func testWarningFallsBackToTheNextSevereList() {
        let mail = AlertMail(configuration: configuration)
        XCTAssertEqual(mail.to(for: .warning), ["oncall@site.invalid"])
        XCTAssertEqual(mail.to(for: .halt), ["pv@site.invalid"])
    }

    func testQuotedPrintableRoundTrips() {
        let text = String(repeating: "é", count: 60) + " end \nnext = line "
        let encoded = AlertMail.quotedPrintable(text)
        XCTAssertTrue(encoded.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        // Decode: join soft breaks, then =XX escapes.
        let joined = encoded.replacingOccurrences(of: "=\r\n", with: "")
        var bytes: [UInt8] = []
        var index = joined.startIndex
        while index < joined.endIndex {
            if joined[index] == "=", let end = joined.index(index, offsetBy: 3, limitedBy: joined.endIndex),
               let byte = UInt8(joined[joined.index(after: index)..<end], radix: 16) {
                bytes.append(byte)
                index = end
            } else {
                bytes.append(contentsOf: Array(String(joined[index]).utf8))
                index = joined.index(after: index)
            }
        }
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "\r\n", with: "\n"), text)
    }

    func testNonASCIIHeaderIsEncodedWord() {
        let encoded = AlertMail.encodeHeader("Lactate ≥ 4")
        XCTAssertTrue(encoded.hasPrefix("=?UTF-8?B?"))
        XCTAssertEqual(AlertMail.encodeHeader("plain"), "plain")
    }
}
