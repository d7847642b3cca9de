import Foundation
import Glibc

/// The machine the figures were measured on.
struct MachineInfo: Codable {
    var nproc: Int
    var cpuModel: String
    var memoryMib: Int
    var kernel: String
    var scratch: String
    var filesystem: String
    var device: String
    var mountOptions: String
    var rotational: String?

    static func describe(scratch: String) -> MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }
            .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown"
        let meminfo = (try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8)) ?? ""
        let memKiB = meminfo.split(separator: "\n").first { $0.hasPrefix("MemTotal:") }
            .flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") } ?? 0
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        // Longest mount point that is a prefix of the scratch directory.
        let mounts = ((try? String(contentsOfFile: "/proc/self/mounts", encoding: .utf8)) ?? "").split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
        let mount = mounts.filter { $0.count >= 4 && (scratch == $0[1] || scratch.hasPrefix($0[1] == "/" ? "/" : $0[1] + "/")) }
            .max { $0[1].count < $1[1].count }
        let device = mount?[0] ?? "?"
        let base = (device as NSString).lastPathComponent
        let rotational = (try? String(contentsOfFile: "/sys/block/\(base)/queue/rotational", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        return MachineInfo(
            nproc: Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))), cpuModel: model, memoryMib: memKiB / 1024, kernel: release,
            scratch: scratch, filesystem: mount?[2] ?? "?", device: device, mountOptions: mount?[3] ?? "?",
            rotational: rotational.map { $0 == "1" ? "rotational" : "non-rotational (SSD/virtual)" })
    }
}

/// One round of the cost-vs-history figure: the small store's probe batch (after its warm-up)
/// and the full store's next probe batch, run one after the other.
struct HistoryRound: Codable {
    var smallWarmup: BatchResult?
    var small: BatchResult?
    var large: BatchResult?
    /// Wall time per record, large over small.
    var ratio: Double? {
        guard let small, let large else { return nil }
        return large.microsecondsPerRecord / small.microsecondsPerRecord
    }
}

/// One batch of inbox files processed by the daemon.
struct BatchResult: Codable {
    var label: String
    var storedBefore: Int
    var records: Int
    var files: Int
    var bytes: Int
    var seconds: Double
    var recordsPerSecond: Double
    var filesPerSecond: Double
    /// Rate between 10 % and 90 % of the records done (start-up and tail excluded).
    var steadyRecordsPerSecond: Double
    var steadyFilesPerSecond: Double
    var microsecondsPerRecord: Double
    var daemonCPUSeconds: Double?
    /// Daemon CPU time (user + system) per record: less sensitive than wall time to other load on the machine.
    var cpuMicrosecondsPerRecord: Double?
    /// Daemon CPU seconds per wall second during the batch (1.0 = one core busy all the time).
    var cpuUtilisation: Double?
    /// /proc/loadavg (1, 5, 15 min) when the batch ended: other work competing for the CPUs and disk.
    var loadAverage: String
    var maxRssKib: Int
    var hwmKib: Int
    var appliedDelta: Int
    var rejectedDelta: Int
    var filesRejectedDelta: Int
    var mailsWritten: Int
    /// vigild's own account of the batch (`status` → `pipeline_cost`), per record of the batch: the
    /// CPU µs of the thread doing each stage, and its wall µs. Read ahead overlaps the others.
    var stageCPUMicrosecondsPerRecord: [String: Double]?
    var stageWallMicrosecondsPerRecord: [String: Double]?
}

struct LatencyResult: Codable {
    var label: String
    var storedRecords: Int
    var probes: Int
    var warmup: Int
    var timeouts: Int
    var p50Milliseconds: Double
    var p90Milliseconds: Double
    var p99Milliseconds: Double
    var maxMilliseconds: Double
    var minMilliseconds: Double
    var meanMilliseconds: Double
    var hwmKib: Int
    var loadAverage: String
}

struct StartupResult: Codable {
    var storedRecords: Int
    var storeBytes: Int64
    var runsMilliseconds: [Double]
    var medianMilliseconds: Double
    var maxMilliseconds: Double
    var coldMilliseconds: Double?
    var coldNote: String?
    var stopSeconds: [Double]
}

