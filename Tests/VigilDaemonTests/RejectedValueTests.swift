import Foundation
import VigilConfig
import VigilCore
import VigilIngest
import XCTest
@testable import VigilDaemon

/// A rejected value is producer text that may be anything, a patient's name included: errors describe
/// it by its shape only, in every parser, in errors.json (which the file ledger keeps) and in the
/// data-quality alert (docs/ARCHITECTURE.md §3.1). Only the original file keeps the value.
final class RejectedValueTests: XCTestCase {
    static let leak = "Positive: E. coli, patient Jeanne DUPONT born 1971-03-04"
    static let shape = "text of 56 characters: letters, punctuation or symbols, spaces, digits"

    func options() throws -> IngestOptions {
        try VigilConfiguration.load(path: "\(ConfigurationTests.root)/config/demo.yaml").ingestOptions()
    }

    func files() -> [(name: String, content: String, field: String)] {
        let json = #"{"type":"observation","id":"L1","subject":"LYS-01-003","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":"\#(Self.leak)","unit":"mmol/L"}"#
        let sdtm = "USUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBDTC\nLYS-01-006,1,LACTICAC,\"\(Self.leak)\",mmol/L,2026-11-23T07:30:00Z\n"
        let hl7 = [
            "MSH|^~\\&|LABSYS|H|VIGIL|LYSYME|20261123074500+0100||ORU^R01^ORU_R01|M1|P|2.5",
            "PID|1||LYS-01-005^^^LYSYME^RI",
            "OBR|1|ORD-1|FIL-1^LABSYS|2524-7^Lactate^LN|||20261123071500+0100",
            "OBX|1|NM|2524-7^Lactate^LN|1|\(Self.leak)|mmol/L|0.5-2.2||||F",
        ].joined(separator: "\r")
        return [("leak.ndjson", json, "value"), ("leak.csv", sdtm, "LBORRES"), ("leak.hl7", hl7, "OBX-5")]
    }

    func testEveryParserDescribesTheRejectedValueByItsShape() throws {
        let options = try options()
        for file in files() {
            let result = InboxFormat.parse(Data(file.content.utf8), extension: (file.name as NSString).pathExtension, options: options)
            XCTAssertEqual(result.records.count, 0, file.name)
            let error = try XCTUnwrap(result.errors.first, file.name)
            XCTAssertEqual(error.field, file.field, file.name)
            XCTAssertEqual(error.valueShape, Self.shape, file.name)
            XCTAssertEqual(error.rejectedValue, Self.leak, "\(file.name): kept in memory for vigilctl check")
            let report = FileProcessor.errorsJSON(file: file.name, errors: result.errors)
            let alert = Evaluator(configuration: try VigilConfiguration.load(path: "\(ConfigurationTests.root)/config/demo.yaml"), now: Date())
                .dataQualityAlert(fileName: file.name, triggerKey: "k", errors: result.errors, applied: 0)
            let mail = AlertMail(configuration: try VigilConfiguration.load(path: "\(ConfigurationTests.root)/config/demo.yaml")).render(alert)
            let written = [error.summary, error.detail, report, mail, alert.journalFields(timeZone: .gmt, instance: "t").map(\.1).joined()]
            for text in written {
                for part in ["DUPONT", "Jeanne", "1971-03-04", "E. coli"] {
                    XCTAssertFalse(text.contains(part), "\(file.name): '\(part)' written in \(text)")
                }
            }
            XCTAssertTrue(report.contains(Self.shape), "\(file.name): \(report)")
            XCTAssertTrue(error.summary.contains("found \(Self.shape)"), "\(file.name): \(error.summary)")
        }
    }
}
