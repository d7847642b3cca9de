import Foundation

/// The stretch of time a reported time can mean. ISO 8601 reduced precision (as SDTM --DTC allows)
/// makes "2026-12-04" the whole of that day in the site's zone, "2026-11" the whole month,
/// "2026-12-04T10" the hour and "2026-12-04T10:15" the minute; a time to the second is an instant.
///
/// Windows use it conservatively (docs/ARCHITECTURE.md §4, "Windows and reported precision"): an adverse event
/// counts in a window when some instant of its onset period lies inside it, and never otherwise; a
/// window opened by an infusion known only to its day runs from the day's start to the window's
/// length after the day's end, so no event that may fall inside it is missed.
public struct ReportedPeriod: Sendable, Equatable {
    /// The first instant the reported time can mean.
    public var start: Date
    /// The end of the period, exclusive; equal to `start` for an instant.
    public var end: Date

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }

    /// An exact time.
    public static func instant(_ date: Date) -> ReportedPeriod { ReportedPeriod(start: date, end: date) }

    /// True when the period is shorter than a minute: an exact time, as far as windows go.
    public var isInstant: Bool { end.timeIntervalSince(start) < 60 }

    /// The precision of an ISO 8601 text, as the calendar unit its period spans; nil for a time to
    /// the second (an instant).
    public static func precision(of text: String) -> Calendar.Component? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let separator = trimmed.firstIndex(where: { $0 == "T" || $0 == "t" || $0 == " " }) {
            // hh, hh:mm or hh:mm:ss, then an optional fraction and offset.
            let clock = trimmed[trimmed.index(after: separator)...].prefix { $0.isNumber || $0 == ":" }
            switch clock.split(separator: ":").count {
            case 1: return .hour
            case 2: return .minute
            default: return nil
            }
        }
        switch trimmed.split(separator: "-").count {
        case 1: return .year
        case 2: return .month
        default: return .day
        }
    }

    /// The period of `text` (an ISO 8601 date or date-time, possibly reduced) that begins at `start`,
    /// the instant the ingest read it as; calendar units are counted in `zone`, so a day in which the
    /// clocks change is 23 or 25 hours long.
    public static func of(_ text: String, start: Date, zone: TimeZone) -> ReportedPeriod {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        guard let unit = precision(of: text), let end = calendar.date(byAdding: unit, value: 1, to: start), end > start else { return .instant(start) }
        return ReportedPeriod(start: start, end: end)
    }

    /// True when some instant of the period lies in `from ... through` (both ends included).
    public func overlaps(from: Date, through: Date) -> Bool {
        guard from <= through else { return false }
        if end <= start { return start >= from && start <= through }
        return start <= through && end > from
    }

    /// The window of `seconds` opened by this period (an infusion): from its first instant to
    /// `seconds` after its last.
    public func window(seconds: TimeInterval) -> (from: Date, through: Date) {
        (start, max(start, end).addingTimeInterval(seconds))
    }

    /// True when some instant of `event` lies in the window of `seconds` this period opens.
    public func windowContains(_ event: ReportedPeriod, seconds: TimeInterval) -> Bool {
        let window = window(seconds: seconds)
        return event.overlaps(from: window.from, through: window.through)
    }
}

extension AdverseEvent {
    /// The period the reported onset can mean, in the site's `zone`; nil when no onset was read.
    public func onsetPeriod(zone: TimeZone) -> ReportedPeriod? {
        onsetTime.map { ReportedPeriod.of(onset, start: $0, zone: zone) }
    }
}

extension ClinicalEvent {
    /// The attribute that keeps the text of a time sent with reduced precision (a date-only
    /// infusion or disposition), so its period can be told from an exact time.
    public static let reportedTimeAttribute = "reported_time"

    /// The period the event's time can mean in the site's `zone`: its whole day for a date-only
    /// time, else the instant.
    public func period(zone: TimeZone) -> ReportedPeriod {
        attributes[Self.reportedTimeAttribute].map { ReportedPeriod.of($0, start: time, zone: zone) } ?? .instant(time)
    }
}
