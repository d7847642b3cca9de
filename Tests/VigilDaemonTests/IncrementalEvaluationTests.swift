import Foundation
import Logging
import VigilConfig
import VigilControl
import VigilCore
@testable import VigilDaemon
import VigilOutbox
import VigilStore
import VigilSystemd
import VigilTestSupport
import XCTest

/// Incremental evaluation (docs/ARCHITECTURE.md §4) against the full evaluation it replaces: the same
/// seeded clinical course, through the daemon's apply stage, into two stores, one evaluating only the
/// signals due and one every signal at every moment. Both must raise, resolve and re-enter the same
/// alerts and end with the same signal states. The course has gaps longer than the freshness
/// windows (values go stale), late files (moments before the mark), amended records, a restart of the
/// incremental side (no mark in memory) and a configuration change.
final class IncrementalEvaluationTests: XCTestCase {
    struct Side {
        var store: VigilStore
        var processor: FileProcessor
    }

    var directory = ""

    override func setUpWithError() throws {
        directory = try TestSupport.scratchDirectory("incremental")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func configuration(_ name: String, rrWarning: Bool = false) throws -> VigilConfiguration {
        var text = try String(contentsOfFile: "\(TestSupport.repositoryRoot())/config/demo.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "id: LYSYME", with: "id: INCR")
        if rrWarning { text = text.replacingOccurrences(of: "  qsofa:\n    warning_at: 2", with: "  qsofa:\n    warning_at: 1") }
        return try VigilConfiguration.parse(text, file: "\(name).yaml", workingDirectory: "\(directory)/\(name)", digest: rrWarning ? "changed" : "base")
    }

    func side(_ name: String, incremental: Bool, configuration: VigilConfiguration) throws -> Side {
        let dirs = configuration.directories
        for path in [dirs.inbox, dirs.archive, dirs.rejected, dirs.state] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let outbox = Outbox(root: dirs.outbox)
        try outbox.createDirectories()
        let store = try VigilStore(path: "\(dirs.state)/vigil.sqlite")
        let state = DaemonState(configuration: configuration, configPath: "\(name).yaml", startedAt: Date())
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let emitter = AlertEmitter(store: store, journal: JournalWriter(), outbox: outbox, state: state, logger: logger, clock: { Date() })
        let processor = FileProcessor(store: store, emitter: emitter, state: state, logger: logger, clock: { Date() }, incrementalEvaluation: incremental)
        return Side(store: store, processor: processor)
    }

    /// A clinical course: six subjects over six days, vital signs every 4 h with gaps of up to 14 h,
    /// a daily lab panel, deteriorations, cultures, and late and amended records.
    static func course(seed: UInt64) -> [(name: String, lines: [String])] {
        var random = SplitMix64(seed: seed)
        let start = 1_800_000_000.0
        var files: [(name: String, lines: [String])] = []
        func iso(_ t: Double) -> String {
            let formatter = ISO8601DateFormatter()
            return formatter.string(from: Date(timeIntervalSince1970: t))
        }
        func obs(_ id: String, _ subject: String, _ t: Double, _ code: String, _ value: String, _ unit: String?) -> String {
            "{\"type\":\"observation\",\"id\":\"\(id)\",\"subject\":\"\(subject)\",\"time\":\"\(iso(t))\",\"code\":\"\(code)\",\"value\":\(value)"
                + (unit.map { ",\"unit\":\"\($0)\"" } ?? "") + "}"
        }
        var late: [String] = []
        var counter = 0
        for day in 0..<6 {
            for slot in 0..<6 {
                var lines: [String] = []
                // The laboratory's feed is a file of its own, as at a site.
                var labLines: [String] = []
                for n in 1...6 {
                    let subject = "LYS-07-00\(n)"
                    if day == 0, slot == 0 {
                        lines.append("{\"type\":\"event\",\"id\":\"ENR-\(n)\",\"subject\":\"\(subject)\",\"time\":\"\(iso(start - 3_600))\",\"kind\":\"enrolment\",\"age\":\(40 + n * 5),\"malignancy\":false}")
                        lines.append("{\"type\":\"event\",\"id\":\"INF-\(n)\",\"subject\":\"\(subject)\",\"time\":\"\(iso(start))\",\"kind\":\"infusion\"}")
                    }
                    let t = start + Double(day * 86_400 + slot * 14_400) + Double.random(in: 0...1_800, using: &random).rounded()
                    // A subject is unwell on some days, so a score stays high over several moments.
                    let sick = (day + n) % 3 == 0 || Double.random(in: 0...1, using: &random) < 0.15
                    counter += 1
                    if slot == 1 {
                        // The daily panel comes whether or not vital signs were charted: a moment at
                        // which the vital signs may be stale.
                        let labs: [(String, Double, String)] = [
                            ("lactate", sick ? Double.random(in: 2...5, using: &random) : Double.random(in: 0.5...1.9, using: &random), "mmol/L"),
                            ("platelets", sick ? Double.random(in: 20...90, using: &random) : Double.random(in: 150...300, using: &random), "10*9/L"),
                            ("creatinine", Double.random(in: 60...250, using: &random), "umol/L"),
                            ("bilirubin", Double.random(in: 5...60, using: &random), "umol/L"),
                            ("wbc", sick ? Double.random(in: 12...20, using: &random) : Double.random(in: 4...10, using: &random), "10*9/L"),
                            ("potassium", Double.random(in: 2.8...6.6, using: &random), "mmol/L"),
                        ]
                        for (code, value, unit) in labs {
                            labLines.append(obs("L\(counter)-\(code)", subject, t + 5 * 3_600, code, String(format: "%.1f", value), unit))
                        }
                        if sick, Double.random(in: 0...1, using: &random) < 0.3 {
                            labLines.append(obs("BC\(counter)", subject, t + 5 * 3_600 + 60, "blood_culture", "\"positive\"", nil))
                        }
                    }
                    // Gaps: a subject's vital signs are skipped now and then, past the 4-h window.
                    guard Double.random(in: 0...1, using: &random) > 0.3 else { continue }
                    let vitals: [(String, Double, String?)] = [
                        ("heart_rate", sick ? Double.random(in: 95...135, using: &random) : Double.random(in: 60...95, using: &random), "/min"),
                        ("respiratory_rate", sick ? Double.random(in: 21...30, using: &random) : Double.random(in: 12...20, using: &random), "/min"),
                        ("systolic_bp", sick ? Double.random(in: 85...105, using: &random) : Double.random(in: 105...140, using: &random), "mmHg"),
                        ("temperature", sick ? Double.random(in: 38...39.5, using: &random) : Double.random(in: 36.2...37.8, using: &random), "Cel"),
                        ("spo2", sick ? Double.random(in: 88...94, using: &random) : Double.random(in: 95...99, using: &random), "%"),
                    ]
                    for (code, value, unit) in vitals where Double.random(in: 0...1, using: &random) > 0.2 {
                        // Each charted at its own moment, so some go stale while others are fresh.
                        let charted = t + Double(Int.random(in: 0...3, using: &random) * 3_600)
                        let line = obs("V\(counter)-\(code)", subject, charted, code, String(format: "%.1f", value), unit)
                        if Double.random(in: 0...1, using: &random) < 0.05 { late.append(line) } else { lines.append(line) }
                    }
                    lines.append(obs("O\(counter)", subject, t, "oxygen", sick ? "true" : "false", nil))
                    lines.append(obs("C\(counter)", subject, t, "consciousness", sick && Bool.random(using: &random) ? "\"C\"" : "\"A\"", nil))
                    if Double.random(in: 0...1, using: &random) < 0.05, counter > 3 {
                        // An amendment: an earlier vital sign sent again with another value.
                        lines.append(obs("V\(counter - 2)-heart_rate", subject, t - 8 * 3_600, "heart_rate", "128", "/min"))
                    }
                }
                if !lines.isEmpty { files.append(("d\(day)s\(slot).ndjson", lines)) }
                if !labLines.isEmpty { files.append(("lab-d\(day)s\(slot).ndjson", labLines)) }
                if slot == 5, !late.isEmpty {
                    files.append(("late-d\(day).ndjson", late))
                    late = []
                }
            }
        }
        return files
    }

    func snapshot(_ store: VigilStore) throws -> (alerts: [String], states: [String]) {
        let alerts = try store.undeliveredAlerts().map { "\($0.alert.id) \($0.alert.rule) \($0.alert.subject ?? "-") \($0.alert.severity.rawValue) \($0.alert.phase.rawValue)" }
        var states: [String] = []
        for n in 1...6 {
            states += try store.signalStates(subject: "LYS-07-00\(n)").map {
                "\($0.subject) \($0.rule) \($0.severity?.rawValue ?? "-") \($0.alertID ?? "-") \($0.evidenceTime.timeIntervalSince1970) \($0.peak?.rawValue ?? "-")"
            }
        }
        return (alerts.sorted(), states.sorted())
    }

    func testIncrementalEvaluationRaisesExactlyWhatFullEvaluationRaises() throws {
        for seed: UInt64 in [1, 2, 3] {
            let course = Self.course(seed: seed)
            func inbox(_ configuration: VigilConfiguration) -> [InboxFile] {
                course.map { InboxFile(name: $0.name, data: Data(($0.lines.joined(separator: "\n") + "\n").utf8), configuration: configuration) }
            }
            // Each side its own directories; the last third of the course under a changed configuration
            // (its digest differs: the first moment after it is evaluated in full).
            let fullFiles = (base: inbox(try configuration("full\(seed)")), changed: inbox(try configuration("full\(seed)", rrWarning: true)))
            let incrementalConfiguration = try configuration("incr\(seed)")
            let incrementalFiles = (base: inbox(incrementalConfiguration), changed: inbox(try configuration("incr\(seed)", rrWarning: true)))
            let full = try side("full\(seed)", incremental: false, configuration: try configuration("full\(seed)"))
            var incremental = try side("incr\(seed)", incremental: true, configuration: incrementalConfiguration)
            var random = SplitMix64(seed: seed)
            var index = 0
            while index < course.count {
                // Files in transactions of 1 to 5, so marks are carried across transactions too.
                let count = min(course.count - index, Int.random(in: 1...5, using: &random))
                let late = index > course.count * 2 / 3
                _ = try full.processor.apply(Array((late ? fullFiles.changed : fullFiles.base)[index..<index + count]))
                _ = try incremental.processor.apply(Array((late ? incrementalFiles.changed : incrementalFiles.base)[index..<index + count]))
                index += count
                if index > course.count / 2, index - count <= course.count / 2 {
                    // A restart of the incremental side: no mark in memory, the next moments in full.
                    incremental = try side("incr\(seed)", incremental: true, configuration: incrementalConfiguration)
                }
            }
            let expected = try snapshot(full.store)
            let got = try snapshot(incremental.store)
            XCTAssertEqual(try full.store.statistics().recordsRejected, 0, "every record of the course is valid (seed \(seed))")
            XCTAssertGreaterThan(expected.alerts.count, 20, "the course raises alerts (seed \(seed))")
            XCTAssertTrue(expected.alerts.contains { $0.contains(" news2 ") } && expected.alerts.contains { $0.contains(" qsofa ") },
                          "the scores the vital signs feed are exercised (seed \(seed))")
            XCTAssertTrue(expected.alerts.contains { $0.hasSuffix(" resolved") }, "and resolves some (seed \(seed))")
            XCTAssertEqual(got.alerts, expected.alerts, "seed \(seed)")
            XCTAssertEqual(got.states, expected.states, "seed \(seed)")
        }
    }
}
