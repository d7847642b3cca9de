import XCTest
@testable import VigilCore

/// Immediate-halt rules, toxicity evaluability and SUSAR clocks (docs/ARCHITECTURE.md §4 "Stopping rules";
/// ICH E2A seriousness and reporting timelines; EU Regulation 536/2014 art. 42).
final class StoppingRulesTests: XCTestCase {
    let d0 = Date(timeIntervalSince1970: 1_795_600_000)
    let utc = TimeZone.gmt

    func ae(_ id: String = "AE-1", term: String, grade: Int? = 3, serious: [String] = [], related: String? = "possible",
            expected: Bool? = true, outcome: String? = nil, hoursAfterD0: Double = 2, subject: String = "LYS-01-001", aware: Date? = nil) -> AdverseEvent {
        let onset = d0.addingTimeInterval(hoursAfterD0 * 3600)
        return AdverseEvent(id: id, subject: subject, onset: ISO8601DateFormatter().string(from: onset), onsetTime: onset, term: term, meddraPT: nil,
                            grade: grade, serious: serious, related: related, expected: expected, outcome: outcome, aware: aware)
    }

    func rule(_ id: String) -> HaltRule { HaltRule.defaults.first { $0.id == id }! }

    func testRelatednessFloor() {
        XCTAssertTrue(Relatedness.atLeast("possible", "possible"))
        XCTAssertTrue(Relatedness.atLeast("definite", "possible"))
        XCTAssertFalse(Relatedness.atLeast("unlikely", "possible"))
        XCTAssertTrue(Relatedness.atLeast("related", "probable"), "a binary yes counts as related")
        XCTAssertFalse(Relatedness.atLeast(nil, "possible"))
    }

    func testAnaphylaxisAndInfusionReactionWithin24Hours() {
        XCTAssertTrue(rule("anaphylaxis-24h").matches(ae(term: "Anaphylactic reaction", grade: 2, related: nil, hoursAfterD0: 23), infusion: .instant(d0), zone: utc))
        XCTAssertFalse(rule("anaphylaxis-24h").matches(ae(term: "Anaphylactic reaction", hoursAfterD0: 26), infusion: .instant(d0), zone: utc), "after 24 h")
        XCTAssertTrue(rule("infusion-reaction-24h").matches(ae(term: "Infusion related reaction", grade: 3, hoursAfterD0: 1), infusion: .instant(d0), zone: utc))
        XCTAssertFalse(rule("infusion-reaction-24h").matches(ae(term: "Infusion related reaction", grade: 2, hoursAfterD0: 1), infusion: .instant(d0), zone: utc), "grade 2")
    }

    func testThromboembolismWithin30DaysWhateverTheCausality() {
        XCTAssertTrue(rule("thromboembolism-30d").matches(ae(term: "Pulmonary embolism", related: "not_related", hoursAfterD0: 29 * 24), infusion: .instant(d0), zone: utc))
        XCTAssertFalse(rule("thromboembolism-30d").matches(ae(term: "Deep vein thrombosis", hoursAfterD0: 32 * 24), infusion: .instant(d0), zone: utc))
        XCTAssertTrue(rule("thromboembolism-30d").matches(ae(term: "Deep vein thrombosis"), infusion: nil, zone: utc), "unknown D0: never silently excluded")
    }

    func testRelatedDeathAndSUSAR() {
        XCTAssertTrue(rule("related-death").matches(ae(term: "Septic shock", grade: 5, serious: ["death"], related: "possible", outcome: "fatal"), infusion: .instant(d0), zone: utc))
        XCTAssertFalse(rule("related-death").matches(ae(term: "Septic shock", grade: 5, serious: ["death"], related: "unlikely", outcome: "fatal"), infusion: .instant(d0), zone: utc))
        let susar = ae(term: "Hepatitis", serious: ["hospitalisation"], related: "probable", expected: false)
        XCTAssertTrue(rule("susar").matches(susar, infusion: .instant(d0), zone: utc))
        XCTAssertTrue(SUSARClock.isSUSAR(susar))
        XCTAssertFalse(SUSARClock.isSUSAR(ae(term: "Hepatitis", serious: ["hospitalisation"], related: "probable", expected: true)), "expected: not a SUSAR")
        XCTAssertFalse(SUSARClock.isSUSAR(ae(term: "Hepatitis", serious: [], related: "probable", expected: false)), "not serious")
    }