struct MemoryResult: Codable {
    /// VmRSS 2 s after the control socket first answers, before vigild's idle trim.
    var startedEmptyRssKib: Int?
    /// VmRSS, RssAnon and RssFile idle: `VigilBench.idleSeconds` after that, past the idle trim.
    var idleEmptyRssKib: Int?
    var idleEmptyAnonymousKib: Int?
    var idleEmptyFileKib: Int?
    var idleEmptyHwmKib: Int?
    var backlogMaxRssKib: Int?
    var backlogHwmKib: Int?
    var fillHwmKib: Int?
    var idleStoredRssKib: Int?
    var storedRecords: Int?
    var storedWorkingHwmKib: Int?
}

struct TargetVerdict: Codable {
    var name: String
    var target: String
    var measured: String
    var met: Bool?
}

struct BenchReport: Codable {
    var vigilBench = "vigil-bench 1"
    var command: String
    var startedAt: String
    var totalSeconds: Double = 0
    var machine: MachineInfo
    var options: [String: String]
    var notes: [String] = []
    var ioFloor: IOFloor.Result?
    /// The read-ahead's work on the backlog's files, in this process.
    var parse: ParseCost.Result?
    /// The writing thread's work alone on the backlog's files, in this process.
    var writer: WriterCost.Result?
    var startupEmptyMilliseconds: Double?
    var backlog: BatchResult?
    var latencyLight: LatencyResult?
    /// Probes each dropped after `VigilBench.idleSeconds` of quiet, past vigild's idle trim.
    var latencyAfterIdle: LatencyResult?
    var fill: BatchResult?
    var startup: StartupResult?
    /// First batch on a freshly started daemon, before the probe batch of each side (of the median
    /// round, for the small side, which restarts in every round).
    var historySmallWarmup: BatchResult?
    /// The probe batches of the median round (by the ratio of wall time per record).
    var historySmall: BatchResult?
    var historyLargeWarmup: BatchResult?
    var historyLarge: BatchResult?
    /// Every round of the cost-vs-history figure, in the order run.
    var historyRounds: [HistoryRound] = []
    var latencyStored: LatencyResult?
    var memory: MemoryResult?
    var targets: [TargetVerdict] = []

    func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    static func mib(_ kib: Int?) -> String { kib.map { String(format: "%.1f MiB", Double($0) / 1024) } ?? "n/a" }
    static func n(_ v: Double, _ digits: Int = 0) -> String {
        let s = String(format: "%.\(digits)f", v)
        guard digits == 0, abs(v) >= 10_000 else { return s }
        // Thousands separators for big integers.
        var out = ""
        for (i, c) in s.reversed().enumerated() {
            if i > 0, i % 3 == 0, c != "-" { out.append(",") }
            out.append(c)
        }
        return String(out.reversed())
    }

    /// The round whose ratio is the median of the rounds that have both sides (the lower middle one
    /// of an even count), else the last round.
    static func medianRound(_ rounds: [HistoryRound]) -> HistoryRound? {
        let paired = rounds.filter { $0.ratio != nil }.sorted { $0.ratio! < $1.ratio! }
        return paired.isEmpty ? rounds.last : paired[(paired.count - 1) / 2]
    }

