import Foundation

/// The delimiters of one HL7 v2 message, read from its MSH segment (MSH-1 and MSH-2).
struct HL7Encoding: Sendable, Equatable {
    var field: Character = "|"
    var component: Character = "^"
    var repetition: Character = "~"
    var escape: Character = "\\"
    var subcomponent: Character = "&"

    /// Reads MSH-1 and MSH-2 from a segment line starting with "MSH".
    init?(mshLine: String) {
        let chars = Array(mshLine)
        guard chars.count >= 8, String(chars[0..<3]) == "MSH" else { return nil }
        field = chars[3]
        let encoding = chars[4...].prefix { $0 != field }
        guard encoding.count >= 4 else { return nil }
        let e = Array(encoding)
        component = e[0]
        repetition = e[1]
        escape = e[2]
        subcomponent = e[3]
        guard Set([field, component, repetition, escape, subcomponent]).count == 5 else { return nil }
    }

    init() {}

    /// Resolves escape sequences (HL7 v2.5 §2.7): \F\ \S\ \T\ \R\ \E\, \.br\ and \Xhh…\.
    func unescape(_ text: String) -> String {
        guard text.contains(escape) else { return text }
        var out = ""
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            guard c == escape, let close = text[text.index(after: index)...].firstIndex(of: escape) else {
                out.append(c)
                index = text.index(after: index)
                continue
            }
            let sequence = String(text[text.index(after: index)..<close])
            switch sequence {
            case "F": out.append(field)
            case "S": out.append(component)
            case "T": out.append(subcomponent)
            case "R": out.append(repetition)
            case "E": out.append(escape)
            case ".br": out.append("\n")
            default:
                if sequence.hasPrefix("X"), sequence.count > 1, sequence.count % 2 == 1,
                   let bytes = Self.hexBytes(sequence.dropFirst()), let decoded = String(bytes: bytes, encoding: .utf8) {
                    out += decoded
                } else {
                    // Unknown escapes (\H\ highlighting, \Z..\ local) carry no text: keep them visible.
                    out += String(escape) + sequence + String(escape)
                }
            }
            index = text.index(after: close)
        }
        return out
    }

    static func hexBytes(_ hex: Substring) -> [UInt8]? {
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// One segment with its position in the file (1-based, counting segments, for error reports).
struct HL7Segment: Sendable {
    let index: Int
    let id: String
    /// Raw fields in HL7 numbering: `fields[n]` is field n (for MSH, field 1 is the separator).
    let fields: [String]
    let encoding: HL7Encoding

    init(index: Int, line: String, encoding: HL7Encoding) {
        self.index = index
        self.encoding = encoding
        var parts = line.split(separator: encoding.field, omittingEmptySubsequences: false).map(String.init)
        id = parts.first ?? ""
        if id == "MSH" || id == "FHS" || id == "BHS" {
            parts.insert(String(encoding.field), at: 1)  // MSH-1 is the field separator itself
        }
        fields = parts
    }

    /// Field n, raw (escapes still in place); empty when absent.
    func raw(_ n: Int) -> String { n < fields.count ? fields[n] : "" }

    /// The repetitions of field n.
    func repetitions(_ n: Int) -> [String] {
        raw(n).split(separator: encoding.repetition, omittingEmptySubsequences: false).map(String.init)
    }

    /// The first repetition of field n, raw.
    func firstRepetition(_ n: Int) -> Substring {
        let field = raw(n)
        return field[..<(field.firstIndex(of: encoding.repetition) ?? field.endIndex)]
    }

    /// Component c (1-based) of field n (first repetition), unescaped; nil when empty. Walks to the
    /// component instead of splitting the field into arrays: a result reads about fifteen of them.
    func component(_ n: Int, _ c: Int = 1, repetition: String? = nil) -> String? {
        let source = repetition.map { $0[...] } ?? firstRepetition(n)
        var start = source.startIndex
        for _ in 1..<max(c, 1) {
            guard let separator = source[start...].firstIndex(of: encoding.component) else { return nil }
            start = source.index(after: separator)
        }
        let end = source[start...].firstIndex(of: encoding.component) ?? source.endIndex
        let text = encoding.unescape(String(source[start..<end])).trimmingSpaces()
        return text.isEmpty ? nil : text
    }

    /// The whole field n (first repetition), unescaped, components kept with their separator.
    func value(_ n: Int) -> String? {
        let text = encoding.unescape(String(firstRepetition(n))).trimmingSpaces()
        return text.isEmpty ? nil : text
    }
}

/// Reads HL7 date/times (DTM: `YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]`).
enum HL7Time {
    static func isDigit(_ c: Character) -> Bool { c.isASCII && c.isWholeNumber }

    /// The instant, whether it had an offset, and how precise it was (number of digits before any fraction).
    static func parse(_ text: String, zone: TimeZone) -> (date: Date, hadOffset: Bool, digits: Int)? {
        var body = Substring(text.trimmingSpaces())
        var offset: Int?
        if let signIndex = body.lastIndex(where: { $0 == "+" || $0 == "-" }), signIndex != body.startIndex {
            let zoneText = body[body.index(after: signIndex)...]
            guard zoneText.count == 4, zoneText.allSatisfy(isDigit), let hh = Int(zoneText.prefix(2)), let mm = Int(zoneText.suffix(2)),
                  hh <= 14, mm < 60 else { return nil }
            offset = (body[signIndex] == "+" ? 1 : -1) * (hh * 3600 + mm * 60)
            body = body[..<signIndex]
        }
        var fraction = 0.0
        if let dot = body.firstIndex(of: ".") {
            // Digits only: Double would also take "5e300" and move the time by 10^299 seconds.
            let decimals = body[body.index(after: dot)...]
            guard !decimals.isEmpty, decimals.allSatisfy(isDigit), let f = Double("0." + decimals) else { return nil }
            fraction = f
            body = body[..<dot]
        }
        // ASCII digits only: Character.isNumber is also true for "²", "٣" or "１", which Int() refuses.
        guard [4, 6, 8, 10, 12, 14].contains(body.count), body.allSatisfy(isDigit) else { return nil }
        let digits = body.map { Int($0.asciiValue! - 48) }
        func number(_ from: Int, _ count: Int, default value: Int) -> Int {
            from + count <= digits.count ? digits[from..<(from + count)].reduce(0) { $0 * 10 + $1 } : value
        }
        let components = DateComponents(
            year: number(0, 4, default: 0), month: number(4, 2, default: 1), day: number(6, 2, default: 1),
            hour: number(8, 2, default: 0), minute: number(10, 2, default: 0), second: number(12, 2, default: 0))
        guard (1...12).contains(components.month!), (1...31).contains(components.day!), components.hour! < 24,
              components.minute! < 60, components.second! <= 60 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = offset.flatMap { TimeZone(secondsFromGMT: $0) } ?? zone
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == components.day else { return nil }
        return (date.addingTimeInterval(fraction), offset != nil, body.count)
    }
}
