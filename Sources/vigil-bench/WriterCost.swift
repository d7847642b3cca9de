import Foundation
import Logging
import VigilConfig
import VigilDaemon
import VigilOutbox
import VigilStore
import VigilSystemd

/// The writing thread's work measured in this process, without vigild: the backlog's files, parsed
/// beforehand, applied to a fresh store as vigild applies a backlog (group commits, every record,
/// the rules, the ledger entries, the commit with its fsync), with nothing read, delivered or moved
/// and nothing else running. vigild applies files on one thread, so this is the most that thread
/// can do with everything else taken off it: the ceiling of the backlog's throughput with one writer.
enum WriterCost {
    struct Pass: Codable {
        var records: Int
        /// CPU time per record of each stage on the writing thread, and their wall-clock sum.
        var storeMicrosecondsPerRecord: Double
        var rulesMicrosecondsPerRecord: Double
        var commitMicrosecondsPerRecord: Double
        var wallMicrosecondsPerRecord: Double
        var cpuMicrosecondsPerRecord: Double { storeMicrosecondsPerRecord + rulesMicrosecondsPerRecord + commitMicrosecondsPerRecord }
        /// One writer at this pass's wall time per record.
        var recordsPerSecond: Double { 1e6 / max(wallMicrosecondsPerRecord, 1e-9) }
    }

    struct Result: Codable {
        /// Every pass, each on a fresh store, in the order run.
        var passes: [Pass]
        /// The pass with the median wall time.
        var median: Pass
    }

    /// Applies `files` `passes` times, each time to a fresh store under `root`, with the
    /// configuration at `configPath` (its directories under `root`).
    static func measure(files: [GeneratedFile], root: String, configPath: String, passes: Int) throws -> Result {
        let configuration = try VigilConfiguration.load(path: configPath)
        let contents = files.map { InboxFile(name: $0.name, data: Data($0.content), configuration: configuration) }
        var results: [Pass] = []
        for _ in 0..<max(1, passes) {
            let directories = configuration.directories
            for path in [directories.archive, directories.rejected, directories.state, directories.outbox] {
                try? FileManager.default.removeItem(atPath: path)
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
            let outbox = Outbox(root: directories.outbox)
            try outbox.createDirectories()
            let store = try VigilStore(path: "\(directories.state)/vigil.sqlite")
            let state = DaemonState(configuration: configuration, configPath: configPath, startedAt: Date())
            var logger = Logger(label: "vigil-bench.writer")
            logger.logLevel = .warning
            let emitter = AlertEmitter(store: store, journal: JournalWriter(), outbox: outbox, state: state, logger: logger, clock: { Date() })
            let processor = FileProcessor(store: store, emitter: emitter, state: state, logger: logger, clock: { Date() })
            let cost = try processor.apply(contents)
            let n = Double(max(cost.records, 1))
            results.append(Pass(
                records: cost.records, storeMicrosecondsPerRecord: cost.store.cpuSeconds * 1e6 / n,
                rulesMicrosecondsPerRecord: cost.rules.cpuSeconds * 1e6 / n, commitMicrosecondsPerRecord: cost.commit.cpuSeconds * 1e6 / n,
                wallMicrosecondsPerRecord: (cost.store.wallSeconds + cost.rules.wallSeconds + cost.commit.wallSeconds) * 1e6 / n))
        }
        let median = results.sorted { $0.wallMicrosecondsPerRecord < $1.wallMicrosecondsPerRecord }[results.count / 2]
        return Result(passes: results, median: median)
    }
}