    /// ICH E2A: fatal or life-threatening SUSARs within 7 days of awareness, others within 15.
    func testSUSARClockDeadlinesAndReminders() {
        let aware = d0
        let fatal = SUSARClock(ae(term: "x", serious: ["death"], related: "possible", expected: false, aware: aware), awareFallback: d0)
        XCTAssertEqual(fatal.days, 7)
        XCTAssertEqual(fatal.due, aware.addingTimeInterval(7 * 86400))
        let other = SUSARClock(ae(term: "x", serious: ["hospitalisation"], related: "possible", expected: false, aware: aware), awareFallback: d0)
        XCTAssertEqual(other.days, 15)
        XCTAssertNil(other.reminder(at: aware.addingTimeInterval(13.9 * 86400)))
        XCTAssertEqual(other.reminder(at: aware.addingTimeInterval(14 * 86400)), "due-24h")
        XCTAssertEqual(other.reminder(at: aware.addingTimeInterval(15 * 86400)), "overdue")
        let noAwareness = SUSARClock(ae(term: "x", serious: ["life_threatening"], related: "possible", expected: false), awareFallback: d0.addingTimeInterval(3600))
        XCTAssertEqual(noAwareness.aware, d0.addingTimeInterval(3600), "without an awareness date, the time Vigil learnt of it")
        XCTAssertEqual(noAwareness.days, 7)
    }

    func testEvaluabilityAndBayesianStop() {
        var monitoring = ToxicityMonitoring()
        let infusions = ["LYS-01-001": d0, "LYS-01-002": d0, "LYS-01-003": d0, "LYS-01-004": d0.addingTimeInterval(5 * 86400)].mapValues(ReportedPeriod.instant)
        let toxic = (1...3).map { ae("AE-\($0)", term: "Rash", grade: 3, related: "probable", hoursAfterD0: 48, subject: "LYS-01-00\($0)") }
        let day3 = d0.addingTimeInterval(3 * 86400)
        let evaluable = monitoring.evaluable(infusions: infusions, adverseEvents: toxic, now: day3, zone: utc)
        XCTAssertEqual(evaluable.map(\.subject), ["LYS-01-001", "LYS-01-002", "LYS-01-003"], "a toxicity makes a subject evaluable before Day 10")
        XCTAssertEqual(monitoring.stopDecision(evaluable)?.rule, "bayesian-toxicity", "3/3: Pr(p > 0.3) = 0.989 > 0.9")
        let notRelated = toxic.map { var a = $0; a.related = "unlikely"; return a }
        XCTAssertEqual(monitoring.evaluable(infusions: infusions, adverseEvents: notRelated, now: day3, zone: utc), [], "no toxicity and Day 10 not reached")
        let day11 = d0.addingTimeInterval(11 * 86400)
        XCTAssertEqual(monitoring.evaluable(infusions: infusions, adverseEvents: notRelated, now: day11, zone: utc).count, 3, "LYS-01-004 reaches Day 10 later")
        monitoring.countRules = [.init(toxicities: 2, amongFirst: 3)]
        monitoring.bayesian.threshold = 0.9999
        XCTAssertEqual(monitoring.stopDecision(evaluable)?.rule, "count-2-of-3")
        XCTAssertFalse(monitoring.isToxicity(ae(term: "Rash", grade: 3, related: "probable", hoursAfterD0: 11 * 24), infusion: .instant(d0), zone: utc), "after Day 10")
    }
}
