import ArgumentParser
import Foundation
import Glibc

/// `vigil-bench`: measures the real, built `vigild` end to end on a deterministic synthetic site
/// (docs/ARCHITECTURE.md §5): ingest throughput, drop-to-outbox latency, RSS, start-up time with a large store,
/// the disk's I/O floor, and cost per record against history length. Human table, or JSON with --json.
@main
struct VigilBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil-bench",
        abstract: "Benchmark the real vigild (next to this binary) on a synthetic trial site.",
        discussion: """
            Phases: history probe at a small store; I/O floor; backlog dropped at start; latency probes at light load; \
            fill to --stored records; start-ups with the full store; probe batch and latency probes with the full store. \
            Everything happens under --scratch (removed unless --keep). Needs a running systemd-journald (started when \
            absent and run as root). docs/BENCHMARKS.md describes each figure.
            """)

    /// Seconds of quiet before an idle RSS sample: vigild trims its working set at the first inbox
    /// tick (every 5 s) with no file since the tick before, so 5 to 10 s after the last file.
    static let idleSeconds: Double = 11

    @Flag(help: "Print the report as JSON on stdout (progress still goes to stderr).")
    var json = false

    @Option(help: "Also write the JSON report to this file.")
    var jsonFile: String?

    @Flag(help: "CI-size run: 20,000-record backlog in 200 files, 100,000 stored records, fewer probes.")
    var quick = false

    @Option(help: "Backlog records (default 100000; --quick 20000).")
    var records: Int?

    @Option(help: "Backlog files (default 1000; --quick 200).")
    var files: Int?

    @Option(help: "Stored records for the start-up, RSS and history figures (default 1000000; --quick 100000; 0 skips the fill).")
    var stored: Int?

    @Option(help: "Subjects at the synthetic site.")
    var subjects = 200

    @Option(help: "Latency probes per measurement (default 200; --quick 50).")
    var probes: Int?

    @Option(help: "Latency probes each dropped after vigild has been idle long enough to trim its working set (phase idle-latency; default 6; --quick 2).")
    var idleProbes: Int?

    @Option(help: "Records in the probe batch used for the cost-vs-history figure (100-record files).")
    var probeRecords = 10_000

    @Option(help: "Stored records for the small-history side of that figure.")
    var smallHistory = 10_000

    @Option(help: "Records in the warm-up batch (100-record files) that both sides of that figure process on a freshly started vigild before the probe batch, so both are measured at steady state.")
    var warmupRecords = 2_000

    @Option(help: "Rounds of the cost-vs-history figure: each runs the small store's probe batch (from the same saved state) and then the next probe batch of the full store, so that both sides of a round meet the same host speed; the figure is the median round.")
    var historyRounds = 5

    @Option(help: "Records per file when filling the store.")
    var fillFileRecords = 5_000

    @Option(help: "Warm start-ups timed with the full store (default 5; --quick 3).")
    var startups: Int?

    @Flag(help: "Skip the cold-cache start-up (it drops the machine's page cache, as root).")
    var noColdStart = false

    @Option(help: "Only these phases (comma-separated): history, parse, writer, floor, backlog, latency, idle-latency, fill, startup, stored.")
    var only: String?

    @Option(help: "Command prefix for vigild, e.g. \"valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out\".")
    var wrapper: String?

    @Option(help: "Seed of the synthetic site.")
    var seed: UInt64 = 20_261_123

    @Option(help: "Scratch directory (default /tmp/vigil-bench-PID); must be on the disk you want measured.")
    var scratch: String?

    @Flag(help: "Keep the scratch directory.")
    var keep = false

    @Option(help: "vigild binary (default: next to this binary).")
    var vigild: String?

    @Option(help: "Configuration to base the run on (default: config/demo.yaml of the source tree).")
    var baseConfig: String?

    @Option(help: "vigild --log-level.")
    var logLevel = "info"

    @Option(help: "Seconds without progress before a batch is declared stalled.")
    var stallTimeout = 600.0

    @Option(help: ArgumentHelp(
        "Resume an interrupted run on this kept root (SCRATCH/main of an earlier --keep run): its unprocessed inbox files are the rest of the fill.",
        discussion: "Use with --fast-forward and --only fill,startup,stored."))
    var existingRoot: String?

    @Option(help: "With --existing-root: the generate calls the interrupted run made, as RECORDS:PER_FILE:PREFIX,... (e.g. 100000:100:b,899796:5000:f).")
    var fastForward: String?

    @Option(help: "A note to add to the report (repeatable).")
    var note: [String] = []

    func run() throws {
        var bench = try Bench(options: self)
        defer { bench.cleanUp() }
        try bench.runAll()
    }
}

