import Foundation

/// Reads the ISO 8601 forms producers send: full date-times with `Z` or `±hh:mm` offsets, with or
/// without seconds and fractions, local date-times (read in the site zone), and dates.
public enum ISO8601 {
    /// A parsed time and whether it carried its own offset.
    public struct Parsed: Sendable, Equatable {
        public var date: Date
        public var hadOffset: Bool
    }

    /// Parses `text`; a value without offset is placed in `zone`. Returns nil when not ISO 8601.
    public static func parse(_ text: String, zone: TimeZone) -> Parsed? {
        let chars = Array(text.trimmingSpaces().utf8)
        var index = 0
        func digits(_ count: Int) -> Int? {
            guard index + count <= chars.count else { return nil }
            var value = 0
            for offset in 0..<count {
                let c = chars[index + offset]
                guard c >= 48, c <= 57 else { return nil }
                value = value * 10 + Int(c - 48)
            }
            index += count
            return value
        }
        func take(_ c: UInt8) -> Bool {
            guard index < chars.count, chars[index] == c else { return false }
            index += 1
            return true
        }
        guard let year = digits(4), take(45), let month = digits(2), take(45), let day = digits(2) else { return nil }
        var components = DateComponents(year: year, month: month, day: day, hour: 0, minute: 0, second: 0)
        var nanos = 0
        var offsetSeconds: Int?
        if index < chars.count {
            guard take(84) || take(116) || take(32) else { return nil }  // 'T', 't' or ' '
            // An hour alone (`2026-11-23T06`) is ISO 8601 reduced precision, as SDTM --DTC allows.
            guard let hour = digits(2) else { return nil }
            components.hour = hour
            var hasMinutes = false
            if take(58) {
                guard let minute = digits(2) else { return nil }
                components.minute = minute
                hasMinutes = true
            }
            if hasMinutes, take(58) {
                guard let second = digits(2) else { return nil }
                components.second = second
                if take(46) || take(44) {
                    var scale = 100_000_000
                    var any = false
                    while index < chars.count, chars[index] >= 48, chars[index] <= 57 {
                        nanos += Int(chars[index] - 48) * scale
                        scale /= 10
                        index += 1
                        any = true
                    }
                    guard any else { return nil }
                }
            }
            if take(90) || take(122) {
                offsetSeconds = 0
            } else if index < chars.count {
                let sign: Int
                if take(43) { sign = 1 } else if take(45) { sign = -1 } else { return nil }
                guard let oh = digits(2) else { return nil }
                _ = take(58)
                let om = digits(2) ?? 0
                guard oh <= 14, om < 60 else { return nil }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            }
            guard index == chars.count else { return nil }
        }
        guard (1...12).contains(month), (1...31).contains(day), (0...23).contains(components.hour!),
              (0...59).contains(components.minute!), (0...60).contains(components.second!)
        else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        if let offsetSeconds {
            guard let fixed = TimeZone(secondsFromGMT: offsetSeconds) else { return nil }
            calendar.timeZone = fixed
        } else {
            calendar.timeZone = zone
        }
        guard let date = calendar.date(from: components),
              calendar.component(.day, from: date) == day  // refuses 2026-02-31
        else { return nil }
        return Parsed(date: date.addingTimeInterval(Double(nanos) / 1e9), hadOffset: offsetSeconds != nil)
    }

    /// Accepts a partial date (`2026`, `2026-11`) or a full one and returns the earliest instant it
    /// can mean in `zone`; a partial date keeps its precision in the record's text.
    public static func parsePartialDate(_ text: String, zone: TimeZone) -> Date? {
        let trimmed = text.trimmingSpaces()
        let parts = trimmed.split(separator: "-", omittingEmptySubsequences: false)
        if parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }), parts[0].count == 4 {
            let padded = parts.count == 1 ? trimmed + "-01-01" : trimmed + "-01"
            return parse(padded, zone: zone)?.date
        }
        return parse(trimmed, zone: zone)?.date
    }
}