    /// Fills `targets` from the figures, against the performance targets docs/BENCHMARKS.md reports.
    mutating func judge(historyTolerance: Double) {
        targets = []
        if let median = Self.medianRound(historyRounds) {
            (historySmallWarmup, historySmall, historyLarge) = (median.smallWarmup, median.small, median.large)
        }
        if let b = backlog {
            targets.append(.init(name: "ingest throughput (steady state)", target: "≥ 50,000 records/s",
                                 measured: "\(Self.n(b.steadyRecordsPerSecond)) records/s", met: b.steadyRecordsPerSecond >= 50_000))
        }
        if let l = latencyLight {
            targets.append(.init(name: "drop-to-outbox p99, light load", target: "≤ 20 ms",
                                 measured: String(format: "%.1f ms (p50 %.1f, max %.1f; %@ stored)", l.p99Milliseconds, l.p50Milliseconds, l.maxMilliseconds, Self.n(Double(l.storedRecords))),
                                 met: l.timeouts == 0 && l.p99Milliseconds <= 20))
        }
        if let b = backlog, let f = ioFloor {
            let ratio = b.steadyFilesPerSecond / f.filesPerSecond
            targets.append(.init(name: "file throughput vs I/O floor", target: "≥ 0.5 × floor",
                                 measured: String(format: "%.3f × (%.0f vs %.0f files/s)", ratio, b.steadyFilesPerSecond, f.filesPerSecond), met: ratio >= 0.5))
        }
        if let m = memory {
            if let idle = m.idleEmptyRssKib {
                targets.append(.init(name: "RSS idle (empty store)", target: "≤ 25 MiB", measured: Self.mib(idle), met: idle <= 25 * 1024))
            }
            let peaks = [m.fillHwmKib, m.storedWorkingHwmKib].compactMap { $0 }
            if let peak = peaks.max(), let stored = m.storedRecords {
                targets.append(.init(name: "peak RSS with \(Self.n(Double(stored))) records", target: "≤ 100 MiB",
                                     measured: "\(Self.mib(peak)) (filling: \(Self.mib(m.fillHwmKib)), restarted on the full store: \(Self.mib(m.storedWorkingHwmKib)))",
                                     met: peak <= 100 * 1024))
            }
        }
        if let s = startup {
            targets.append(.init(name: "start-up to READY=1 with \(Self.n(Double(s.storedRecords))) records", target: "≤ 200 ms",
                                 measured: String(format: "median %.0f ms, max %.0f ms (warm cache)%@", s.medianMilliseconds, s.maxMilliseconds,
                                                  s.coldMilliseconds.map { String(format: "; cold cache %.0f ms", $0) } ?? ""),
                                 met: s.medianMilliseconds <= 200))
        }
        if let small = historySmall, let large = historyLarge {
            let ratio = large.microsecondsPerRecord / small.microsecondsPerRecord
            targets.append(.init(name: "cost per record vs history length", target: "independent (≤ \(String(format: "%.2f", historyTolerance))× from \(Self.n(Double(small.storedBefore))) to \(Self.n(Double(large.storedBefore))) stored)",
                                 measured: String(format: "%.0f µs → %.0f µs per record (%.2f×)", small.microsecondsPerRecord, large.microsecondsPerRecord, ratio)
                                    + cpuRatio(small, large) + roundsNote(),
                                 met: ratio <= historyTolerance))
            if let a = small.stageCPUMicrosecondsPerRecord?["rules"], let b = large.stageCPUMicrosecondsPerRecord?["rules"] {
                // The target is about evaluation cost: the rules' own share, as vigild times it.
                let rules = b / a
                let storage = ["store", "commit"].map { (large.stageCPUMicrosecondsPerRecord?[$0] ?? .nan) / (small.stageCPUMicrosecondsPerRecord?[$0] ?? .nan) }
                targets.append(.init(name: "rule evaluation CPU per record vs history", target: "independent (≤ \(String(format: "%.2f", historyTolerance))×), the rules' stage alone",
                                     measured: String(format: "%.1f µs → %.1f µs (%.2f×); the store's stages: apply %.2f×, commit %.2f×", a, b, rules, storage[0], storage[1]),
                                     met: rules <= historyTolerance))
            }
        }
    }

    /// "; median of N rounds: r1, r2, ..." when more than one round has both sides.
    func roundsNote() -> String {
        let ratios = historyRounds.compactMap(\.ratio)
        guard ratios.count > 1 else { return "" }
        return "; median of \(ratios.count) rounds: " + ratios.map { String(format: "%.2f×", $0) }.joined(separator: ", ")
    }

    /// The daemon's CPU per record on both sides, when both were measured: less sensitive than wall
    /// time to what else the machine does.
    func cpuRatio(_ small: BatchResult, _ large: BatchResult) -> String {
        guard let a = small.cpuMicrosecondsPerRecord, let b = large.cpuMicrosecondsPerRecord else { return "" }
        return String(format: "; CPU %.0f → %.0f µs (%.2f×)", a, b, b / a)
    }

