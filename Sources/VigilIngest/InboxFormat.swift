import Foundation

/// Which parser reads an inbox file, by its extension (docs/ARCHITECTURE.md §3.1): `.csv` is SDTM,
/// `.hl7` is HL7 v2, `.json` and `.ndjson` are Vigil's JSON records. Shared by the daemon's parse
/// stage and `vigilctl check`, so both read a file the same way.
public enum InboxFormat {
    /// The extensions Vigil reads, in the order error messages list them.
    public static let supportedExtensions = ["json", "ndjson", "csv", "hl7"]

    /// Parses a file's content by its name's extension; an unsupported extension is one file-level error.
    public static func parse(name: String, data: Data, options: IngestOptions) -> ParseResult {
        let ext = (name as NSString).pathExtension.lowercased()
        guard supportedExtensions.contains(ext) else {
            return ParseResult(errors: [RecordError(
                field: "file name", error: ext.isEmpty ? "unsupported file type (no extension)" : "unsupported file type",
                expected: "a file ending in " + supportedExtensions.map { ".\($0)" }.joined(separator: " or "))])
        }
        return parse(data, extension: ext, options: options)
    }

    /// Parses content with the parser for `ext` (one of `supportedExtensions`).
    public static func parse(_ data: Data, extension ext: String, options: IngestOptions) -> ParseResult {
        switch ext {
        case "csv": SDTMParser(options: options).parse(data)
        case "hl7": HL7Parser(options: options).parse(data)
        default: JSONRecordParser(options: options).parse(data)
        }
    }
}