func progress(_ text: String) {
    FileHandle.standardError.write(Data("[vigil-bench] \(text)\n".utf8))
}

/// Percentile by nearest rank on sorted values.
func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank - 1, 0), sorted.count - 1)]
}

struct Bench {
    let o: VigilBench
    let scratch: String
    let vigild: String
    let vigilctl: String?
    let baseConfigText: String
    let backlogRecords: Int
    let backlogFiles: Int
    let storedTarget: Int
    let probes: Int
    let idleProbes: Int
    let startups: Int
    let phases: Set<String>
    var report: BenchReport
    var probeIndex = 0
    /// The small side of the cost-vs-history figure, saved after its preload (see `smallRound`).
    var smallHistory: SmallHistory?
    let began = monotonic()
    var running: [DaemonProcess] = []

    init(options: VigilBench) throws {
        o = options
        backlogRecords = options.records ?? (options.quick ? 20_000 : 100_000)
        backlogFiles = options.files ?? (options.quick ? 200 : 1_000)
        storedTarget = options.stored ?? (options.quick ? 100_000 : 1_000_000)
        probes = options.probes ?? (options.quick ? 50 : 200)
        idleProbes = options.idleProbes ?? (options.quick ? 2 : 6)
        startups = max(1, options.startups ?? (options.quick ? 3 : 5))
        let all: Set<String> = ["history", "parse", "writer", "floor", "backlog", "latency", "idle-latency", "fill", "startup", "stored"]
        phases = options.only.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }) } ?? all
        guard phases.isSubset(of: all) else { throw ValidationError("--only takes phases among \(all.sorted().joined(separator: ", "))") }

        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let products = (exe as NSString).deletingLastPathComponent
        vigild = options.vigild ?? "\(products)/vigild"
        guard FileManager.default.isExecutableFile(atPath: vigild) else {
            throw ValidationError("no vigild at \(vigild): build it first (swift build -c release) or pass --vigild PATH")
        }
        let ctl = (vigild as NSString).deletingLastPathComponent + "/vigilctl"
        vigilctl = FileManager.default.isExecutableFile(atPath: ctl) ? ctl : nil
        if !vigild.contains("/release/") { progress("warning: \(vigild) does not look like a release build") }

        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
        let configPath = options.baseConfig ?? "\(sourceRoot)/config/demo.yaml"
        guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else {
            throw ValidationError("cannot read the base configuration \(configPath) (pass --base-config)")
        }
        baseConfigText = text

        scratch = options.scratch ?? "/tmp/vigil-bench-\(getpid())"
        try makeDirectory(scratch)
        let realScratch = (try? FileManager.default.destinationOfSymbolicLink(atPath: scratch)) ?? scratch
        var opts: [String: String] = [
            "records": "\(backlogRecords)", "files": "\(backlogFiles)", "stored": "\(storedTarget)", "subjects": "\(options.subjects)",
            "probes": "\(probes)", "probe_records": "\(options.probeRecords)", "small_history": "\(options.smallHistory)",
            "fill_file_records": "\(options.fillFileRecords)", "startups": "\(startups)", "seed": "\(options.seed)",
            "quick": "\(options.quick)", "vigild": vigild, "log_level": options.logLevel, "phases": phases.sorted().joined(separator: ","),
        ]
        if let wrapper = options.wrapper { opts["wrapper"] = wrapper }
        report = BenchReport(
            command: CommandLine.arguments.joined(separator: " "), startedAt: ISO8601DateFormatter().string(from: Date()),
            machine: MachineInfo.describe(scratch: realScratch), options: opts)
    }

    mutating func cleanUp() {
        for daemon in running where daemon.isRunning { daemon.stop(timeout: 10) }
        if !o.keep { try? FileManager.default.removeItem(atPath: scratch) }
        else { progress("scratch kept at \(scratch)") }
    }

    // MARK: configuration and daemons

    /// The base configuration with every directory under `root` and escalation after 24 h, so that a
    /// long run never turns the backlog's unacknowledged critical alerts into a burst of escalation mail.
    func writeConfig(root: String) throws -> String {
        var text = baseConfigText.replacingOccurrences(of: "./var/", with: "\(root)/var/")
        text = text.replacingOccurrences(of: "after_minutes: 30", with: "after_minutes: 1440")
        let path = "\(root)/daemon.yaml"
        try makeDirectory(root)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        if let vigilctl {
            let result = try runTool(vigilctl, ["validate-config", path])
            guard result.status == 0 else { throw BenchError("generated configuration \(path) is invalid: \(result.output)") }
        }
        return path
    }

    func runTool(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Starts vigild on `root`'s configuration; returns it and the seconds from spawn to READY=1.
    mutating func startDaemon(root: String, config: String) throws -> (DaemonProcess, Double) {
        let notify = try NotifyListener(path: "\(root)/notify.sock")
        var executable = vigild
        var prefix: [String] = []
        if let wrapper = o.wrapper {
            prefix = wrapper.split(separator: " ").map(String.init)
            executable = "/usr/bin/env"
        }
        let daemon = try DaemonProcess(vigild: executable, prefix: prefix, target: vigild, config: config, notifySocket: notify.path,
                                       log: "\(root)/vigild.log", logLevel: o.logLevel)
        running.append(daemon)
        guard let ready = notify.waitReady(timeout: o.wrapper == nil ? 120 : 900, alive: { daemon.isRunning }) else {
            let log = (try? String(contentsOfFile: "\(root)/vigild.log", encoding: .utf8)) ?? ""
            daemon.stop(timeout: 5)
            throw BenchError("vigild did not send READY=1; log tail:\n\(log.suffix(2000))")
        }
        return (daemon, ready - daemon.startedAt)
    }

    func socketPath(_ root: String) -> String { "\(root)/var/run/control.sock" }

    func waitControl(_ root: String) throws -> StatusFigures {
        let deadline = monotonic() + 30
        while true {
            do { return try StatusFigures.fetch(socket: socketPath(root)) } catch {
                if monotonic() > deadline { throw error }
                usleep(20_000)
            }
        }
    }

    // MARK: batches

    /// Generates files into `staging` and returns their names and record counts, in drop order.
    func generate(_ site: inout SiteGenerator, records: Int, perFile: Int, prefix: String, staging: String, keep: Bool = false) throws -> (files: [(name: String, records: Int, bytes: Int)], contents: [GeneratedFile]) {
        try makeDirectory(staging)
        var list: [(String, Int, Int)] = []
        var contents: [GeneratedFile] = []
        try site.generate(records: records, recordsPerFile: perFile, prefix: prefix) { file in
            try writeFile("\(staging)/\(file.name)", file.content)
            list.append((file.name, file.records, file.content.count))
            if keep { contents.append(file) }
        }
        return (list.map { (name: $0.0, records: $0.1, bytes: $0.2) }, contents)
    }

    func countFiles(_ directory: String) -> Int { pendingNames(directory).count }

    /// Drops the staged files into the inbox (rename, in order) and waits until the daemon has
    /// processed them all, sampling progress and memory.
    func runBatch(label: String, daemon: DaemonProcess, root: String, staging: String, files: [(name: String, records: Int, bytes: Int)]) throws -> BatchResult {
        let inbox = "\(root)/var/inbox"
        let outboxNew = "\(root)/var/outbox/new"
        let before = try waitControl(root)
        let mailsBefore = countFiles(outboxNew)
        let cpuBefore = daemon.cpuSeconds()
        let totalRecords = files.reduce(0) { $0 + $1.records }
        var remaining = Dictionary(uniqueKeysWithValues: files.map { ($0.name, $0.records) })
        progress("\(label): dropping \(files.count) files, \(totalRecords) records (\(files.reduce(0) { $0 + $1.bytes } / 1024) KiB), \(before.stored) stored")
        let t0 = monotonic()
        for file in files {
            guard rename("\(staging)/\(file.name)", "\(inbox)/\(file.name)") == 0 else { throw BenchError("rename into inbox failed: \(String(cString: strerror(errno)))") }
        }
        var samples: [(t: Double, files: Int, records: Int)] = [(t0, 0, 0)]
        var doneFiles = 0
        var doneRecords = 0
        var maxRSS = 0
        var lastProgress = t0
        var lastMemory = 0.0
        var lastReport = t0
        while !remaining.isEmpty {
            usleep(10_000)
            let now = monotonic()
            guard daemon.isRunning else { throw BenchError("\(label): vigild exited (status \(daemon.exitStatus ?? -1)); see \(root)/vigild.log") }
            let present = pendingNames(inbox)
            var changed = false
            for (name, records) in remaining where !present.contains(name) {
                remaining.removeValue(forKey: name)
                doneFiles += 1
                doneRecords += records
                changed = true
            }
            if changed {
                samples.append((now, doneFiles, doneRecords))
                lastProgress = now
            }
            if now - lastMemory >= 0.1, let m = daemon.memory() {
                maxRSS = max(maxRSS, m.rss)
                lastMemory = now
            }
            if now - lastReport >= 10 {
                lastReport = now
                progress(String(format: "%@: %d/%d files, %d records, %.0f s, %.0f records/s so far", label, doneFiles, files.count, doneRecords, now - t0, Double(doneRecords) / (now - t0)))
            }
            if now - lastProgress > o.stallTimeout { throw BenchError("\(label): no file processed for \(Int(o.stallTimeout)) s") }
        }
        let t1 = samples.last!.t
        let cpuAfter = daemon.cpuSeconds()
        let memory = daemon.memory() ?? (maxRSS, maxRSS, 0, 0)
        maxRSS = max(maxRSS, memory.rss)
        var after = try waitControl(root)
        let deadline = monotonic() + 30
        while after.files < before.files + files.count, monotonic() < deadline {
            usleep(20_000)
            after = try waitControl(root)
        }
        // Steady state: from the first sample past 10 % of the records to the first past 90 %.
        var steadyRecords = Double(doneRecords) / (t1 - t0)
        var steadyFiles = Double(doneFiles) / (t1 - t0)
        if files.count >= 20, let a = samples.first(where: { $0.records >= totalRecords / 10 }), let b = samples.first(where: { $0.records >= totalRecords * 9 / 10 }), b.t > a.t {
            steadyRecords = Double(b.records - a.records) / (b.t - a.t)
            steadyFiles = Double(b.files - a.files) / (b.t - a.t)
        }
        let seconds = t1 - t0
        let cpu = cpuBefore.flatMap { b in cpuAfter.map { $0 - b } }
        let result = BatchResult(
            label: label, storedBefore: before.stored, records: totalRecords, files: files.count, bytes: files.reduce(0) { $0 + $1.bytes },
            seconds: seconds, recordsPerSecond: Double(totalRecords) / seconds, filesPerSecond: Double(files.count) / seconds,
            steadyRecordsPerSecond: steadyRecords, steadyFilesPerSecond: steadyFiles, microsecondsPerRecord: seconds * 1e6 / Double(totalRecords),
            daemonCPUSeconds: cpu, cpuMicrosecondsPerRecord: cpu.map { $0 * 1e6 / Double(totalRecords) }, cpuUtilisation: cpu.map { $0 / seconds },
            loadAverage: loadAverage(), maxRssKib: maxRSS, hwmKib: memory.hwm,
            appliedDelta: after.applied - before.applied, rejectedDelta: after.rejected - before.rejected,
            filesRejectedDelta: after.filesRejected - before.filesRejected, mailsWritten: countFiles(outboxNew) - mailsBefore,
            stageCPUMicrosecondsPerRecord: Self.stagesPerRecord(before, after, \.cpu), stageWallMicrosecondsPerRecord: Self.stagesPerRecord(before, after, \.wall))
        progress(String(format: "%@: %d records in %.2f s = %.0f records/s (steady %.0f), %.1f files/s; applied %d, rejected %d",
                        label, totalRecords, seconds, result.recordsPerSecond, steadyRecords, result.filesPerSecond, result.appliedDelta, result.rejectedDelta))
        return result
    }

    /// Each stage's µs per record between two `status` replies of the same daemon.
    static func stagesPerRecord(_ before: StatusFigures, _ after: StatusFigures, _ part: KeyPath<(cpu: Double, wall: Double), Double>) -> [String: Double]? {
        let records = after.costRecords - before.costRecords
        guard records > 0, !after.stages.isEmpty else { return nil }
        var result: [String: Double] = [:]
        for (name, stage) in after.stages {
            let earlier = before.stages[name].map { $0[keyPath: part] } ?? 0
            result[name] = (stage[keyPath: part] - earlier) * 1e6 / Double(records)
        }
        return result
    }

    /// Single files at light load: each a fresh critical lactate for a new subject (exactly one alert,
    /// mailed), written to a dotfile and renamed into the inbox; the time is from the rename to the
    /// inotify event of its `outbox/new/*.eml`. `pause` is the quiet time before each probe.
    mutating func runLatency(label: String, daemon: DaemonProcess, root: String, count: Int, warmup: Int = 3, pause: Double = 0.02) throws -> LatencyResult {
        let inbox = "\(root)/var/inbox"
        let outboxNew = "\(root)/var/outbox/new"
        let stored = try waitControl(root).stored
        let watch = try DirectoryWatch(outboxNew)
        _ = watch.next(timeout: 0)
        var samples: [Double] = []
        var timeouts = 0
        progress("\(label): \(count) latency probes (+\(warmup) warm-up), \(stored) stored")
        for k in 0..<(count + warmup) {
            if pause > 0.02 { progress(String(format: "%@: probe %d of %d after %.0f s idle", label, k + 1, count + warmup, pause)) }
            usleep(UInt32(pause * 1_000_000))
            let probe = SiteGenerator.latencyProbe(index: probeIndex, now: Date())
            probeIndex += 1
            let name = "lat-\(UTC.pad(probeIndex, 5)).ndjson"
            let temporary = "\(inbox)/.\(name).tmp"
            try writeFile(temporary, probe.content)
            _ = watch.next(timeout: 0)  // forget unrelated events
            let t0 = monotonic()
            guard rename(temporary, "\(inbox)/\(name)") == 0 else { throw BenchError("rename into inbox failed") }
            var arrived: Double?
            let deadline = t0 + 30
            while arrived == nil, monotonic() < deadline {
                for event in watch.next(timeout: deadline - monotonic()) where event.name.hasSuffix(".eml") && !event.name.contains("escalation") {
                    let text = (try? String(contentsOfFile: "\(outboxNew)/\(event.name)", encoding: .utf8)) ?? ""
                    if text.contains(probe.subject) {
                        arrived = event.at
                        break
                    }
                }
            }
            if let arrived {
                if k >= warmup { samples.append((arrived - t0) * 1000) }
            } else {
                timeouts += 1
                progress("\(label): probe \(name) got no mail within 30 s")
            }
            // Light load: wait until the daemon has finished the file, then pause.
            let finish = monotonic() + 30
            while pendingNames(inbox).contains(name), monotonic() < finish { usleep(1_000) }
        }
        let sorted = samples.sorted()
        let result = LatencyResult(
            label: label, storedRecords: stored, probes: samples.count, warmup: warmup, timeouts: timeouts,
            p50Milliseconds: percentile(sorted, 0.5), p90Milliseconds: percentile(sorted, 0.9), p99Milliseconds: percentile(sorted, 0.99),
            maxMilliseconds: sorted.last ?? .nan, minMilliseconds: sorted.first ?? .nan,
            meanMilliseconds: sorted.isEmpty ? .nan : sorted.reduce(0, +) / Double(sorted.count), hwmKib: daemon.memory()?.hwm ?? 0, loadAverage: loadAverage())
        progress(String(format: "%@: p50 %.1f ms, p99 %.1f ms, max %.1f ms", label, result.p50Milliseconds, result.p99Milliseconds, result.maxMilliseconds))
        return result
    }

    // MARK: the run

    mutating func runAll() throws {
        if let note = try ensureJournald() { report.notes.append(note); progress(note) }
        report.notes.append("load average at start: \(loadAverage())")
        report.notes.append("vigild: \(vigild); configuration: the base configuration with every directory under the scratch directory and mail.escalation.after_minutes 1440 (no escalation burst during long runs)")
        report.notes += o.note
        if let existing = o.existingRoot {
            try resume(root: existing)
            finish()
            return
        }

        if phases.contains("history") { try historySmallPhase() }

        // The backlog, generated once: the I/O floor moves the same files.
        let root = "\(scratch)/main"
        let config = try writeConfig(root: root)
        var site = SiteGenerator(subjects: o.subjects, seed: o.seed)
        let perFile = max(1, backlogRecords / max(1, backlogFiles))
        let staging = "\(scratch)/staging"
        progress("generating the backlog: \(backlogRecords) records, \(perFile) per file, \(o.subjects) subjects")
        let genStart = monotonic()
        let backlog = try generate(&site, records: backlogRecords, perFile: perFile, prefix: "b", staging: "\(staging)/backlog", keep: phases.contains("floor") || phases.contains("parse") || phases.contains("writer"))
        progress(String(format: "generated %d files in %.1f s", backlog.files.count, monotonic() - genStart))

        if phases.contains("parse") {
            progress("parse: the backlog's \(backlog.contents.count) files, 5 passes in this process")
            report.parse = try ParseCost.measure(files: backlog.contents, configPath: config, passes: 5)
            progress(String(format: "parse: %.1f µs/record (sha256 %.1f, parse %.1f, stored form %.1f)", report.parse!.all.totalMicrosecondsPerRecord,
                            report.parse!.all.sha256MicrosecondsPerRecord, report.parse!.all.parseMicrosecondsPerRecord, report.parse!.all.storedFormMicrosecondsPerRecord))
        }

        if phases.contains("writer") {
            progress("writer: the backlog's \(backlog.contents.count) files applied in this process, 3 passes on fresh stores")
            let writerRoot = "\(scratch)/writer"
            report.writer = try WriterCost.measure(files: backlog.contents, root: writerRoot, configPath: try writeConfig(root: writerRoot), passes: 3)
            let w = report.writer!.median
            progress(String(format: "writer: %.1f µs/record wall = %.0f records/s (CPU store %.1f, rules %.1f, commit %.1f)", w.wallMicrosecondsPerRecord,
                            w.recordsPerSecond, w.storeMicrosecondsPerRecord, w.rulesMicrosecondsPerRecord, w.commitMicrosecondsPerRecord))
        }

        if phases.contains("floor") {
            progress("I/O floor: \(backlog.contents.count) files")
            report.ioFloor = try IOFloor.measure(files: backlog.contents, directory: "\(scratch)/floor")
            progress(String(format: "I/O floor: %.0f files/s (with a commit-like fdatasync: %.0f files/s)", report.ioFloor!.filesPerSecond, report.ioFloor!.withCommitFilesPerSecond))
        }

        let (daemon, startSeconds) = try startDaemon(root: root, config: config)
        report.startupEmptyMilliseconds = startSeconds * 1000
        progress(String(format: "vigild pid %d ready in %.0f ms (empty store)", daemon.pid, startSeconds * 1000))
        _ = try waitControl(root)
        usleep(2_000_000)
        var memory = MemoryResult(startedEmptyRssKib: daemon.memory()?.rss)
        progress("idle for \(Int(VigilBench.idleSeconds)) s (past vigild's idle trim)")
        usleep(UInt32(VigilBench.idleSeconds * 1_000_000))
        if let idle = daemon.memory() {
            (memory.idleEmptyRssKib, memory.idleEmptyHwmKib, memory.idleEmptyAnonymousKib, memory.idleEmptyFileKib) = (idle.rss, idle.hwm, idle.anonymous, idle.file)
        }

        if phases.contains("backlog") {
            let result = try runBatch(label: "backlog", daemon: daemon, root: root, staging: "\(staging)/backlog", files: backlog.files)
            report.backlog = result
            memory.backlogMaxRssKib = result.maxRssKib
            memory.backlogHwmKib = result.hwmKib
        }
        if phases.contains("latency") {
            report.latencyLight = try runLatency(label: "latency (light load)", daemon: daemon, root: root, count: probes)
        }
        if phases.contains("idle-latency") {
            // What a file pays for the idle trim: the code it runs is faulted back in first.
            report.latencyAfterIdle = try runLatency(label: "latency after an idle trim", daemon: daemon, root: root, count: idleProbes, warmup: 1, pause: VigilBench.idleSeconds)
        }

        try storePhases(root: root, config: config, staging: staging, site: &site, daemon: daemon, memory: &memory)
        report.memory = memory
        finish()
    }

    mutating func finish() {
        report.totalSeconds = monotonic() - began
        report.notes.append("load average at end: \(loadAverage())")
        report.judge(historyTolerance: 1.25)
        if let path = o.jsonFile { try? (report.json() + "\n").write(toFile: path, atomically: true, encoding: .utf8) }
        if o.json { print(report.json()) } else { print(report.table()) }
    }

    /// Fill to the stored-records target, then start-ups, probe batch and latency with the full store.
    mutating func storePhases(root: String, config: String, staging: String, site: inout SiteGenerator, daemon initial: DaemonProcess, memory: inout MemoryResult, preloaded: [(name: String, records: Int, bytes: Int)]? = nil) throws {
        var daemon = initial
        let needStore = phases.contains("fill") || phases.contains("startup") || phases.contains("stored")
        guard needStore, storedTarget > 0 else {
            daemon.stop()
            return
        }
        if let preloaded, phases.contains("fill") {
            let result = try runBatch(label: "fill (resumed)", daemon: daemon, root: root, staging: "\(staging)/resume", files: preloaded)
            report.fill = result
            memory.fillHwmKib = result.hwmKib
        }
        let current = try waitControl(root).stored
        if preloaded == nil, phases.contains("fill"), storedTarget > current {
            progress("generating \(storedTarget - current) records to fill the store (\(o.fillFileRecords) per file)")
            let fill = try generate(&site, records: storedTarget - current, perFile: o.fillFileRecords, prefix: "f", staging: "\(staging)/fill")
            let result = try runBatch(label: "fill", daemon: daemon, root: root, staging: "\(staging)/fill", files: fill.files)
            report.fill = result
            memory.fillHwmKib = result.hwmKib
            try? FileManager.default.removeItem(atPath: "\(staging)/fill")
        }
        let storedNow = try waitControl(root).stored
        memory.storedRecords = storedNow
        var stops: [Double] = [daemon.stop()]
        guard phases.contains("startup") || phases.contains("stored") else { return }
        var runs: [Double] = []
        var cold: Double?
        var coldNote: String?
        if phases.contains("startup"), !o.noColdStart {
            if dropPageCache() {
                let (d, s) = try startDaemon(root: root, config: config)
                cold = s * 1000
                progress(String(format: "cold-cache start-up with %d stored: %.0f ms", storedNow, s * 1000))
                let store = try waitControl(root).storePath
                stops.append(d.stop())
                // Read the store back into the page cache: the phases after this one measure Vigil
                // at steady state, not the disk re-reading what drop_caches threw away.
                let warmed = warmPageCache([store, store + "-wal"])
                progress("page cache warmed again: \(warmed / 1_048_576) MiB of the store read")
            } else {
                coldNote = "cannot write /proc/sys/vm/drop_caches (not root, or read-only /proc/sys)"
            }
        }
        let count = phases.contains("startup") ? startups : 1
        for run in 0..<count {
            let (d, s) = try startDaemon(root: root, config: config)
            runs.append(s * 1000)
            progress(String(format: "start-up %d/%d with %d stored: %.0f ms", run + 1, count, storedNow, s * 1000))
            _ = try waitControl(root)
            daemon = d
            if run < count - 1 { stops.append(d.stop()) }
        }
        let sorted = runs.sorted()
        let storeBytes = (try? waitControl(root).storeBytes) ?? 0
        report.startup = StartupResult(
            storedRecords: storedNow, storeBytes: storeBytes, runsMilliseconds: runs, medianMilliseconds: percentile(sorted, 0.5),
            maxMilliseconds: sorted.last ?? .nan, coldMilliseconds: cold, coldNote: coldNote, stopSeconds: stops)
        usleep(UInt32(VigilBench.idleSeconds * 1_000_000))
        memory.idleStoredRssKib = daemon.memory()?.rss
        if phases.contains("stored") {
            // Measured at steady state, like the small side: the first files after a restart fill
            // SQLite's page cache and the evaluation cache.
            let warmup = try generate(&site, records: o.warmupRecords, perFile: 100, prefix: "w", staging: "\(staging)/warmup-large")
            report.historyLargeWarmup = try runBatch(label: "warm-up batch (large history)", daemon: daemon, root: root, staging: "\(staging)/warmup-large", files: warmup.files)
            // Rounds, each a small-store batch then a full-store batch minutes apart at most: a
            // host's speed drifts within the hour, which one pair of batches taken a minute apart
            // cannot tell from a cost of history.
            for round in 0..<max(1, o.historyRounds) {
                let small = smallHistory == nil ? nil : try smallRound(round + 1)
                let prefix = round == 0 ? "p" : "p\(round)"
                let probe = try generate(&site, records: o.probeRecords, perFile: 100, prefix: prefix, staging: "\(staging)/probe-large-\(round)")
                let large = try runBatch(label: "probe batch (large history, round \(round + 1))", daemon: daemon, root: root,
                                         staging: "\(staging)/probe-large-\(round)", files: probe.files)
                report.historyRounds.append(HistoryRound(smallWarmup: small?.warmup, small: small?.probe, large: large))
            }
            report.latencyStored = try runLatency(label: "latency (full store)", daemon: daemon, root: root, count: probes)
            memory.storedWorkingHwmKib = daemon.memory()?.hwm
        }
        daemon.stop()
    }

    /// Resumes an interrupted run on a kept root: the files left in its inbox are the rest of the fill;
    /// the generator is fast-forwarded through the calls the first run made, so the probe batch
    /// continues the same site timeline (fresh record ids).
    mutating func resume(root: String) throws {
        let config = try writeConfig(root: root)
        var site = SiteGenerator(subjects: o.subjects, seed: o.seed)
        for call in (o.fastForward ?? "").split(separator: ",") {
            let parts = call.split(separator: ":").map(String.init)
            guard parts.count == 3, let records = Int(parts[0]), let perFile = Int(parts[1]) else { throw ValidationError("--fast-forward takes RECORDS:PER_FILE:PREFIX,...") }
            site.generate(records: records, recordsPerFile: perFile, prefix: parts[2]) { _ in }
        }
        let staging = "\(scratch)/staging"
        try makeDirectory("\(staging)/resume")
        let inbox = "\(root)/var/inbox"
        var files: [(name: String, records: Int, bytes: Int)] = []
        for name in pendingNames(inbox).sorted() {
            let data = try Data(contentsOf: URL(fileURLWithPath: "\(inbox)/\(name)"))
            guard rename("\(inbox)/\(name)", "\(staging)/resume/\(name)") == 0 else { throw BenchError("cannot move \(name) aside") }
            files.append((name, SiteGenerator.countRecords(name: name, content: data), data.count))
        }
        progress("resuming on \(root): \(files.count) unprocessed files, \(files.reduce(0) { $0 + $1.records }) records")
        let (daemon, s) = try startDaemon(root: root, config: config)
        progress(String(format: "vigild pid %d ready in %.0f ms", daemon.pid, s * 1000))
        _ = try waitControl(root)
        var memory = MemoryResult()
        probeIndex = max(probeIndex, 5_000)  // the first run's probe subjects are in the store already
        try storePhases(root: root, config: config, staging: staging, site: &site, daemon: daemon, memory: &memory, preloaded: files.isEmpty ? nil : files)
        report.memory = memory
    }

    /// The small-history side of the cost-vs-history figure: a separate store filled with
    /// --small-history records (in --fill-file-records files), saved with its warm-up and probe
    /// files so that every round starts from the same state. Without the full store's phases, one
    /// round runs at once.
    mutating func historySmallPhase() throws {
        let root = "\(scratch)/small"
        let config = try writeConfig(root: root)
        var site = SiteGenerator(subjects: o.subjects, seed: o.seed)
        let staging = "\(scratch)/staging-small"
        let preload = try generate(&site, records: o.smallHistory, perFile: o.fillFileRecords, prefix: "f", staging: "\(staging)/fill")
        let warmup = try generate(&site, records: o.warmupRecords, perFile: 100, prefix: "w", staging: "\(staging)/warmup")
        let probe = try generate(&site, records: o.probeRecords, perFile: 100, prefix: "p", staging: "\(staging)/probe")
        let (loader, _) = try startDaemon(root: root, config: config)
        _ = try runBatch(label: "small-history preload", daemon: loader, root: root, staging: "\(staging)/fill", files: preload.files)
        loader.stop()
        let saved = "\(scratch)/small-saved"
        try? FileManager.default.removeItem(atPath: saved)
        try makeDirectory(saved)
        try FileManager.default.copyItem(atPath: root, toPath: "\(saved)/root")
        try FileManager.default.copyItem(atPath: staging, toPath: "\(saved)/staging")
        smallHistory = SmallHistory(root: root, config: config, staging: staging, saved: saved, warmup: warmup.files, probe: probe.files)
        if !(phases.contains("stored") && storedTarget > 0) {
            let small = try smallRound(1)
            report.historyRounds.append(HistoryRound(smallWarmup: small.warmup, small: small.probe, large: nil))
        }
    }

    /// One round of the small side, as the large side runs it: the saved store, a restarted daemon,
    /// the warm-up batch, then the probe batch.
    mutating func smallRound(_ round: Int) throws -> (warmup: BatchResult, probe: BatchResult) {
        guard let small = smallHistory else { throw BenchError("no small-history store was prepared") }
        for (live, copy) in [(small.root, "\(small.saved)/root"), (small.staging, "\(small.saved)/staging")] {
            try? FileManager.default.removeItem(atPath: live)
            try FileManager.default.copyItem(atPath: copy, toPath: live)
        }
        let (daemon, _) = try startDaemon(root: small.root, config: small.config)
        defer { daemon.stop() }
        let warmup = try runBatch(label: "warm-up batch (small history, round \(round))", daemon: daemon, root: small.root, staging: "\(small.staging)/warmup", files: small.warmup)
        let probe = try runBatch(label: "probe batch (small history, round \(round))", daemon: daemon, root: small.root, staging: "\(small.staging)/probe", files: small.probe)
        return (warmup, probe)
    }

    func loadAverage() -> String {
        ((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? "?").split(separator: " ").prefix(3).joined(separator: " ")
    }

    /// Reads files whole (into the page cache); returns the bytes read.
    func warmPageCache(_ paths: [String]) -> Int {
        var total = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for path in paths {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                total += n
            }
        }
        return total
    }

    /// Empties the page cache (root only), for a cold start-up figure.
    func dropPageCache() -> Bool {
        sync()
        let fd = open("/proc/sys/vm/drop_caches", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "3\n", 2) == 2
    }
}

/// The small side of the cost-vs-history figure: where it lives, and the copy of its store (after
/// the preload) and of its staged files that each round starts from.
struct SmallHistory {
    let root: String
    let config: String
    let staging: String
    let saved: String
    let warmup: [(name: String, records: Int, bytes: Int)]
    let probe: [(name: String, records: Int, bytes: Int)]
}
