import Foundation
import XCTest
@testable import VigilCore

/// Windows against the precision of a reported onset (docs/ARCHITECTURE.md §4, "Windows and reported
/// precision"; ISO 8601 reduced precision as CDISC SDTM --DTC uses it): an onset counts in a window
/// when some instant of its reported day, month or minute lies inside the window, and only then.
/// Each window is tested at both edges: the 24 h halt windows, the 30-day thromboembolism window
/// and the toxicity window to Day 10.
final class OnsetWindowTests: XCTestCase {
    let utc = TimeZone.gmt
    let paris = TimeZone(identifier: "Europe/Paris")!
    /// The infusion of the worked example of docs/ARCHITECTURE.md §4, "Windows and reported
    /// precision": 2026-12-02T10:00Z.
    let d0 = ISO8601DateFormatter().date(from: "2026-12-02T10:00:00Z")!

    /// An adverse event with `onset` as sent, its start read as the ingest reads it (a date at local
    /// midnight in `zone`, a time with its own offset).
    func ae(_ term: String, onset: String, zone: TimeZone, grade: Int = 3, related: String = "possible") -> AdverseEvent {
        AdverseEvent(id: "AE-1", subject: "LYS-01-001", onset: onset, onsetTime: start(onset, zone: zone), term: term, meddraPT: nil,
                     grade: grade, serious: [], related: related, expected: true, outcome: nil, aware: nil)
    }

