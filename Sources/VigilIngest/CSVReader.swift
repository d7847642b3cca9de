import Foundation

/// Splits delimited text (RFC 4180 as spreadsheets really write it) into rows of fields, keeping
/// the line each row starts on: UTF-8 with or without BOM, CRLF or LF, quoted fields holding
/// delimiters, quotes (`""`) and newlines, and `,`, `;` or tab as the delimiter (detected on the header).
public struct CSVReader: Sendable {
    /// One row with the physical line it starts on.
    public struct Row: Sendable, Equatable {
        public var line: Int
        public var fields: [String]
    }

    public let delimiter: UInt8
    public let rows: [Row]

    /// Tokenises `bytes`; fails with a located error on invalid UTF-8 or an unterminated quote.
    public init(bytes input: [UInt8]) throws(RecordError) {
        var bytes = input
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw RecordError(line: JSONRecordParser.firstInvalidUTF8Line(bytes), error: "file is not valid UTF-8", expected: "UTF-8 text")
        }
        delimiter = Self.detectDelimiter(bytes)
        rows = try Self.tokenise(bytes, delimiter: delimiter)
    }

    /// The most frequent of `,` `;` and tab outside quotes on the first line.
    static func detectDelimiter(_ bytes: [UInt8]) -> UInt8 {
        var counts: [UInt8: Int] = [0x2C: 0, 0x3B: 0, 0x09: 0]
        var quoted = false
        for byte in bytes {
            if byte == 0x22 { quoted.toggle() }
            if !quoted, byte == 0x0A || byte == 0x0D { break }
            if !quoted, counts[byte] != nil { counts[byte]! += 1 }
        }
        return counts.max { $0.value == $1.value ? $0.key < $1.key : $0.value < $1.value }?.key ?? 0x2C
    }

    static func tokenise(_ bytes: [UInt8], delimiter: UInt8) throws(RecordError) -> [Row] {
        var rows: [Row] = []
        var fields: [String] = []
        var field: [UInt8] = []
        var line = 1
        var rowLine = 1
        var quoted = false
        var quoteLine = 1
        var index = 0
        func endField() {
            fields.append(String(decoding: field, as: UTF8.self))
            field.removeAll(keepingCapacity: true)
        }
        func endRow() {
            endField()
            if !(fields.count == 1 && fields[0].trimmingSpaces().isEmpty) {
                rows.append(Row(line: rowLine, fields: fields))
            }
            fields.removeAll(keepingCapacity: true)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if quoted {
                if byte == 0x22 {
                    if index + 1 < bytes.count, bytes[index + 1] == 0x22 {
                        field.append(0x22)
                        index += 1
                    } else {
                        quoted = false
                    }
                } else {
                    if byte == 0x0A { line += 1 }
                    field.append(byte)
                }
            } else if byte == 0x22, field.allSatisfy({ $0 == 0x20 }) {
                field.removeAll()
                quoted = true
                quoteLine = line
            } else if byte == delimiter {
                endField()
            } else if byte == 0x0D || byte == 0x0A {
                if byte == 0x0D, index + 1 < bytes.count, bytes[index + 1] == 0x0A { index += 1 }
                endRow()
                line += 1
                rowLine = line
            } else {
                field.append(byte)
            }
            index += 1
        }
        if quoted {
            throw RecordError(line: quoteLine, error: "quoted field is never closed", expected: "a closing \" before the end of the file")
        }
        if !field.isEmpty || !fields.isEmpty { endRow() }
        return rows
    }
}

