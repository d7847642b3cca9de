import Foundation
import VigilConfig
import VigilControl
import VigilCore
import VigilIngest
import VigilStore

// Stage 3 of a file's trip (docs/ARCHITECTURE.md §1): parse. The format comes from the extension
// (`InboxFormat`); the result is records, located errors and warnings. Each record's stored form
// (canonical JSON and its digest) is made here too, so the read-ahead thread does that work and the
// writing thread does not.
extension FileProcessor {
    /// Parses a file read by the read stage into the `InboxFile` that the later stages take.
    static func parse(_ raw: RawFile, configuration: VigilConfiguration, receivedAt: Date) -> InboxFile {
        let parsed = parse(name: raw.name, data: raw.data, configuration: configuration)
        let payloads = try? parsed.records.map { try StoredPayload($0.record) }
        return InboxFile(raw: raw, parsed: parsed, payloads: payloads, configuration: configuration, receivedAt: receivedAt)
    }

    /// The records of `data`, read by the parser for `name`'s extension under the configuration's
    /// ingest options; a configuration that cannot give them is one file-level error.
    static func parse(name: String, data: Data, configuration: VigilConfiguration) -> ParseResult {
        do {
            return InboxFormat.parse(name: name, data: data, options: try configuration.ingestOptions())
        } catch {
            return ParseResult(errors: [RecordError(error: "configuration error: \(error)")])
        }
    }
}
