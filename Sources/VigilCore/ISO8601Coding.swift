import Foundation

/// The JSON date coding of stored payloads and content hashes: byte for byte what Foundation's
/// `.iso8601` strategy writes (`2026-01-05T08:00:00Z`, UTC, whole seconds rounded down) and reads, but
/// without a date formatter per date, which is costly for a step every stored record takes.
/// Dates outside 1900…9999 and texts in any other shape go to Foundation, so the edges keep
/// Foundation's answers; ISO8601CodingTests holds the two to the same answers.
public enum ISO8601Coding {
    public static let encodingStrategy: JSONEncoder.DateEncodingStrategy = .custom { date, encoder in
        var container = encoder.singleValueContainer()
        try container.encode(string(from: date))
    }

    public static let decodingStrategy: JSONDecoder.DateDecodingStrategy = .custom { decoder in
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let date = date(from: text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "Expected date string to be ISO8601-formatted.")
        }
        return date
    }

    /// 1900-01-01T00:00:00Z and 10000-01-01T00:00:00Z: inside, the proleptic Gregorian arithmetic
    /// below agrees with Foundation's calendar (which switches to Julian before 1582).
    static let fastRange: Range<Double> = -2_208_988_800 ..< 253_402_300_800

    public static func string(from date: Date) -> String {
        let t = date.timeIntervalSince1970
        guard fastRange.contains(t) else {
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: date)
        }
        let c = utcComponents(secondsSince1970: Int64(t.rounded(.down)))
        var text = ""
        text.reserveCapacity(20)
        append(c.year, width: 4, to: &text)
        text += "-"
        append(c.month, width: 2, to: &text)
        text += "-"
        append(c.day, width: 2, to: &text)
        text += "T"
        append(c.hour, width: 2, to: &text)
        text += ":"
        append(c.minute, width: 2, to: &text)
        text += ":"
        append(c.second, width: 2, to: &text)
        text += "Z"
        return text
    }

    /// The UTC calendar date and time of a whole second since 1970, proleptic Gregorian (no
    /// formatter, no locale). Shared with vigil-bench's file generator.
    public static func utcComponents(secondsSince1970 seconds: Int64)
        -> (year: Int64, month: Int64, day: Int64, hour: Int64, minute: Int64, second: Int64) {
        var days = seconds / 86400
        var secondOfDay = seconds % 86400
        if secondOfDay < 0 {
            secondOfDay += 86400
            days -= 1
        }
        let (year, month, day) = civil(fromDays: days)
        return (year, month, day, secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
    }

    public static func date(from text: String) -> Date? {
        if let fast = fastDate(text) { return fast }
        return try? Date(text, strategy: .iso8601)
    }

    /// `YYYY-MM-DDTHH:MM:SSZ` exactly, with a valid day and time; anything else is nil.
    static func fastDate(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
              bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z") else { return nil }
        func number(_ from: Int, _ count: Int) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[from ..< from + count] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let year = number(0, 4), let month = number(5, 2), let day = number(8, 2), let hour = number(11, 2),
              let minute = number(14, 2), let second = number(17, 2),
              year >= 1900, (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year),
              hour < 24, minute < 60, second < 60 else { return nil }
        let days = self.days(fromCivil: year, month, day)
        return Date(timeIntervalSince1970: Double(days * 86400 + hour * 3600 + minute * 60 + second))
    }

    static func daysIn(month: Int64, year: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    // Howard Hinnant's days_from_civil / civil_from_days (proleptic Gregorian, day 0 = 1970-01-01).
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (month <= 2 ? yoe + era * 400 + 1 : yoe + era * 400, month, day)
    }

    private static func append(_ value: Int64, width: Int, to text: inout String) {
        let digits = String(value)
        if digits.count < width { text += String(repeating: "0", count: width - digits.count) }
        text += digits
    }
}