    func start(_ text: String, zone: TimeZone) -> Date {
        if text.contains("T") {
            let formatter = ISO8601DateFormatter()
            return formatter.date(from: text.count == 17 ? text.replacingOccurrences(of: "Z", with: ":00Z") : text)!
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = text.split(separator: "-").map { Int($0)! }
        return calendar.date(from: DateComponents(year: parts[0], month: parts.count > 1 ? parts[1] : 1, day: parts.count > 2 ? parts[2] : 1))!
    }

    func halt(_ id: String) -> HaltRule { HaltRule.defaults.first { $0.id == id }! }

    /// The worked example of docs/ARCHITECTURE.md §4: anaphylaxis reported on 2026-12-04 after an
    /// infusion at 2026-12-02T10:00Z.
    /// The whole day is 38 to 62 h after the infusion and the window is 24 h: no halt.
    func testDateOnlyOnsetAfterTheWindowDoesNotHalt() {
        XCTAssertFalse(halt("anaphylaxis-24h").matches(ae("Anaphylactic reaction", onset: "2026-12-04", zone: utc), infusion: .instant(d0), zone: utc))
    }

    /// Both 24 h windows (anaphylaxis, grade ≥ 3 infusion reaction) end at 2026-12-03T10:00Z.
    func testTwentyFourHourWindowsAtBothEdges() {
        for (id, term) in [("anaphylaxis-24h", "Anaphylactic reaction"), ("infusion-reaction-24h", "Infusion related reaction")] {
            let rule = halt(id)
            func matches(_ onset: String, _ zone: TimeZone) -> Bool { rule.matches(ae(term, onset: onset, zone: zone), infusion: .instant(d0), zone: zone) }
            // Upper edge.
            XCTAssertTrue(matches("2026-12-03", utc), "\(id): the day holding the window's end")
            XCTAssertFalse(matches("2026-12-04", utc), "\(id): the day after the window's end")
            XCTAssertTrue(matches("2026-12-03T10:00Z", utc), "\(id): the window's last minute")
            XCTAssertFalse(matches("2026-12-03T10:01Z", utc), "\(id): the minute after")
            XCTAssertFalse(matches("2026-12-03T10:00:01Z", utc), "\(id): one second after, to the second")
            // Lower edge: the infusion day began before the infusion and still counts; the day before does not.
            XCTAssertTrue(matches("2026-12-02", utc), "\(id): the infusion day")
            XCTAssertFalse(matches("2026-12-01", utc), "\(id): the day before the infusion")
            XCTAssertTrue(matches("2026-12-02T10:00Z", utc), "\(id): the infusion minute")
            XCTAssertFalse(matches("2026-12-02T09:59Z", utc), "\(id): the minute before the infusion")
            // Month precision: the month holds the window.
            XCTAssertTrue(matches("2026-12", utc), "\(id): the infusion month")
            XCTAssertFalse(matches("2026-11", utc), "\(id): the month before")
        }
    }

    /// The day of a date-only onset is the site's day: in Paris (UTC+1 in December) 2026-12-03 is
    /// 2026-12-02T23:00Z to 2026-12-03T23:00Z.
    func testTheDayIsCountedInTheSiteZone() {
        let rule = halt("anaphylaxis-24h")
        let lateInfusion = ISO8601DateFormatter().date(from: "2026-12-02T23:30:00Z")!  // 00:30 on 3 December in Paris
        let onset = "2026-12-02"
        XCTAssertFalse(rule.matches(ae("Anaphylactic reaction", onset: onset, zone: paris), infusion: .instant(lateInfusion), zone: paris),
                       "2 December in Paris ended at 23:00Z, before the infusion")
        XCTAssertTrue(rule.matches(ae("Anaphylactic reaction", onset: onset, zone: utc), infusion: .instant(lateInfusion), zone: utc),
                      "2 December in UTC runs to 24:00Z, past the infusion")
        let windowEnd = lateInfusion.addingTimeInterval(86400)  // 2026-12-03T23:30Z = 00:30 on 4 December in Paris
        XCTAssertEqual(windowEnd, ISO8601DateFormatter().date(from: "2026-12-03T23:30:00Z")!)
        XCTAssertTrue(rule.matches(ae("Anaphylactic reaction", onset: "2026-12-04", zone: paris), infusion: .instant(lateInfusion), zone: paris),
                      "4 December in Paris began at 23:00Z, inside the window")
        XCTAssertFalse(rule.matches(ae("Anaphylactic reaction", onset: "2026-12-04", zone: utc), infusion: .instant(lateInfusion), zone: utc),
                       "4 December in UTC begins after the window")
    }

    /// 30 days of the thromboembolism rule: 720 h after 2026-12-02T10:00Z is 2027-01-01T10:00Z.
    func testThromboembolismWindowAtBothEdges() {
        let rule = halt("thromboembolism-30d")
        func matches(_ onset: String) -> Bool { rule.matches(ae("Pulmonary embolism", onset: onset, zone: utc), infusion: .instant(d0), zone: utc) }
        XCTAssertTrue(matches("2027-01-01"), "the 30th day after, holding the window's end")
        XCTAssertFalse(matches("2027-01-02"), "the day after the window's end")
        XCTAssertTrue(matches("2026-12-02"), "the infusion day")
        XCTAssertFalse(matches("2026-12-01"), "the day before")
        XCTAssertTrue(matches("2027-01"), "January 2027 holds the window's last hours")
        XCTAssertFalse(matches("2027-02"), "February 2027 is after the window")
        XCTAssertFalse(matches("2026-11"), "November 2026 ended before the infusion")
        XCTAssertTrue(matches("2026"), "the year of the infusion")
        XCTAssertFalse(matches("2025"), "a year that ended before it")
    }

    /// Toxicity: grade ≥ 3, at least possibly related, onset by Day 10 (2026-12-12T10:00Z here).
    func testToxicityWindowToDayTenAtBothEdges() {
        let monitoring = ToxicityMonitoring()
        func toxic(_ onset: String) -> Bool { monitoring.isToxicity(ae("Rash", onset: onset, zone: utc), infusion: .instant(d0), zone: utc) }
        XCTAssertTrue(toxic("2026-12-12"), "Day 10 itself")
        XCTAssertFalse(toxic("2026-12-13"), "the day after Day 10")
        XCTAssertTrue(toxic("2026-12-12T10:00Z"), "the last minute of the window")
        XCTAssertFalse(toxic("2026-12-12T10:01Z"), "the minute after")
        XCTAssertTrue(toxic("2026-12-02"), "the infusion day")
        XCTAssertFalse(toxic("2026-12-01"), "the day before the infusion")
        XCTAssertFalse(toxic("2026-12-02T09:00Z"), "an hour before the infusion")
    }

    /// An infusion known to its day only (SDTM EXSTDTC "2026-12-02"): the window opens at the day's
    /// first instant and closes its length after the day's last, so every instant the infusion may
    /// have been at is covered and no event that may lie inside is missed.
    func testDateOnlyInfusionOpensTheWindowForTheWholeDay() {
        let day = ReportedPeriod.of("2026-12-02", start: start("2026-12-02", zone: utc), zone: utc)
        XCTAssertFalse(day.isInstant)
        let rule = halt("anaphylaxis-24h")
        func matches(_ onset: String) -> Bool { rule.matches(ae("Anaphylactic reaction", onset: onset, zone: utc), infusion: day, zone: utc) }
        // Upper edge: 24 h after the end of 2 December is 2026-12-04T00:00Z.
        XCTAssertTrue(matches("2026-12-03T23:59Z"), "24 h after some instant of the infusion day")
        XCTAssertTrue(matches("2026-12-04T00:00Z"), "24 h after the day's last instant")
        XCTAssertFalse(matches("2026-12-04T00:01Z"), "more than 24 h after any instant of the day")
        XCTAssertFalse(matches("2026-12-05"), "the whole day is over 24 h after the infusion day")
        // Lower edge: the day before the infusion day is outside.
        XCTAssertTrue(matches("2026-12-02T00:00Z"), "the infusion day's first minute")
        XCTAssertFalse(matches("2026-12-01T23:59Z"), "the minute before the infusion day")
        // Day 10 counts from the day's end for evaluability: 2026-12-13T00:00Z.
        let monitoring = ToxicityMonitoring()
        let noToxicity: [AdverseEvent] = []
        XCTAssertEqual(monitoring.evaluable(infusions: ["LYS-01-001": day], adverseEvents: noToxicity, now: start("2026-12-12T23:59:00Z", zone: utc), zone: utc), [],
                       "Day 10 may not have passed yet")
        XCTAssertEqual(monitoring.evaluable(infusions: ["LYS-01-001": day], adverseEvents: noToxicity, now: start("2026-12-13T00:00:00Z", zone: utc), zone: utc).count, 1,
                       "Day 10 has passed whenever on 2 December the infusion was")
        XCTAssertTrue(monitoring.isToxicity(ae("Rash", onset: "2026-12-12T23:00Z", zone: utc), infusion: day, zone: utc), "may be by Day 10")
        XCTAssertFalse(monitoring.isToxicity(ae("Rash", onset: "2026-12-13T00:01Z", zone: utc), infusion: day, zone: utc), "after Day 10 whatever the time")
    }

    /// A day is what the site's calendar says: 23 h when the clocks go forward (Paris, 28 March
    /// 2027), 25 h when they go back (25 October 2026).
    func testDaysAcrossClockChangesAreTheCalendarsDays() {
        let spring = ReportedPeriod.of("2027-03-28", start: start("2027-03-28", zone: paris), zone: paris)
        XCTAssertEqual(spring.end.timeIntervalSince(spring.start), 23 * 3600)
        let autumn = ReportedPeriod.of("2026-10-25", start: start("2026-10-25", zone: paris), zone: paris)
        XCTAssertEqual(autumn.end.timeIntervalSince(autumn.start), 25 * 3600)
        let instant = ReportedPeriod.of("2026-12-03T10:00:00Z", start: d0, zone: paris)
        XCTAssertEqual(instant.start, instant.end, "a time to the second is an instant")
        let minute = ReportedPeriod.of("2026-12-03T10:00+01:00", start: d0, zone: paris)
        XCTAssertEqual(minute.end.timeIntervalSince(minute.start), 60)
    }
}
