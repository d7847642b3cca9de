import Foundation
import VigilConfig
import VigilCore
import VigilStore
import VigilTestSupport
import XCTest
@testable import VigilDaemon

/// When the trial-level monitoring rules run (real SQLite store, the shipped demo configuration):
/// inside a file's transaction only when the file brings an adverse event or an infusion (vitals and
/// labs cannot change them), and always on the timer's full pass, which is what catches a toxicity
/// whose onset is reached by time alone.
final class TrialMonitorTests: XCTestCase {
    var directory = ""
    var configuration: VigilConfiguration!
    var store: VigilStore!
    let now = Date(timeIntervalSince1970: 1_795_400_000)

    override func setUpWithError() throws {
        directory = try TestSupport.scratchDirectory("trial-monitor")
        let text = try String(contentsOfFile: "\(TestSupport.repositoryRoot())/config/demo.yaml", encoding: .utf8)
        configuration = try VigilConfiguration.parse(text, file: "demo.yaml", workingDirectory: directory)
        store = try VigilStore(path: "\(directory)/vigil.sqlite")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func infusion(_ subject: String, daysAgo: Double) -> VigilCore.Record {
        .event(ClinicalEvent(id: "INF-\(subject)", subject: subject, time: now.addingTimeInterval(-daysAgo * 86400), kind: "infusion"))
    }

    /// Grade 3, possibly related, within Day 10 of the infusion: a toxicity for monitoring, and no
    /// immediate-halt rule of the demo configuration matches it.
    func toxicity(_ subject: String, onset: Date) -> VigilCore.Record {
        .adverseEvent(AdverseEvent(id: "AE-\(subject)", subject: subject, onset: "2026-11-20", onsetTime: onset, term: "Neutropenia",
                                   meddraPT: nil, grade: 3, serious: [], related: "possible", expected: true, outcome: nil, aware: nil))
    }

    func lactate(_ subject: String) -> VigilCore.Record {
        .observation(Observation(id: "LAC-\(subject)", subject: subject, time: now, code: "lactate", value: .number(1.0), unit: "mmol/L"))
    }

    /// Stores records without any rule running, as a file applied before the rules' pass would.
    func store(_ records: [VigilCore.Record]) throws {
        try store.transaction { tx in for record in records { _ = try tx.apply(record, fileSHA256: "seed", at: now) } }
    }

    func monitor(_ applied: [VigilCore.Record], fullPass: Bool, at time: Date? = nil) throws -> [Alert] {
        try store.transaction { tx in
            try TrialMonitor(configuration: configuration, now: time ?? now).evaluate(applied: applied, fullPass: fullPass, in: tx)
        }
    }

    func testAFileWithAnAdverseEventRunsTheMonitoringRules() throws {
        let subjects = ["LYS-01-001", "LYS-01-002", "LYS-01-003"]
        try store(subjects.map { infusion($0, daysAgo: 5) } + subjects.map { toxicity($0, onset: now.addingTimeInterval(-86400)) })
        let alerts = try monitor([toxicity("LYS-01-003", onset: now.addingTimeInterval(-86400))], fullPass: false)
        XCTAssertEqual(alerts.map(\.rule), ["bayesian-toxicity"], "3 toxicities among 3 evaluable (boundary for n = 3 is 3)")
        XCTAssertEqual(try store.trialState().phase, .halted)
    }

    func testAVitalsOnlyFileLeavesThemToTheTimerWhichHaltsOnceAnOnsetIsReached() throws {
        let subjects = ["LYS-01-001", "LYS-01-002", "LYS-01-003"]
        // The third toxicity has its onset an hour from now: until then only two subjects are evaluable.
        try store(subjects.map { infusion($0, daysAgo: 5) }
                  + [toxicity("LYS-01-001", onset: now.addingTimeInterval(-86400)), toxicity("LYS-01-002", onset: now.addingTimeInterval(-86400)),
                     toxicity("LYS-01-003", onset: now.addingTimeInterval(3600))])
        XCTAssertEqual(try monitor([], fullPass: true), [], "at the time of the file, 2 of 2 evaluable is not a stop")
        let later = now.addingTimeInterval(7200)
        XCTAssertEqual(try monitor([lactate("LYS-01-001")], fullPass: false, at: later), [],
                       "a vitals-only file does not run the monitoring rules")
        XCTAssertEqual(try store.trialState().phase, .running)
        let alerts = try monitor([], fullPass: true, at: later)
        XCTAssertEqual(alerts.map(\.rule), ["bayesian-toxicity"], "the timer's pass halts once the third onset has passed")
        XCTAssertEqual(try store.trialState().phase, .halted)
    }

    /// The rules read each subject's adverse events through the evaluation cache: an amendment that
    /// turns a cached grade-1 event into a toxicity must be seen by the file that brings it.
    func testAnAmendmentOfACachedAdverseEventIsSeenByTheMonitoringRules() throws {
        let subjects = ["LYS-01-001", "LYS-01-002", "LYS-01-003"]
        let onset = now.addingTimeInterval(-86400)
        var mild = AdverseEvent(id: "AE-LYS-01-003", subject: "LYS-01-003", onset: "2026-11-20", onsetTime: onset, term: "Neutropenia",
                                meddraPT: nil, grade: 1, serious: [], related: "possible", expected: true, outcome: nil, aware: nil)
        try store(subjects.map { infusion($0, daysAgo: 5) } + [toxicity("LYS-01-001", onset: onset), toxicity("LYS-01-002", onset: onset), .adverseEvent(mild)])
        XCTAssertEqual(try monitor([], fullPass: true), [], "2 toxicities among 2 evaluable is not a stop; every history is now cached")
        mild.grade = 3
        let alerts = try store.transaction { tx in
            XCTAssertEqual(try tx.apply(.adverseEvent(mild), fileSHA256: "amend", at: now), .amended(revision: 2))
            return try TrialMonitor(configuration: configuration, now: now).evaluate(applied: [.adverseEvent(mild)], fullPass: false, in: tx)
        }
        XCTAssertEqual(alerts.map(\.rule), ["bayesian-toxicity"], "the amended grade 3 makes 3 of 3")
    }
}
