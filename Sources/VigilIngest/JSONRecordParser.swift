import Foundation
import VigilCore

/// Parses Vigil's own JSON contract (docs/ARCHITECTURE.md §3.2): a `.json` file holding one record or an array
/// of records, or a `.ndjson` file with one record per line. Each record is validated on its own, so
/// one bad record never hides the good ones; every error names its line and field.
public struct JSONRecordParser: Sendable {
    public let options: IngestOptions

    public init(options: IngestOptions) {
        self.options = options
    }

    public func parse(_ data: Data) -> ParseResult {
        var result = ParseResult()
        var bytes = [UInt8](data)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes.removeFirst(3) }
        bytes.withUnsafeBufferPointer { buffer in
            let chunks: [Chunk]
            switch Self.split(buffer) {
            case .success(let found): chunks = found
            case .failure(let error):
                result.errors.append(error)
                return
            }
            if chunks.isEmpty {
                result.errors.append(RecordError(line: 1, error: "file holds no record", expected: "a JSON object per record"))
            }
            for chunk in chunks {
                let fields: RecordFields
                switch JSONScanner.record(UnsafeBufferPointer(rebasing: buffer[chunk.bytes])) {
                case .success(let read): fields = read
                case .failure(.syntax(let error)):
                    result.errors.append(RecordError(line: chunk.line + error.lineOffset, error: "invalid JSON: \(error)", expected: "one JSON object"))
                    continue
                case .failure(.notAnObject):
                    result.errors.append(RecordError(line: chunk.line, error: "record is not a JSON object", expected: "{\"type\": …}"))
                    continue
                }
                var reader = FieldReader(fields: fields, line: chunk.line, options: options)
                if let record = reader.record() {
                    result.records.append(LocatedRecord(record: record, line: chunk.line))
                }
                result.errors += reader.errors
                result.notes += reader.notes
            }
        }
        return result
    }

    /// One record's bytes in the file and the line it starts on.
    struct Chunk {
        var line: Int
        var bytes: Range<Int>
    }

    /// Splits the file into one byte range per record with the line it starts on: the elements of a
    /// top-level array, or else each non-blank line (NDJSON; a single pretty-printed object is one
    /// element when it does not parse line by line).
    static func split(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<[Chunk], RecordError> {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .failure(RecordError(line: firstInvalidUTF8Line(bytes), error: "file is not valid UTF-8", expected: "UTF-8 text"))
        }
        let firstSignificant = bytes.firstIndex { !isSpace($0) }
        guard let first = firstSignificant else { return .success([]) }
        if bytes[first] == UInt8(ascii: "[") {
            return splitArray(bytes, from: first)
        }
        let lines = splitLines(bytes)
        // A single object spread over several lines: treat the whole file as one record.
        if lines.count > 1, let firstLine = lines.first, !JSONScanner.isValue(UnsafeBufferPointer(rebasing: bytes[firstLine.bytes])),
           JSONScanner.isObject(bytes)
        {
            return .success([Chunk(line: lineNumber(of: first, in: bytes), bytes: 0..<bytes.count)])
        }
        return .success(lines)
    }

    static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D }

    static func lineNumber(of offset: Int, in bytes: UnsafeBufferPointer<UInt8>) -> Int {
        1 + bytes[..<offset].reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
    }

    static func firstInvalidUTF8Line(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBufferPointer { firstInvalidUTF8Line($0) }
    }

    static func firstInvalidUTF8Line(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var line = 1
        var start = 0
        for (i, c) in bytes.enumerated() where c == 0x0A {
            if String(validating: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self) == nil { return line }
            line += 1
            start = i + 1
        }
        return line
    }

    static func splitLines(_ bytes: UnsafeBufferPointer<UInt8>) -> [Chunk] {
        var out: [Chunk] = []
        var line = 1
        var start = 0
        func flush(_ end: Int) {
            if bytes[start..<end].contains(where: { !isSpace($0) }) { out.append(Chunk(line: line, bytes: start..<end)) }
        }
        for (i, c) in bytes.enumerated() where c == 0x0A {
            flush(i)
            line += 1
            start = i + 1
        }
        flush(bytes.count)
        return out
    }

    /// Finds the top-level elements of a JSON array by tracking strings and nesting depth.
    static func splitArray(_ bytes: UnsafeBufferPointer<UInt8>, from open: Int) -> Result<[Chunk], RecordError> {
        var out: [Chunk] = []
        var line = lineNumber(of: open, in: bytes)
        var depth = 0
        var inString = false
        var escaped = false
        var elementStart: Int?
        var elementLine = line
        var i = open
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x0A { line += 1 }
            if inString {
                if escaped { escaped = false } else if c == UInt8(ascii: "\\") { escaped = true } else if c == UInt8(ascii: "\"") { inString = false }
                i += 1
                continue
            }
            switch c {
            case UInt8(ascii: "\""):
                inString = true
                if depth == 1, elementStart == nil { elementStart = i; elementLine = line }
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth == 2, elementStart == nil { elementStart = i; elementLine = line }
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if depth == 1, c == UInt8(ascii: "]") {
                    if let start = elementStart { out.append(Chunk(line: elementLine, bytes: start..<i)) }
                    elementStart = nil
                    depth = 0
                    i += 1
                    if let extra = bytes[i...].firstIndex(where: { !isSpace($0) }) {
                        return .failure(RecordError(line: lineNumber(of: extra, in: bytes), error: "unexpected content after the closing ]", expected: "end of file"))
                    }
                    return .success(out)
                }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 1 {
                    if let start = elementStart { out.append(Chunk(line: elementLine, bytes: start..<i)) }
                    elementStart = nil
                }
            default:
                if depth == 1, elementStart == nil, !isSpace(c) { elementStart = i; elementLine = line }
            }
            i += 1
        }
        return .failure(RecordError(line: line, error: "array is not closed", expected: "a closing ]"))
    }
}
