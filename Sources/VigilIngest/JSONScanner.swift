import Foundation

/// A JSON value (RFC 8259) as Vigil's JSON reader keeps it. Numbers keep the integer they were
/// written as, when they were written as one, so a value shown back (an event's `age`) reads as
/// the producer wrote it: `45`, not `45.0`.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's value, and the integer when its text had no fraction or exponent and fits.
    case number(Double, integer: Int?)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// The text form used when a value is shown or stored as text.
    var text: String {
        switch self {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(let d, let integer): integer.map(String.init) ?? d.description
        case .string(let s): s
        case .array(let items): "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .object(let fields): "{" + fields.keys.sorted().map { "\($0): \(fields[$0]!.text)" }.joined(separator: ", ") + "}"
        }
    }
}

/// The fields of one JSON record object that Vigil reads (docs/ARCHITECTURE.md §3.2), one slot per
/// field name; other names are checked for valid JSON and skipped. A slot array instead of a
/// dictionary: field names are matched on their bytes, never made into strings.
public struct RecordFields: Sendable {
    /// Every field name Vigil reads in a JSON record.
    public enum Name: Int, CaseIterable, Sendable {
        case type, id, subject, time, code, unit, value, low, high, loinc
        case onset, term, meddraPT, grade, serious, related, expected, outcome, aware
        case kind, age, malignancy, indexDate, location, cause

        /// The name as written in the record.
        public var key: String { Self.keys[rawValue] }

        /// Spelled out, in case order: the hot path reads them on every field.
        static let keys = [
            "type", "id", "subject", "time", "code", "unit", "value", "low", "high", "loinc",
            "onset", "term", "meddra_pt", "grade", "serious", "related", "expected", "outcome", "aware",
            "kind", "age", "malignancy", "index_date", "location", "cause",
        ]

        /// The names' UTF-8 bytes, indexed by raw value, for matching without making strings.
        static let keyBytes: [[UInt8]] = keys.map { Array($0.utf8) }
    }

    private var slots = [JSONValue?](repeating: nil, count: Name.allCases.count)

    public init() {}

    public subscript(name: Name) -> JSONValue? {
        get { slots[name.rawValue] }
        set { slots[name.rawValue] = newValue }
    }
}

/// Why a record's bytes are not the JSON object expected, with the column (in bytes, from 1) of the
/// line where reading stopped.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// Line (from 0) within the record's bytes and column (from 1) of that line.
    public var lineOffset: Int
    public var column: Int
    public var description: String { "\(message) at column \(column)" + (lineOffset > 0 ? " of the record's line \(lineOffset + 1)" : "") }
}

