import Foundation

/// The delimiters of one HL7 v2 message, read from its MSH segment (MSH-1 and MSH-2). HL7 v2
/// requires them to be displayable ASCII characters (Health Level Seven, version 2.3, chapter 2,
/// control: "The field separator is required to be chosen from the ASCII displayable character set.
/// All the other special separators ... are also displayable characters"), which lets segments be
/// split on bytes.
struct HL7Encoding: Sendable, Equatable {
    var field: Character = "|"
    var component: Character = "^"
    var repetition: Character = "~"
    var escape: Character = "\\"
    var subcomponent: Character = "&"
    /// The same delimiters as UTF-8 bytes (each one byte, being ASCII).
    private(set) var fieldByte: UInt8 = 0x7C
    private(set) var componentByte: UInt8 = 0x5E
    private(set) var repetitionByte: UInt8 = 0x7E
    private(set) var escapeByte: UInt8 = 0x5C

    /// Reads MSH-1 and MSH-2 from a segment line starting with "MSH"; nil unless they are five
    /// distinct displayable ASCII characters.
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
        let delimiters = [field, component, repetition, escape, subcomponent]
        guard Set(delimiters).count == 5,
              delimiters.allSatisfy({ $0.isASCII && $0.asciiValue.map { (0x20...0x7E).contains($0) } == true })
        else { return nil }
        fieldByte = field.asciiValue!
        componentByte = component.asciiValue!
        repetitionByte = repetition.asciiValue!
        escapeByte = escape.asciiValue!
    }

    init() {}

    /// Writes each delimiter in `text` as its escape sequence (HL7 v2.5 §2.7), so the text is one
    /// field value: the inverse of `unescape` for these five.
    func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case escape: out += "\(escape)E\(escape)"
            case field: out += "\(escape)F\(escape)"
            case component: out += "\(escape)S\(escape)"
            case repetition: out += "\(escape)R\(escape)"
            case subcomponent: out += "\(escape)T\(escape)"
            default: out.append(character)
            }
        }
        return out
    }

    /// Resolves escape sequences (HL7 v2.5 §2.7): \F\ \S\ \T\ \R\ \E\, \.br\ and \Xhh…\.
    func unescape(_ text: String) -> String {
        guard text.utf8.contains(escapeByte) else { return text }
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
/// Fields, repetitions and components are found on the segment's UTF-8 bytes: the delimiters are
/// ASCII, so a delimiter byte is never inside a multi-byte character, and only the text asked for
/// is made into a `String`.
struct HL7Segment: Sendable {
    let index: Int
    let id: String
    let encoding: HL7Encoding
    /// The segment's UTF-8 bytes, then (for MSH, FHS and BHS) one more: the field separator, which
    /// is what MSH-1 holds.
    private let bytes: [UInt8]
    /// Where each field is in `bytes`, in HL7 numbering: `fields[n]` is field n.
    private let fields: [Range<Int>]

    init(index: Int, line: String, encoding: HL7Encoding) {
        self.index = index
        self.encoding = encoding
        var bytes = Array(line.utf8)
        var fields: [Range<Int>] = []
        var start = 0
        for (offset, byte) in bytes.enumerated() where byte == encoding.fieldByte {
            fields.append(start..<offset)
            start = offset + 1
        }
        fields.append(start..<bytes.count)
        id = String(decoding: bytes[fields[0]], as: UTF8.self)
        if id == "MSH" || id == "FHS" || id == "BHS" {
            bytes.append(encoding.fieldByte)  // MSH-1 is the field separator itself
            fields.insert((bytes.count - 1)..<bytes.count, at: 1)
        }
        self.bytes = bytes
        self.fields = fields
    }

    /// Field n's place in `bytes`; empty when absent.
    private func field(_ n: Int) -> Range<Int> { n < fields.count ? fields[n] : bytes.count..<bytes.count }

    /// Field n, raw (escapes still in place); empty when absent.
    func raw(_ n: Int) -> String { String(decoding: bytes[field(n)], as: UTF8.self) }

    /// The repetitions of field n.
    func repetitions(_ n: Int) -> [String] {
        bytes[field(n)].split(separator: encoding.repetitionByte, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// The first repetition of field n.
    private func firstRepetition(_ n: Int) -> Range<Int> {
        let range = field(n)
        return range.lowerBound..<(bytes[range].firstIndex(of: encoding.repetitionByte) ?? range.upperBound)
    }

    /// Component c (1-based) of field n (first repetition, or the given one), unescaped; nil when
    /// empty. Walks to the component instead of splitting the field: a result reads about fifteen.
    func component(_ n: Int, _ c: Int = 1, repetition: String? = nil) -> String? {
        guard let repetition else { return Self.component(c, of: bytes, in: firstRepetition(n), encoding: encoding) }
        let text = Array(repetition.utf8)
        return Self.component(c, of: text, in: text.indices, encoding: encoding)
    }

    static func component(_ c: Int, of bytes: [UInt8], in range: Range<Int>, encoding: HL7Encoding) -> String? {
        var start = range.lowerBound
        for _ in 1..<max(c, 1) {
            guard let separator = bytes[start..<range.upperBound].firstIndex(of: encoding.componentByte) else { return nil }
            start = separator + 1
        }
        let end = bytes[start..<range.upperBound].firstIndex(of: encoding.componentByte) ?? range.upperBound
        return text(bytes[start..<end], encoding: encoding)
    }

    /// The whole field n (first repetition), unescaped, components kept with their separator.
    func value(_ n: Int) -> String? {
        Self.text(bytes[firstRepetition(n)], encoding: encoding)
    }

    /// The text of `slice`, unescaped and trimmed of spaces; nil when that leaves nothing.
    static func text(_ slice: ArraySlice<UInt8>, encoding: HL7Encoding) -> String? {
        guard let first = slice.first, let last = slice.last else { return nil }
        let string = String(decoding: slice, as: UTF8.self)
        // Most components are plain: no escape and nothing to trim (an ASCII byte that is not a
        // space or tab at either end; a byte from 0x80 up may begin a no-break space).
        if first < 0x80, last < 0x80, first != 0x20, first != 0x09, last != 0x20, last != 0x09, !slice.contains(encoding.escapeByte) {
            return string
        }
        let text = encoding.unescape(string).trimmingSpaces()
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