    func table() -> String {
        var lines: [String] = []
        func row(_ cells: [String], _ widths: [Int]) -> String {
            zip(cells, widths).map { cell, w in cell.count >= w ? cell : cell + String(repeating: " ", count: w - cell.count) }.joined(separator: "  ")
        }
        lines.append("vigil-bench — \(command)")
        lines.append("machine: \(machine.nproc) × \(machine.cpuModel), \(machine.memoryMib) MiB RAM, Linux \(machine.kernel); scratch \(machine.scratch) on \(machine.filesystem) \(machine.device) (\(machine.rotational ?? "?"))")
        lines.append("")
        let w = [44, 30, 30]
        lines.append(row(["figure", "value", "detail"], w))
        lines.append(row([String(repeating: "-", count: 44), String(repeating: "-", count: 30), String(repeating: "-", count: 30)], w))
        if let f = ioFloor {
            lines.append(row(["I/O floor (read+fsync+rename+dir fsync)", "\(Self.n(f.filesPerSecond)) files/s", "\(f.files) files; median of " + f.runsFilesPerSecond.map { String(format: "%.0f", $0) }.joined(separator: ", ")], w))
            lines.append(row(["  … plus one 256 B append+fdatasync", "\(Self.n(f.withCommitFilesPerSecond)) files/s", "informational; " + f.withCommitRunsFilesPerSecond.map { String(format: "%.0f", $0) }.joined(separator: ", ")], w))
        }
        if let p = parse {
            func line(_ title: String, _ f: ParseCost.Format) {
                lines.append(row([title, String(format: "%.1f µs/record CPU", f.totalMicrosecondsPerRecord),
                                  String(format: "sha256 %.1f, parse %.1f, stored form %.1f; %d records, %d files", f.sha256MicrosecondsPerRecord,
                                         f.parseMicrosecondsPerRecord, f.storedFormMicrosecondsPerRecord, f.records, f.files)], w))
            }
            line("read-ahead work, in process (median of \(p.passes))", p.all)
            for (ext, f) in p.formats.sorted(by: { $0.key < $1.key }) { line("  … .\(ext)", f) }
        }
        if let writer {
            let m = writer.median
            lines.append(row(["writer alone, in process (median of \(writer.passes.count))", "\(Self.n(m.recordsPerSecond)) records/s",
                              String(format: "%.1f µs/record wall; CPU store %.1f, rules %.1f, commit %.1f", m.wallMicrosecondsPerRecord,
                                     m.storeMicrosecondsPerRecord, m.rulesMicrosecondsPerRecord, m.commitMicrosecondsPerRecord)], w))
            lines.append(row(["", "passes " + writer.passes.map { Self.n($0.recordsPerSecond) }.joined(separator: ", "), "\(Self.n(Double(m.records))) records, fresh store each"], w))
        }
        if let s = startupEmptyMilliseconds { lines.append(row(["start-up to READY=1, empty store", String(format: "%.0f ms", s), "first start (creates the DB)"], w)) }
        func batch(_ title: String, _ b: BatchResult) {
            lines.append(row([title, "\(Self.n(b.steadyRecordsPerSecond)) records/s", "steady (10–90 %); overall \(Self.n(b.recordsPerSecond))"], w))
            lines.append(row(["", String(format: "%.1f files/s", b.steadyFilesPerSecond), String(format: "steady; overall %.1f", b.filesPerSecond)], w))
            lines.append(row(["", "\(Self.n(Double(b.records))) records / \(b.files) files", String(format: "%.1f s, %.0f µs/record, CPU %@ s", b.seconds, b.microsecondsPerRecord, b.daemonCPUSeconds.map { String(format: "%.1f", $0) } ?? "?")], w))
            lines.append(row(["", "stored before: \(Self.n(Double(b.storedBefore)))", "\(b.mailsWritten) mails, \(b.rejectedDelta) rejected records"], w))
            lines.append(row(["", b.cpuMicrosecondsPerRecord.map { String(format: "CPU %.0f µs/record", $0) } ?? "CPU ?",
                              String(format: "CPU use %.2f cores; load %@", b.cpuUtilisation ?? .nan, b.loadAverage)], w))
            if let stages = b.stageCPUMicrosecondsPerRecord {
                lines.append(row(["", "stages, CPU µs/record", StatusFigures.stageNames.map { String(format: "%@ %.1f", $0, stages[$0] ?? .nan) }.joined(separator: ", ")], w))
            }
        }
        if let b = backlog { batch("backlog ingest (dropped at start)", b) }
        if let f = ioFloor, let b = backlog {
            lines.append(row(["files/s ÷ I/O floor", String(format: "%.3f", b.steadyFilesPerSecond / f.filesPerSecond), ""], w))
        }
        func latency(_ title: String, _ l: LatencyResult) {
            lines.append(row([title, String(format: "p50 %.1f / p99 %.1f ms", l.p50Milliseconds, l.p99Milliseconds),
                              String(format: "max %.1f ms, n=%d, %d timeouts; load %@", l.maxMilliseconds, l.probes, l.timeouts, l.loadAverage)], w))
        }
        if let l = latencyLight { latency("drop→outbox, \(Self.n(Double(l.storedRecords))) stored", l) }
        if let l = latencyAfterIdle { latency("  … each after \(Int(VigilBench.idleSeconds)) s idle (trimmed)", l) }
        if let f = fill { batch("fill to the stored-records target", f) }
        if let s = startup {
            lines.append(row(["start-up to READY=1, \(Self.n(Double(s.storedRecords))) stored", String(format: "median %.0f ms", s.medianMilliseconds),
                              "runs: " + s.runsMilliseconds.map { String(format: "%.0f", $0) }.joined(separator: ", ") + " ms"], w))
            if let cold = s.coldMilliseconds { lines.append(row(["  … after dropping the page cache", String(format: "%.0f ms", cold), ""], w)) }
            else if let note = s.coldNote { lines.append(row(["  … cold cache", "n/a", note], w)) }
        }
        if let h = historySmallWarmup { batch("warm-up after restart, \(Self.n(Double(h.storedBefore))) stored", h) }
        if let h = historySmall { batch("probe batch at \(Self.n(Double(h.storedBefore))) stored", h) }
        if let h = historyLargeWarmup { batch("warm-up after restart, \(Self.n(Double(h.storedBefore))) stored", h) }
        if let h = historyLarge { batch("probe batch at \(Self.n(Double(h.storedBefore))) stored", h) }
        if historyRounds.count > 1 {
            for (index, round) in historyRounds.enumerated() {
                let small = round.small.map { String(format: "%.0f µs (CPU %.0f)", $0.microsecondsPerRecord, $0.cpuMicrosecondsPerRecord ?? .nan) } ?? "—"
                let large = round.large.map { String(format: "%.0f µs (CPU %.0f)", $0.microsecondsPerRecord, $0.cpuMicrosecondsPerRecord ?? .nan) } ?? "—"
                lines.append(row(["  history round \(index + 1): small → large", "\(small) → \(large)",
                                  round.ratio.map { String(format: "%.2f×", $0) } ?? ""], w))
            }
        }
        if let l = latencyStored { latency("drop→outbox, \(Self.n(Double(l.storedRecords))) stored", l) }
        if let m = memory {
            if m.startedEmptyRssKib != nil { lines.append(row(["RSS 2 s after start-up, empty store", Self.mib(m.startedEmptyRssKib), "before the idle trim"], w)) }
            if m.idleEmptyRssKib != nil {
                lines.append(row(["RSS idle, empty store", Self.mib(m.idleEmptyRssKib), "anon \(Self.mib(m.idleEmptyAnonymousKib)), file \(Self.mib(m.idleEmptyFileKib)); VmHWM \(Self.mib(m.idleEmptyHwmKib))"], w))
            }
            if m.backlogHwmKib != nil { lines.append(row(["RSS during backlog", "VmHWM \(Self.mib(m.backlogHwmKib))", "max sampled VmRSS \(Self.mib(m.backlogMaxRssKib))"], w)) }
            if let f = m.fillHwmKib { lines.append(row(["RSS filling to the target", "VmHWM \(Self.mib(f))", ""], w)) }
            if let i = m.idleStoredRssKib { lines.append(row(["RSS idle, restarted on \(Self.n(Double(m.storedRecords ?? 0))) stored", Self.mib(i), ""], w)) }
            if let p = m.storedWorkingHwmKib { lines.append(row(["RSS working with that store", "VmHWM \(Self.mib(p))", "after probe batch + latency probes"], w)) }
        }
        lines.append("")
        let tw = [44, 40, 60, 8]
        lines.append(row(["target", "goal", "measured", "verdict"], tw))
        lines.append(row([String(repeating: "-", count: 44), String(repeating: "-", count: 40), String(repeating: "-", count: 60), "-------"], tw))
        for t in targets {
            lines.append(row([t.name, t.target, t.measured, t.met.map { $0 ? "met" : "NOT MET" } ?? "n/a"], tw))
        }
        if !notes.isEmpty {
            lines.append("")
            lines += notes.map { "note: \($0)" }
        }
        lines.append(String(format: "total benchmark time %.0f s", totalSeconds))
        return lines.joined(separator: "\n")
    }
}
