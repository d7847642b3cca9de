import Foundation
import Logging
import Synchronization
import VigilConfig
import VigilControl
import VigilCore
@testable import VigilDaemon
import VigilOutbox
import VigilStore
import VigilSystemd
import VigilTestSupport
import XCTest

/// Collects log lines so tests can check what the pipeline reported.
final class CollectedLogs: Sendable {
    let lines = Mutex<[String]>([])
    func contains(_ text: String) -> Bool { lines.withLock { $0.contains { $0.contains(text) } } }
}

struct CollectingLogHandler: LogHandler {
    let sink: CollectedLogs
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        sink.lines.withLock { $0.append("\(event.level): \(event.message)") }
    }
}

/// The file pipeline in process, with a real SQLite store, the real journal and real directories:
/// every format, per-record rejection, idempotency and amendments.
final class PipelineTests: XCTestCase {
    var directory = ""
    var processor: FileProcessor!
    var store: VigilStore!
    var configuration: VigilConfiguration!
    var state: DaemonState!
    let logs = CollectedLogs()

    override func setUpWithError() throws {
        try TestSupport.ensureJournald()
        directory = try TestSupport.scratchDirectory("pipeline")
        let root = TestSupport.repositoryRoot()
        var text = try String(contentsOfFile: "\(root)/config/demo.yaml", encoding: .utf8)
        text = text.replacingOccurrences(of: "id: LYSYME", with: "id: PIPE-\(UUID().uuidString.prefix(8))")
        configuration = try VigilConfiguration.parse(text, file: "demo.yaml", workingDirectory: directory)
        let dirs = configuration.directories
        for path in [dirs.inbox, dirs.archive, dirs.rejected, dirs.state] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
        let outbox = Outbox(root: dirs.outbox)
        try outbox.createDirectories()
        store = try VigilStore(path: "\(dirs.state)/vigil.sqlite")
        state = DaemonState(configuration: configuration, configPath: "demo.yaml", startedAt: Date())
        let logger = Logger(label: "test") { _ in CollectingLogHandler(sink: self.logs) }
        let emitter = AlertEmitter(store: store, journal: JournalWriter(), outbox: outbox, state: state, logger: logger, clock: { Date() })
        processor = FileProcessor(store: store, emitter: emitter, state: state, logger: logger, clock: { Date() })
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    @discardableResult
    func drop(_ name: String, _ content: String) -> FileProcessor.Outcome {
        _ = FileManager.default.createFile(atPath: "\(configuration.directories.inbox)/\(name)", contents: Data(content.utf8))
        return processor.process(name: name)
    }

    func dropSample(_ name: String) throws -> FileProcessor.Outcome {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(TestSupport.repositoryRoot())/samples/\(name)"))
        _ = FileManager.default.createFile(atPath: "\(configuration.directories.inbox)/\(name)", contents: data)
        return processor.process(name: name)
    }

    func raised() throws -> [Alert] { try store.alerts(openOnly: false, limit: 100).map(\.alert) }

    func lactate(_ id: String, _ value: Double, subject: String = "LYS-02-001") -> String {
        #"{"type":"observation","id":"\#(id)","subject":"\#(subject)","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":\#(value),"unit":"mmol/L"}"# + "\n"
    }

    func testAmendmentIsAppliedLoggedAndReEvaluated() throws {
        XCTAssertEqual(drop("a.ndjson", lactate("LAB-9", 1.0)), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(try raised(), [])
        XCTAssertEqual(drop("b.ndjson", lactate("LAB-9", 4.6)), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertTrue(logs.contains("record LAB-9 amended (revision 2)"))
        XCTAssertEqual(try raised().map(\.severity), [.critical], "the corrected value raised the alert")
        XCTAssertEqual(try store.statistics().storedRecords, 1)
    }

    /// A delivery pass records its deliveries in one ledger transaction. When that transaction fails
    /// (a trigger makes the real SQLite refuse it), the alert stays pending in the ledger, and the next
    /// pass finds it in the journal instead of sending it again: one journal entry, one mail.
    func testDeliveriesTheLedgerCouldNotRecordAreNotSentTwice() throws {
        let database = "\(configuration.directories.state)/vigil.sqlite"
        func sqlite(_ sql: String) throws {
            let result = try TestSupport.run("/usr/bin/sqlite3", ["-cmd", ".timeout 5000", database, sql])
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        try sqlite("CREATE TRIGGER refuse_delivery BEFORE UPDATE OF journal_at ON alerts BEGIN SELECT RAISE(ABORT, 'injected ledger failure'); END;")
        XCTAssertEqual(drop("d.ndjson", lactate("LAB-D1", 4.8, subject: "LYS-02-009")), .archived(applied: 1, rejected: 0, unchanged: 0))
        let pending = try store.undeliveredAlerts()
        XCTAssertEqual(pending.map(\.alert.subject), ["LYS-02-009"], "sent, but the ledger could not say so")
        XCTAssertTrue(logs.contains("cannot record 2 delivery(ies) in the alert ledger"))
        let id = try XCTUnwrap(pending.first?.alert.id)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(configuration.directories.outbox)/new/\(id).eml"))

        try sqlite("DROP TRIGGER refuse_delivery;")
        processor.emitter.deliverPending()
        XCTAssertEqual(try store.undeliveredAlerts().count, 0)
        XCTAssertTrue(logs.contains("alert \(id) was already in the journal; not sent again"))
        // Alert ids do not depend on the trial: earlier runs of this test have the same id in the journal.
        let entries = try TestSupport.journalEntries(matching: "VIGIL_ALERT_ID=\(id)").filter { $0["VIGIL_TRIAL"] as? String == configuration.trial.id }
        XCTAssertEqual(entries.filter { $0["VIGIL_PHASE"] as? String == "raised" }.count, 1, "one journal entry")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: "\(configuration.directories.outbox)/new").filter { $0.hasSuffix(".eml") }, ["\(id).eml"])
    }

    /// Delivery passes run one at a time, whichever thread asks for them: passes asked for from many
    /// threads at once send a pending alert once to the journal and once to the outbox.
    func testDeliveryPassesAskedForAtOnceDeliverEachAlertOnce() throws {
        let alert = Alert(rule: "lactate", severity: .critical, subject: "LYS-02-010", trial: configuration.trial.id,
                          triggerKey: "concurrent|\(UUID().uuidString)", records: ["LAB-C1"], value: "5.1 mmol/L", title: "lactate 5.1",
                          reason: "test", action: "none", evidence: [], raisedAt: Date())
        try store.transaction { tx in _ = try tx.record(alert) }
        let emitter = processor.emitter
        DispatchQueue.concurrentPerform(iterations: 16) { _ in emitter.deliverPending() }
        XCTAssertEqual(try store.undeliveredAlerts().count, 0)
        XCTAssertEqual(try mails(), ["\(alert.id).eml"])
        func entries() -> Int {
            ((try? TestSupport.journalEntries(matching: "VIGIL_ALERT_ID=\(alert.id)")) ?? []).filter { $0["VIGIL_TRIAL"] as? String == configuration.trial.id }.count
        }
        XCTAssertTrue(TestSupport.waitUntil(timeout: 5) { entries() >= 1 })
        usleep(300_000)  // a second entry, if one had been sent, has reached the journal by now
        XCTAssertEqual(entries(), 1)
    }

    /// A backlog's next file is read and parsed while the current one is applied. The read-ahead is
    /// used only for the file as it was read: a file rewritten after it is read again.
    func testReadAheadIsUsedOnlyForTheFileAsItWasRead() throws {
        let inbox = configuration.directories.inbox
        func write(_ name: String, _ content: String) { _ = FileManager.default.createFile(atPath: "\(inbox)/\(name)", contents: Data(content.utf8)) }
        write("1.ndjson", lactate("LAB-1", 1.0, subject: "LYS-02-001"))
        write("2.ndjson", lactate("LAB-2", 1.1, subject: "LYS-02-002"))
        write("3.ndjson", lactate("LAB-3", 1.2, subject: "LYS-02-003"))
        XCTAssertEqual(processor.process(name: "1.ndjson", readingAhead: "2.ndjson"), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(processor.process(name: "2.ndjson", readingAhead: "3.ndjson"), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(processor.readAheadUsed.withLock { $0 }, 1, "2.ndjson came from its read-ahead")
        // 3.ndjson was read ahead with lactate 1.2, then rewritten (another size) with 5.2: the new content counts.
        processor.readAhead.drain()
        write("3.ndjson", lactate("LAB-3", 5.2, subject: "LYS-02-003") + "\n")
        XCTAssertEqual(processor.process(name: "3.ndjson"), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(processor.readAheadUsed.withLock { $0 }, 1, "the stale read-ahead was not used")
        XCTAssertEqual(try raised().map(\.subject), ["LYS-02-003"], "the rewritten value 5.2 raised the alert")
        XCTAssertEqual(try store.subjectInputs(subject: "LYS-02-003", asOf: Date()).latest["lactate"]?.value, .number(5.2))
        XCTAssertEqual(try store.subjectInputs(subject: "LYS-02-002", asOf: Date()).latest["lactate"]?.value, .number(1.1))
    }

    func mails() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: "\(configuration.directories.outbox)/new").filter { $0.hasSuffix(".eml") }.sorted()
    }

    func archived() throws -> [String] {
        let archive = configuration.directories.archive
        return try FileManager.default.contentsOfDirectory(atPath: archive).flatMap { day in
            try FileManager.default.contentsOfDirectory(atPath: "\(archive)/\(day)")
        }.sorted()
    }

    /// Group commit: files due after the one in hand join its transaction when their read-ahead is
    /// ready, and each is applied, evaluated and archived as it would be alone. A copy of a file of the
    /// batch does not join it (it is found in the ledger and archived as a duplicate), nor does a file
    /// with rejected records keep the next ones out.
    func testFilesDueTogetherAreCommittedTogetherWithTheSameOutcomesAsAlone() throws {
        let inbox = configuration.directories.inbox
        func write(_ name: String, _ content: String) { _ = FileManager.default.createFile(atPath: "\(inbox)/\(name)", contents: Data(content.utf8)) }
        write("1.ndjson", lactate("LAB-1", 4.6, subject: "LYS-02-001"))
        write("2.ndjson", lactate("LAB-2", 1.1, subject: "LYS-02-002"))
        write("3.ndjson", lactate("LAB-1", 4.6, subject: "LYS-02-001"))  // the same bytes as 1.ndjson
        write("4.ndjson", lactate("LAB-4", 1.0, subject: "LYS-02-004") + "{\"type\":\"observation\",\"id\":\"LAB-5\"}\n")
        write("5.ndjson", lactate("LAB-6", 5.0, subject: "LYS-02-006"))
        let upcoming = UpcomingFiles.list(["2.ndjson", "3.ndjson", "4.ndjson", "5.ndjson"])
        var outcomes = processor.process(name: "1.ndjson", upcoming: upcoming)
        XCTAssertEqual(outcomes.map(\.name), ["1.ndjson", "2.ndjson"], "one transaction, up to the copy of a file in it")
        // More files were due: the batch's alert went out on the delivery thread, once.
        processor.emitter.deliveryQueue.sync {}
        XCTAssertEqual(try mails().count, 1, "LAB-1's alert, delivered beside the next transaction")
        XCTAssertEqual(try store.undeliveredAlerts().count, 0)
        while let name = upcoming.next() { outcomes += processor.process(name: name, upcoming: upcoming) }
        XCTAssertEqual(outcomes.map(\.name), ["1.ndjson", "2.ndjson", "3.ndjson", "4.ndjson", "5.ndjson"])
        XCTAssertEqual(outcomes.map(\.outcome), [
            .archived(applied: 1, rejected: 0, unchanged: 0), .archived(applied: 1, rejected: 0, unchanged: 0), .alreadyProcessed,
            .archived(applied: 1, rejected: 4, unchanged: 0), .archived(applied: 1, rejected: 0, unchanged: 0),  // 4 missing fields
        ])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox), [])
        XCTAssertEqual(try archived(), ["1.ndjson", "2.ndjson", "3.ndjson", "4.ndjson", "5.ndjson"])
        let alerts = try raised()
        XCTAssertEqual(alerts.map(\.rule).sorted(), ["data-quality", "lactate", "lactate"])
        XCTAssertEqual(Set(alerts.compactMap(\.subject)), ["LYS-02-001", "LYS-02-006"])
        XCTAssertEqual(try mails().count, 3, "one mail per alert, delivered after the shared commit")
        XCTAssertEqual(try store.undeliveredAlerts().count, 0)
        XCTAssertEqual(try store.statistics().recordsApplied, 4)
    }

    /// vigil-bench's writer phase: files parsed outside the inbox are applied, evaluated and put in
    /// the ledger as a backlog's are, with nothing moved or delivered, and every file past the
    /// group commit's 64 gets its entry too (a second transaction).
    func testParsedFilesAreAppliedAsABacklogIsWithNothingDeliveredOrMoved() throws {
        let files = [
            ("1.ndjson", lactate("LAB-1", 4.6, subject: "LYS-02-001")),
            ("2.ndjson", lactate("LAB-2", 1.1, subject: "LYS-02-002") + "{\"type\":\"observation\",\"id\":\"LAB-3\"}\n"),
        ] + (0..<FileProcessor.groupCommitFiles).map { ("n\($0).ndjson", lactate("LAB-N\($0)", 1.0, subject: "LYS-02-010")) }
        let contents = files.map { InboxFile(name: $0.0, data: Data($0.1.utf8), configuration: configuration) }
        let cost = try processor.apply(contents)
        XCTAssertEqual(cost.records, 2 + FileProcessor.groupCommitFiles, "the parsed records; LAB-3 lacks its fields")
        XCTAssertEqual(try store.statistics().recordsApplied, 2 + FileProcessor.groupCommitFiles)
        for (name, content) in files {
            XCTAssertEqual(try store.fileEntry(sha256: Digest.sha256Hex(Data(content.utf8)))?.name, name)
        }
        XCTAssertEqual(try raised().map(\.rule).sorted(), ["data-quality", "lactate"])
        XCTAssertEqual(try store.undeliveredAlerts().count, 2, "nothing delivered")
        XCTAssertEqual(try mails().count, 0)
        XCTAssertEqual(try archived(), [], "nothing moved")
        for (name, stage) in [("store", cost.store), ("rules", cost.rules), ("commit", cost.commit)] {
            XCTAssertGreaterThan(stage.cpuSeconds, 0, name)
        }
        XCTAssertEqual([cost.read, cost.delivery, cost.files], [PipelineCost.Stage(), PipelineCost.Stage(), PipelineCost.Stage()])
    }

    /// `status`'s pipeline cost counts the records of the files processed and the time of each
    /// stage, for a batch and for a file alone, with a thread's CPU time never above its wall time.
    func testPipelineCostCountsTheRecordsAndTimesEveryStage() throws {
        XCTAssertEqual(state.pipelineCost, PipelineCost())
        let inbox = configuration.directories.inbox
        _ = FileManager.default.createFile(atPath: "\(inbox)/1.ndjson", contents: Data((lactate("LAB-1", 4.6) + lactate("LAB-2", 1.0, subject: "LYS-02-002")).utf8))
        _ = FileManager.default.createFile(atPath: "\(inbox)/2.ndjson", contents: Data(lactate("LAB-3", 1.2, subject: "LYS-02-003").utf8))
        let batch = processor.process(name: "1.ndjson", upcoming: UpcomingFiles.list(["2.ndjson"]))
        XCTAssertEqual(batch.count, 2, "one transaction")
        var cost = state.pipelineCost
        XCTAssertEqual(cost.records, 3)
        let stages = [("read", cost.read), ("store", cost.store), ("rules", cost.rules), ("commit", cost.commit), ("delivery", cost.delivery), ("files", cost.files)]
        for (name, stage) in stages {
            XCTAssertGreaterThan(stage.cpuSeconds, 0, name)
            XCTAssertGreaterThan(stage.wallSeconds, 0, name)
            XCTAssertLessThanOrEqual(stage.cpuSeconds, stage.wallSeconds + 0.001, name)
        }
        let before = cost
        XCTAssertEqual(drop("3.ndjson", lactate("LAB-4", 5.0, subject: "LYS-02-004")), .archived(applied: 1, rejected: 0, unchanged: 0))
        cost = state.pipelineCost
        XCTAssertEqual(cost.records, 4)
        XCTAssertGreaterThan(cost.rules.cpuSeconds, before.rules.cpuSeconds)
        XCTAssertGreaterThan(cost.commit.wallSeconds, before.commit.wallSeconds)
    }

    /// A batch's moves are made durable together after the commit; a crash before that can bring its
    /// files back into the inbox with no archived copy (the renames lost). Taken again, each is known
    /// to the ledger: moved once more, applied and alerted never again.
    func testBatchFilesBackInTheInboxAfterLostMovesAreOnlyMovedAgain() throws {
        let inbox = configuration.directories.inbox
        let contents = ["1.ndjson": lactate("LAB-1", 4.6, subject: "LYS-02-001"), "2.ndjson": lactate("LAB-2", 1.1, subject: "LYS-02-002"),
                        "3.ndjson": lactate("LAB-3", 5.0, subject: "LYS-02-003")]
        for (name, content) in contents { _ = FileManager.default.createFile(atPath: "\(inbox)/\(name)", contents: Data(content.utf8)) }
        let first = processor.process(name: "1.ndjson", upcoming: UpcomingFiles.list(["2.ndjson", "3.ndjson"]))
        XCTAssertEqual(first.map(\.name), ["1.ndjson", "2.ndjson", "3.ndjson"], "one transaction")
        XCTAssertEqual(try mails().count, 2)
        // The lost renames: each file back in the inbox, no copy in the archive.
        let archive = configuration.directories.archive
        for day in try FileManager.default.contentsOfDirectory(atPath: archive) {
            for name in try FileManager.default.contentsOfDirectory(atPath: "\(archive)/\(day)") {
                XCTAssertEqual(rename("\(archive)/\(day)/\(name)", "\(inbox)/\(name)"), 0)
            }
        }
        let upcoming = UpcomingFiles.list(["1.ndjson", "2.ndjson", "3.ndjson"])
        var again: [(name: String, outcome: FileProcessor.Outcome)] = []
        while let name = upcoming.next() { again += processor.process(name: name, upcoming: upcoming) }
        XCTAssertEqual(again.map(\.outcome), [.alreadyProcessed, .alreadyProcessed, .alreadyProcessed])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox), [])
        XCTAssertEqual(try archived(), ["1.ndjson", "2.ndjson", "3.ndjson"], "moved again, not archived as duplicates")
        XCTAssertEqual(try raised().count, 2)
        XCTAssertEqual(try mails().count, 2)
        XCTAssertEqual(try store.statistics().recordsApplied, 3)
    }

    /// A file that fails the shared transaction takes none of the batch with it: nothing of the batch
    /// was committed, each file is taken again alone, and only the failing one stays in the inbox.
    func testAFileFailingTheSharedTransactionDoesNotHoldUpTheOthers() throws {
        let inbox = configuration.directories.inbox
        func write(_ name: String, _ content: String) { _ = FileManager.default.createFile(atPath: "\(inbox)/\(name)", contents: Data(content.utf8)) }
        // A real SQLite trigger makes the store refuse one record, as a failing disk or a broken
        // database would: the transaction fails while that file is applied.
        let sqlite = Process()
        sqlite.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        sqlite.arguments = ["\(configuration.directories.state)/vigil.sqlite",
                            "CREATE TRIGGER refuse_boom BEFORE INSERT ON records WHEN NEW.id = 'BOOM' BEGIN SELECT RAISE(ABORT, 'refused by test trigger'); END;"]
        try sqlite.run()
        sqlite.waitUntilExit()
        XCTAssertEqual(sqlite.terminationStatus, 0)
        write("1.ndjson", lactate("LAB-1", 4.6, subject: "LYS-02-001"))
        write("2.ndjson", lactate("BOOM", 1.1, subject: "LYS-02-002"))
        write("3.ndjson", lactate("LAB-3", 5.0, subject: "LYS-02-003"))
        let upcoming = UpcomingFiles.list(["2.ndjson", "3.ndjson"])
        var outcomes = processor.process(name: "1.ndjson", upcoming: upcoming)
        XCTAssertEqual(outcomes.map(\.name), ["1.ndjson", "2.ndjson"])
        XCTAssertEqual(outcomes.first?.outcome, .archived(applied: 1, rejected: 0, unchanged: 0))
        guard case .failed(let reason) = outcomes.last?.outcome else { return XCTFail("2.ndjson: \(outcomes)") }
        XCTAssertTrue(reason.contains("refused by test trigger"), reason)
        XCTAssertTrue(logs.contains("a transaction of 2 inbox files failed"))
        while let name = upcoming.next() { outcomes += processor.process(name: name, upcoming: upcoming) }
        XCTAssertEqual(outcomes.last?.outcome, .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox), ["2.ndjson"])
        XCTAssertEqual(try archived(), ["1.ndjson", "3.ndjson"])
        XCTAssertEqual(try raised().compactMap(\.subject).sorted(), ["LYS-02-001", "LYS-02-003"], "each alert once")
        XCTAssertEqual(try mails().count, 2)
        XCTAssertEqual(try store.statistics().recordsApplied, 2)
    }

    func testIdenticalFileAndIdenticalRecordAreNotAppliedAgain() throws {
        let content = lactate("LAB-7", 3.0)
        XCTAssertEqual(drop("one.ndjson", content), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(drop("one-again.ndjson", content), .alreadyProcessed)
        XCTAssertEqual(drop("one.ndjson", content), .alreadyProcessed, "same name, same bytes")
        XCTAssertEqual(drop("same-record.ndjson", content + "\n"), .archived(applied: 0, rejected: 0, unchanged: 1))
        XCTAssertEqual(try raised().count, 1)
        let day = try XCTUnwrap(FileManager.default.contentsOfDirectory(atPath: configuration.directories.archive).first)
        let archived = try FileManager.default.contentsOfDirectory(atPath: "\(configuration.directories.archive)/\(day)").sorted()
        XCTAssertEqual(archived, ["one-again.ndjson", "one.ndjson", "one.ndjson.duplicate", "same-record.ndjson"])
        XCTAssertEqual(try store.statistics().recordsApplied, 1)
    }

    func testBadRecordsAreListedAndRaiseOneDataQualityAlert() throws {
        let content = lactate("LAB-1", 1.0) + lactate("LAB-2", 1.0).replacingOccurrences(of: "mmol/L", with: "mg%") + "{broken\n"
        XCTAssertEqual(drop("mixed.ndjson", content), .archived(applied: 1, rejected: 2, unchanged: 0))
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(configuration.directories.rejected)/mixed.ndjson.errors.json"))) as? [[String: Any]])
        XCTAssertEqual(report.map { $0["line"] as? Int }, [2, 3])
        XCTAssertEqual(report.first?["file"] as? String, "mixed.ndjson")
        XCTAssertEqual(report.first?["field"] as? String, "unit")
        XCTAssertEqual(report.first?["value_shape"] as? String, "text of 3 characters: letters, punctuation or symbols")
        XCTAssertNil(report.first?["value"], "errors.json describes the value by its shape only")
        XCTAssertEqual(report.first?["expected"] as? String, "one of: mEq/L, mg/dL, mmol/L")
        let alert = try XCTUnwrap(raised().first)
        XCTAssertEqual(alert.rule, "data-quality")
        XCTAssertEqual(alert.severity, .warning)
        XCTAssertEqual(alert.title, "2 records rejected in inbox file mixed.ndjson")
    }

    func testEverySampleFormatGoesThroughThePipeline() throws {
        XCTAssertEqual(try dropSample("sdtm-ex.csv"), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(try dropSample("sdtm-lb.csv"), .archived(applied: 3, rejected: 0, unchanged: 0))
        XCTAssertEqual(try dropSample("sdtm-ae.csv"), .archived(applied: 2, rejected: 0, unchanged: 0))
        XCTAssertEqual(try dropSample("sdtm-ds.csv"), .archived(applied: 1, rejected: 0, unchanged: 0))
        // Three ORU^R01 messages; the second corrects the first (OBX-11 C): 7 results, 6 distinct records.
        XCTAssertEqual(try dropSample("oru-results.hl7"), .archived(applied: 7, rejected: 0, unchanged: 0))
        XCTAssertTrue(logs.contains("record HL7-FIL-88001-2524-7-1 amended (revision 2)"))
        XCTAssertEqual(try dropSample("adt-transfer.hl7"), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(try store.statistics().storedRecords, 14)
        let alerts = try raised()
        XCTAssertEqual(Set(alerts.map { "\($0.subject ?? "-") \($0.rule) \($0.severity)" }), [
            "LYS-01-006 lactate warning",    // 31.5 mg/dL = 3.5 mmol/L
            "LYS-01-005 lactate critical",   // 4.8, corrected to 5.6: still critical, so no second alert
            "LYS-01-005 news2 critical",     // RR 24 (2), SpO2 93 (2), SBP 98 (2), HR 118 (2), T 38.6 (1) = 9 ≥ 7 even before oxygen and consciousness are known
            "LYS-01-005 qsofa warning",      // RR 24 and SBP 98
            "LYS-01-005 sirs info",          // T 38.6, HR 118, RR 24
            "LYS-01-005 icu-transfer info",  // ADT^A02 to REA
            // Pulmonary embolism on D2 after the infusion, serious, probably related, unexpected:
            "LYS-01-006 halt-thromboembolism-30d halt",
            "LYS-01-006 halt-susar halt",
        ])
        let trial = try store.trialState()
        XCTAssertEqual(trial.phase, .halted)
        XCTAssertEqual(trial.rule, "halt-thromboembolism-30d", "the first rule met is the recorded reason")
        XCTAssertEqual(try store.susarClocks().map(\.clock.days), [15], "hospitalisation, not fatal or life-threatening: 15 days")
    }

    func testWithdrawnResultIsRetracted() throws {
        let result = "MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01|M1|P|2.5\rPID|1||LYS-01-005^^^LYSYME^RI\rOBR|1|O|F-1|x|||20261123071500+0100\r"
        XCTAssertEqual(drop("r1.hl7", result + "OBX|1|NM|2524-7^Lactate^LN|1|1.1|mmol/L|||||F\r"), .archived(applied: 1, rejected: 0, unchanged: 0))
        XCTAssertEqual(drop("r2.hl7", result.replacingOccurrences(of: "|M1|", with: "|M2|") + "OBX|1|NM|2524-7^Lactate^LN|1||mmol/L|||||D\r"),
                       .archived(applied: 0, rejected: 0, unchanged: 0))
        XCTAssertTrue(logs.contains("record HL7-F-1-2524-7-1 withdrawn by its sender"))
    }

    func testUnsupportedFileTypeIsRejectedWithAReport() throws {
        guard case .rejected(let reason) = drop("notes.txt", "hello") else { return XCTFail("expected a rejection") }
        XCTAssertTrue(reason.contains("unsupported file type"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(configuration.directories.rejected)/notes.txt.errors.json"))
    }
}
