import Foundation

/// The stretch of time an adverse event's reported onset can mean. ISO 8601 reduced precision (as
/// SDTM --DTC allows) makes "2026-12-04" the whole of that day in the site's zone, "2026-11" the whole
/// month and "2026-12-04T10:15" the whole minute; a time to the second is an instant.
///
/// A window rule counts an onset when some instant of its period lies inside the window, and never
/// otherwise (docs/ARCHITECTURE.md §4, "Windows and reported precision"): a date-only onset on the day after a
/// 24 h window has closed cannot halt the trial, and one on the day of the infusion is not ruled out
/// because its day began before the infusion.
public struct OnsetPeriod: Sendable, Equatable {
    /// The first instant the onset can mean.
    public var start: Date
    /// The end of the period, exclusive; equal to `start` for an instant.
    public var end: Date

    public init(start: Date, end: Date) {
        self.start = start
        self.end = end
    }

    /// An exact time.
    public static func instant(_ date: Date) -> OnsetPeriod { OnsetPeriod(start: date, end: date) }

    /// The period of `text` (an ISO 8601 date or date-time, possibly reduced) that begins at `start`,
    /// the instant the ingest read it as; calendar units are counted in `zone`, so a day in which the
    /// clocks change is 23 or 25 hours long.
    public static func of(_ text: String, start: Date, zone: TimeZone) -> OnsetPeriod {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let timePart = trimmed.firstIndex(where: { $0 == "T" || $0 == "t" || $0 == " " }).map { trimmed[trimmed.index(after: $0)...] }
        let unit: Calendar.Component?
        if let timePart {
            // hh, hh:mm or hh:mm:ss, then an optional fraction and offset.
            let clock = timePart.prefix { $0.isNumber || $0 == ":" }
            switch clock.split(separator: ":").count {
            case 1: unit = .hour
            case 2: unit = .minute
            default: unit = nil
            }
        } else {
            switch trimmed.split(separator: "-").count {
            case 1: unit = .year
            case 2: unit = .month
            default: unit = .day
            }
        }
        guard let unit, let end = calendar.date(byAdding: unit, value: 1, to: start), end > start else { return .instant(start) }
        return OnsetPeriod(start: start, end: end)
    }

    /// True when some instant of the period lies in `from ... through` (both ends included).
    public func overlaps(from: Date, through: Date) -> Bool {
        guard from <= through else { return false }
        if end <= start { return start >= from && start <= through }
        return start <= through && end > from
    }
}

extension AdverseEvent {
    /// The period the reported onset can mean, in the site's `zone`; nil when no onset was read.
    public func onsetPeriod(zone: TimeZone) -> OnsetPeriod? {
        onsetTime.map { OnsetPeriod.of(onset, start: $0, zone: zone) }
    }
}
