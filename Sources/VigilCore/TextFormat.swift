import Foundation
import Synchronization

/// The text forms shared by mail, journal entries and vigilctl's tables: site wall-clock times,
/// RFC 5322 dates, and padding counted in characters.
public enum TextFormat {
    /// `text` followed by spaces up to `width` characters. Counted in characters, as the widths are:
    /// Foundation's `padding(toLength:)` counts UTF-16 units and cut values holding emoji or other
    /// characters outside the Basic Multilingual Plane.
    public static func pad(_ text: String, to width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    /// "2026-11-23 06:40 +01:00": local wall-clock time with its offset, unambiguous and readable.
    public static func siteTime(_ date: Date, zone: TimeZone) -> String {
        formatted(date, zone: zone, format: "yyyy-MM-dd HH:mm xxx")
    }

    public static func rfc5322Date(_ date: Date) -> String {
        formatted(date, zone: TimeZone(secondsFromGMT: 0)!, format: "EEE, dd MMM yyyy HH:mm:ss '+0000'")
    }

    /// Formatters made once per zone and format and used under a lock: a DateFormatter is an ICU
    /// formatter, too costly to make for every evidence time of every alert.
    private static let formatters = Mutex<[String: DateFormatter]>([:])

    private static func formatted(_ date: Date, zone: TimeZone, format: String) -> String {
        formatters.withLock { formatters in
            let key = zone.identifier + "\u{0}" + format
            if let formatter = formatters[key] { return formatter.string(from: date) }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = zone
            formatter.dateFormat = format
            formatters[key] = formatter
            return formatter.string(from: date)
        }
    }
}
