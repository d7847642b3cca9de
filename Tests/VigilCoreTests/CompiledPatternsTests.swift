import XCTest
@testable import VigilCore

/// Compiled patterns remember their answers by text; a remembered answer must be the one the regex
/// gives, for either kind of match, however many texts went through the (bounded) memo.
final class CompiledPatternsTests: XCTestCase {
    func testRememberedAnswersAreTheRegexsOwn() throws {
        let pattern = try CompiledPatterns.compile(ClinicalRules().infectionTermPattern)
        let regex = try Regex(ClinicalRules().infectionTermPattern)
        let terms = ["Sepsis", "septic shock", "Pneumonia", "cellulitis of leg", "Rash", "BACTERAEMIA", "fever", "", "infection",
                     "Skin infection", "Pyrexia", "neutropenia", "Septicémie", "pneumonia\n", "ﬁnfection"]
        for round in 0..<3 {  // the first round computes, the others are answered from memory
            for term in terms {
                XCTAssertEqual(pattern.matches(in: term), (try regex.firstMatch(in: term)) != nil, "'\(term)', round \(round)")
                XCTAssertEqual(pattern.matchesWhole(term), (try regex.wholeMatch(in: term)) != nil, "'\(term)' whole, round \(round)")
            }
        }
        XCTAssertTrue(pattern.matches(in: "Sepsis"))
        XCTAssertFalse(pattern.matchesWhole("septic shock"), "a match somewhere is not a whole match")
        XCTAssertFalse(pattern.matches(in: "Rash"))
    }

    func testTheMemoStaysBoundedAndRightPastItsCapacity() throws {
        let pattern = try CompiledPatterns.compile("^LYS-[0-9]{2}-[0-9]{3}$")
        for index in 0..<(CompiledPatterns.Answers.capacity + 100) {
            let text = index % 3 == 0 ? "LYS-01-\(String(format: "%03d", index % 1000))" : "X-\(index)"
            XCTAssertEqual(pattern.matchesWhole(text), index % 3 == 0, text)
        }
        XCTAssertTrue(pattern.matchesWhole("LYS-01-001"))
        XCTAssertFalse(pattern.matchesWhole("X-1"))
    }
}
