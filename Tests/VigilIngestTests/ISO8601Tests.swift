import XCTest
@testable import VigilIngest

final class ISO8601Tests: XCTestCase {
    let paris = TimeZone(identifier: "Europe/Paris")!

    func testOffsetsAndFractions() {
        let utc = ISO8601.parse("2026-11-23T05:40:00Z", zone: paris)
        XCTAssertEqual(utc?.date, Date(timeIntervalSince1970: 1_795_412_400))
        XCTAssertEqual(utc?.hadOffset, true)
        XCTAssertEqual(ISO8601.parse("2026-11-23T06:40:00+01:00", zone: paris)?.date, utc?.date)
        XCTAssertEqual(ISO8601.parse("2026-11-23T06:40:00+0100", zone: paris)?.date, utc?.date)
        XCTAssertEqual(ISO8601.parse("2026-11-23T00:40:00-05:00", zone: paris)?.date, utc?.date)
        XCTAssertEqual(ISO8601.parse("2026-11-23T05:40:00.250Z", zone: paris)!.date.timeIntervalSince1970, 1_795_412_400.25, accuracy: 1e-6)
        XCTAssertEqual(ISO8601.parse("2026-11-23T05:40Z", zone: paris)?.date, utc?.date)
    }

    func testLocalTimesUseTheSiteZone() {
        let local = ISO8601.parse("2026-11-23T06:40:00", zone: paris)
        XCTAssertEqual(local?.hadOffset, false)
        XCTAssertEqual(local?.date, Date(timeIntervalSince1970: 1_795_412_400))
    }

    func testInvalidValuesAreRefused() {
        for text in ["2026-02-31", "2026-13-01", "23/11/2026", "2026-11-23T25:00:00Z", "2026-11-23T06:40:00+01:00x", "", "2026-11-23T6", "2026-11-23T06:4"] {
            XCTAssertNil(ISO8601.parse(text, zone: paris), text)
        }
        // An hour alone is ISO 8601 reduced precision (SDTM --DTC allows it): the hour's first instant.
        XCTAssertEqual(ISO8601.parse("2026-11-23T06", zone: paris)?.date, ISO8601.parse("2026-11-23T05:00:00Z", zone: paris)?.date)
    }

    func testPartialDates() {
        XCTAssertEqual(ISO8601.parsePartialDate("2026-11", zone: .gmt), ISO8601.parse("2026-11-01T00:00:00Z", zone: .gmt)?.date)
        XCTAssertEqual(ISO8601.parsePartialDate("2026", zone: .gmt), ISO8601.parse("2026-01-01T00:00:00Z", zone: .gmt)?.date)
        XCTAssertNil(ISO8601.parsePartialDate("2026-1x", zone: .gmt))
    }
}