/// A strict RFC 8259 reader over bytes already known to be UTF-8 (the JSON reader checks the whole
/// file first). It reads a record object straight into `RecordFields`, and makes strings and arrays
/// only for the values of fields Vigil reads, so a record costs few allocations beyond the strings
/// the record itself keeps (short ones are stored inline by Swift). Nesting is capped, so hostile
/// input cannot exhaust the stack.
public struct JSONScanner: ~Copyable {
    let bytes: UnsafeBufferPointer<UInt8>
    var index = 0
    static let maxDepth = 256

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
    }

    /// Reads `bytes` as one JSON record: an object, nothing but white space around it. A valid
    /// JSON value that is not an object is reported as `.notAnObject` (the record's error says so).
    public static func record(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<RecordFields, RecordReadError> {
        var scanner = JSONScanner(bytes)
        do throws(JSONSyntaxError) {
            scanner.skipSpace()
            guard scanner.index < bytes.count else { throw scanner.failure("no JSON value") }
            if bytes[scanner.index] != UInt8(ascii: "{") {
                try scanner.skipValue(depth: 0)
                try scanner.expectEnd()
                return .failure(.notAnObject)
            }
            let fields = try scanner.recordObject()
            try scanner.expectEnd()
            return .success(fields)
        } catch {
            return .failure(.syntax(error))
        }
    }

    /// Reads `bytes` as one JSON value of any kind, nothing but white space around it.
    public static func value(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONSyntaxError> {
        var scanner = JSONScanner(bytes)
        do throws(JSONSyntaxError) {
            scanner.skipSpace()
            let value = try scanner.value(depth: 0)
            try scanner.expectEnd()
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    /// Whether `bytes` hold exactly one JSON object (and white space).
    public static func isObject(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if case .success = record(bytes) { return true }
        return false
    }

    /// Whether `bytes` hold exactly one JSON value of any kind (and white space).
    public static func isValue(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        switch record(bytes) {
        case .success, .failure(.notAnObject): true
        case .failure(.syntax): false
        }
    }

    /// What kept a record's bytes from being read.
    public enum RecordReadError: Error, Sendable, Equatable {
        case syntax(JSONSyntaxError)
        case notAnObject
    }

    // MARK: Grammar

    mutating func recordObject() throws(JSONSyntaxError) -> RecordFields {
        var fields = RecordFields()
        index += 1  // {
        skipSpace()
        if peek == UInt8(ascii: "}") {
            index += 1
            return fields
        }
        while true {
            skipSpace()
            guard peek == UInt8(ascii: "\"") else { throw failure("expected a field name in double quotes") }
            let name = try fieldName()
            skipSpace()
            guard peek == UInt8(ascii: ":") else { throw failure("expected ':' after a field name") }
            index += 1
            skipSpace()
            if let name {
                fields[name] = try value(depth: 1)
            } else {
                try skipValue(depth: 1)
            }
            skipSpace()
            switch peek {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"):
                index += 1
                return fields
            default: throw failure("expected ',' or '}' in an object")
            }
        }
    }

    /// Reads a field name; the `RecordFields.Name` it is, or nil for a name Vigil does not read.
    mutating func fieldName() throws(JSONSyntaxError) -> RecordFields.Name? {
        let start = index + 1
        var end = start
        while end < bytes.count, bytes[end] != UInt8(ascii: "\""), bytes[end] != UInt8(ascii: "\\"), bytes[end] >= 0x20 { end += 1 }
        if end < bytes.count, bytes[end] == UInt8(ascii: "\"") {
            index = end + 1
            let candidate = UnsafeBufferPointer(rebasing: bytes[start..<end])
            for (raw, key) in RecordFields.Name.keyBytes.enumerated() where key.count == candidate.count && key.elementsEqual(candidate) {
                return RecordFields.Name(rawValue: raw)
            }
            return nil
        }
        // A name with escapes (or an error): decode it whole, then look it up.
        let name = try string()
        return RecordFields.Name.allCases.first { $0.key == name }
    }

    mutating func value(depth: Int) throws(JSONSyntaxError) -> JSONValue {
        guard depth <= Self.maxDepth else { throw failure("nested deeper than \(Self.maxDepth) levels") }
        switch peek {
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"):
            index += 1
            var object: [String: JSONValue] = [:]
            skipSpace()
            if peek == UInt8(ascii: "}") {
                index += 1
                return .object(object)
            }
            while true {
                skipSpace()
                guard peek == UInt8(ascii: "\"") else { throw failure("expected a field name in double quotes") }
                let key = try string()
                skipSpace()
                guard peek == UInt8(ascii: ":") else { throw failure("expected ':' after a field name") }
                index += 1
                skipSpace()
                object[key] = try value(depth: depth + 1)
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return .object(object)
                default: throw failure("expected ',' or '}' in an object")
                }
            }
        case UInt8(ascii: "["):
            index += 1
            var items: [JSONValue] = []
            skipSpace()
            if peek == UInt8(ascii: "]") {
                index += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                switch peek {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return .array(items)
                default: throw failure("expected ',' or ']' in a list")
                }
            }
        case UInt8(ascii: "t"):
            try literal("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try literal("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try literal("null")
            return .null
        case nil: throw failure("unexpected end of the record")
        case let c? where c == UInt8(ascii: "-") || Self.isDigit(c):
            return try number()
        default: throw failure("unexpected character")
        }
    }

    /// Checks a value Vigil does not read, making nothing of it.
    mutating func skipValue(depth: Int) throws(JSONSyntaxError) {
        guard depth <= Self.maxDepth else { throw failure("nested deeper than \(Self.maxDepth) levels") }
        switch peek {
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            let close = peek == UInt8(ascii: "{") ? UInt8(ascii: "}") : UInt8(ascii: "]")
            let isObject = close == UInt8(ascii: "}")
            index += 1
            skipSpace()
            if peek == close {
                index += 1
                return
            }
            while true {
                skipSpace()
                if isObject {
                    guard peek == UInt8(ascii: "\"") else { throw failure("expected a field name in double quotes") }
                    try skipString()
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { throw failure("expected ':' after a field name") }
                    index += 1
                    skipSpace()
                }
                try skipValue(depth: depth + 1)
                skipSpace()
                if peek == UInt8(ascii: ",") {
                    index += 1
                } else if peek == close {
                    index += 1
                    return
                } else {
                    throw failure(isObject ? "expected ',' or '}' in an object" : "expected ',' or ']' in a list")
                }
            }
        default: _ = try value(depth: depth)
        }
    }

    mutating func literal(_ word: StaticString) throws(JSONSyntaxError) {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw failure("unexpected end of the record") }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] {
            throw failure("unexpected character")
        }
        index += count
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
    mutating func number() throws(JSONSyntaxError) -> JSONValue {
        let start = index
        var integral = true
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, Self.isDigit(first) else { throw failure("expected a digit") }
        index += 1
        if first != UInt8(ascii: "0") { while let c = peek, Self.isDigit(c) { index += 1 } }
        if peek == UInt8(ascii: ".") {
            integral = false
            index += 1
            guard let c = peek, Self.isDigit(c) else { throw failure("expected a digit after the decimal point") }
            while let c = peek, Self.isDigit(c) { index += 1 }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            integral = false
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard let c = peek, Self.isDigit(c) else { throw failure("expected a digit in the exponent") }
            while let c = peek, Self.isDigit(c) { index += 1 }
        }
        let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
        if integral, text.count <= 18 {
            // Exact in an Int and, up to 2^53, in a Double: no text is made.
            var magnitude = 0
            for c in text where c != UInt8(ascii: "-") { magnitude = magnitude * 10 + Int(c &- 0x30) }
            let integer = text[0] == UInt8(ascii: "-") ? -magnitude : magnitude
            return .number(Double(integer), integer: integer)
        }
        let string = String(decoding: text, as: UTF8.self)
        guard let double = Double(string), double.isFinite else { throw failure("number out of range") }
        return .number(double, integer: integral ? Int(string) : nil)
    }

    /// A string's value; escapes decoded. The bytes are valid UTF-8, so only the JSON rules are checked.
    mutating func string() throws(JSONSyntaxError) -> String {
        index += 1  // "
        let start = index
        while let c = peek, c != UInt8(ascii: "\""), c != UInt8(ascii: "\\") {
            guard c >= 0x20 else { throw failure("control character in a string (escape it)") }
            index += 1
        }
        guard let stop = peek else { throw failure("string is not closed") }
        if stop == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
        }
        var decoded = Array(bytes[start..<index])
        while true {
            guard let c = peek else { throw failure("string is not closed") }
            index += 1
            switch c {
            case UInt8(ascii: "\""):
                return String(decoding: decoded, as: UTF8.self)
            case UInt8(ascii: "\\"):
                try escape(into: &decoded)
            default:
                guard c >= 0x20 else {
                    index -= 1
                    throw failure("control character in a string (escape it)")
                }
                decoded.append(c)
            }
        }
    }

    /// Checks a string without making it.
    mutating func skipString() throws(JSONSyntaxError) {
        index += 1
        var scratch: [UInt8] = []
        while true {
            guard let c = peek else { throw failure("string is not closed") }
            index += 1
            switch c {
            case UInt8(ascii: "\""): return
            case UInt8(ascii: "\\"):
                scratch.removeAll(keepingCapacity: true)
                try escape(into: &scratch)
            default:
                guard c >= 0x20 else {
                    index -= 1
                    throw failure("control character in a string (escape it)")
                }
            }
        }
    }

    /// Decodes the escape after a backslash.
    mutating func escape(into out: inout [UInt8]) throws(JSONSyntaxError) {
        guard let c = peek else { throw failure("string is not closed") }
        index += 1
        switch c {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(c)
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "n"): out.append(0x0A)
        case UInt8(ascii: "r"): out.append(0x0D)
        case UInt8(ascii: "t"): out.append(0x09)
        case UInt8(ascii: "u"):
            var scalar = try hex4()
            if (0xD800...0xDBFF).contains(scalar) {
                guard peek == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("unpaired surrogate in a \\u escape")
                }
                index += 2
                let low = try hex4()
                guard (0xDC00...0xDFFF).contains(low) else { throw failure("unpaired surrogate in a \\u escape") }
                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(scalar) {
                throw failure("unpaired surrogate in a \\u escape")
            }
            out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
        default:
            index -= 1
            throw failure("invalid escape in a string")
        }
    }

    mutating func hex4() throws(JSONSyntaxError) -> UInt32 {
        guard index + 4 <= bytes.count else { throw failure("\\u escape needs four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[index]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - UInt8(ascii: "A") + 10)
            default: throw failure("\\u escape needs four hex digits")
            }
            value = value << 4 | digit
            index += 1
        }
        return value
    }

    mutating func expectEnd() throws(JSONSyntaxError) {
        skipSpace()
        guard index == bytes.count else { throw failure("unexpected content after the record") }
    }

    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpace() {
        while index < bytes.count, JSONRecordParser.isSpace(bytes[index]) { index += 1 }
    }

    static func isDigit(_ c: UInt8) -> Bool { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") }

    func failure(_ message: String) -> JSONSyntaxError {
        var lineOffset = 0
        var lineStart = 0
        for i in 0..<min(index, bytes.count) where bytes[i] == 0x0A {
            lineOffset += 1
            lineStart = i + 1
        }
        return JSONSyntaxError(message: message, lineOffset: lineOffset, column: index - lineStart + 1)
    }
}
