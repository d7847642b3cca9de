import Foundation
import VigilConfig
import VigilControl
import VigilIngest
import VigilCore
import VigilDaemon

/// The read-ahead's work measured in this process, without vigild: each backlog file parsed as
/// vigild parses it, then its records made into their stored form (canonical JSON and its hash),
/// per format. It says where the backlog's "read" stage goes, and a parser change can be measured
/// here without the noise of the disk and the other threads.
enum ParseCost {
    struct Format: Codable {
        var files: Int
        var records: Int
        var bytes: Int
        /// CPU time per record, median of the passes: the file's SHA-256, the parser, and the
        /// stored form of its records.
        var sha256MicrosecondsPerRecord: Double
        var parseMicrosecondsPerRecord: Double
        var storedFormMicrosecondsPerRecord: Double
        var totalMicrosecondsPerRecord: Double { sha256MicrosecondsPerRecord + parseMicrosecondsPerRecord + storedFormMicrosecondsPerRecord }
    }

    struct Result: Codable {
        var passes: Int
        /// By file extension.
        var formats: [String: Format]
        /// Over every file, in the backlog's mix.
        var all: Format
    }

    /// Parses every file `passes` times (after one unmeasured pass) with the options of the
    /// configuration at `configPath`.
    static func measure(files: [GeneratedFile], configPath: String, passes: Int) throws -> Result {
        let options = try VigilConfiguration.load(path: configPath).ingestOptions()
        let byFormat = Dictionary(grouping: files) { ($0.name as NSString).pathExtension.lowercased() }
        var formats: [String: Format] = [:]
        var total = Format(files: 0, records: 0, bytes: 0, sha256MicrosecondsPerRecord: 0, parseMicrosecondsPerRecord: 0, storedFormMicrosecondsPerRecord: 0)
        for (ext, group) in byFormat.sorted(by: { $0.key < $1.key }) {
            let data = group.map { Data($0.content) }
            var sha: [Double] = []
            var parse: [Double] = []
            var stored: [Double] = []
            var records = 0
            for pass in 0...passes {
                var times = (sha: PipelineCost.Stage(), parse: PipelineCost.Stage(), stored: PipelineCost.Stage())
                records = 0
                for content in data {
                    let digest = StageTimer.measure(&times.sha) { Digest.sha256Hex(content) }
                    let result = StageTimer.measure(&times.parse) { InboxFormat.parse(content, extension: ext, options: options) }
                    let forms = StageTimer.measure(&times.stored) { result.records.map { (try? Digest.canonicalJSON($0.record)).map(Digest.sha256Hex) } }
                    records += result.records.count
                    precondition(!digest.isEmpty && forms.count == result.records.count)
                }
                guard pass > 0 else { continue }  // the first pass warms caches and allocators
                (sha, parse, stored) = (sha + [times.sha.cpuSeconds], parse + [times.parse.cpuSeconds], stored + [times.stored.cpuSeconds])
            }
            func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] * 1e6 / Double(max(records, 1)) }
            let format = Format(files: group.count, records: records, bytes: group.reduce(0) { $0 + $1.content.count },
                                sha256MicrosecondsPerRecord: median(sha), parseMicrosecondsPerRecord: median(parse),
                                storedFormMicrosecondsPerRecord: median(stored))
            formats[ext] = format
            total.files += format.files
            total.records += format.records
            total.bytes += format.bytes
            total.sha256MicrosecondsPerRecord += format.sha256MicrosecondsPerRecord * Double(format.records)
            total.parseMicrosecondsPerRecord += format.parseMicrosecondsPerRecord * Double(format.records)
            total.storedFormMicrosecondsPerRecord += format.storedFormMicrosecondsPerRecord * Double(format.records)
        }
        let n = Double(max(total.records, 1))
        total.sha256MicrosecondsPerRecord /= n
        total.parseMicrosecondsPerRecord /= n
        total.storedFormMicrosecondsPerRecord /= n
        return Result(passes: passes, formats: formats, all: total)
    }
}
