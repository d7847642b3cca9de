import Foundation
import VigilConfig
import VigilIngest
import XCTest
@testable import VigilDaemon

/// `samples/bad/`: one file per kind of bad input, each with `NAME.expected` holding the error text a
/// producer must see (located by line or segment and field). Parsed with the shipped demo configuration.
final class BadCorpusTests: XCTestCase {
    func testEveryBadSampleGivesItsExpectedLocatedError() throws {
        let root = ConfigurationTests.root
        let options = try VigilConfiguration.load(path: "\(root)/config/demo.yaml").ingestOptions()
        let directory = "\(root)/samples/bad"
        let samples = try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasSuffix(".expected") }.sorted()
        XCTAssertGreaterThanOrEqual(samples.count, 12)
        for name in samples {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\(name)"))
            let expected = try String(contentsOfFile: "\(directory)/\(name).expected", encoding: .utf8).split(separator: "\n").map(String.init)
            let result = InboxFormat.parse(data, extension: (name as NSString).pathExtension, options: options)
            XCTAssertEqual(result.records, [], "\(name): no record is usable")
            let summaries = result.errors.map(\.summary)
            for line in expected {
                XCTAssertTrue(summaries.contains { $0.hasPrefix(line) }, "\(name): expected «\(line)», got \(summaries)")
            }
        }
    }
}
