import Foundation
import Glibc
import VigilCore
import VigilTestSupport
import XCTest

/// Crash safety with real `kill -9`: a mixed-format workload (NDJSON, JSON, SDTM CSV, HL7) is
/// dropped while a driver kills vigild at random moments and restarts it. At the end every record
/// is applied exactly once, every expected alert is in the outbox exactly once and in the journal
/// exactly once, and the inbox is empty. `VIGIL_CRASH_KILLS` sets the number of kills (default 30;
/// `scripts/crash-soak` runs 200) and `VIGIL_CRASH_SEED` the random seed.
final class CrashTests: XCTestCase {
    /// One generated inbox file and what it must produce.
    struct Workload {
        var name: String
        var content: String
        var recordIDs: [String]
        var alertIDs: [String]
    }

    static let recordsPerFile = 12

    /// File i: 12 records in one of four formats; every even file carries one lactate ≥ 2 mmol/L for
    /// a subject of its own (so the alert it raises does not depend on processing order).
    static func workload(_ i: Int) -> Workload {
        let quiet = String(format: "LYS-%02d-%03d", 10 + i % 40, i)
        let loud = String(format: "LYS-50-%03d", i)
        let alerting = i % 2 == 0
        let loudValue = i % 4 == 0 ? 4.5 : 2.5
        let minute = { (k: Int) in String(format: "2026-11-23T%02d:%02d:00+01:00", 6 + k / 60, k % 60) }
        var alertIDs: [String] = []
        var ids: [String] = []
        func expectAlert(_ recordID: String) {
            alertIDs.append(Alert.makeID(rule: "lactate", subject: loud, triggerKey: "\(recordID)|\(loudValue >= 4 ? "critical" : "warning")"))
        }
        switch i % 4 {
        case 0, 1:
            var lines: [String] = []
            for k in 0..<recordsPerFile {
                let id = "CR-\(i)-\(k)"
                ids.append(id)
                let isLoud = alerting && k == 0
                let code = k % 3 == 0 ? "lactate" : "heart_rate"
                let value = code == "lactate" ? (isLoud ? loudValue : 1.0 + Double(k) / 100) : Double(70 + k)
                lines.append(#"{"type":"observation","id":"\#(id)","subject":"\#(isLoud ? loud : quiet)","time":"\#(minute(k))","code":"\#(code)","value":\#(value),"unit":"\#(code == "lactate" ? "mmol/L" : "/min")"}"#)
                if isLoud { expectAlert(id) }
            }
            let content = i % 4 == 0 ? lines.joined(separator: "\n") + "\n" : "[\n" + lines.joined(separator: ",\n") + "\n]\n"
            return Workload(name: String(format: "crash-%03d.%@", i, i % 4 == 0 ? "ndjson" : "json"), content: content, recordIDs: ids, alertIDs: alertIDs)
        case 2:
            var rows = ["STUDYID;DOMAIN;USUBJID;LBSEQ;LBTESTCD;LBORRES;LBORRESU;LBDTC"]
            for k in 0..<recordsPerFile {
                let isLoud = alerting && k == 0
                let subject = isLoud ? loud : quiet
                let seq = 1000 * i + k
                ids.append("LB-\(subject)-\(seq)")
                let value = isLoud ? String(loudValue * 9.008).replacingOccurrences(of: ".", with: ",") : "\(5 + k),5"
                rows.append("LYSYME;LB;LYSYME-\(subject);\(seq);LACTICAC;\(value);mg/dL;\(minute(k))")
                if isLoud { expectAlert("LB-\(subject)-\(seq)") }
            }
            return Workload(name: String(format: "crash-%03d.csv", i), content: rows.joined(separator: "\r\n") + "\r\n", recordIDs: ids, alertIDs: alertIDs)
        default:
            var segments = ["MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01^ORU_R01|CR-MSG-\(i)|P|2.5",
                            "PID|1||\(alerting ? loud : quiet)^^^LYSYME^RI", "OBR|1|ORD-\(i)|FIL-CR-\(i)|2524-7^Lactate^LN|||20261123071500+0100"]
            for k in 0..<recordsPerFile {
                let isLoud = alerting && k == 0
                let code = isLoud || k % 2 == 0 ? "2524-7" : "8867-4"
                let value = isLoud ? String(loudValue) : (code == "2524-7" ? "1.\(k)" : "\(80 + k)")
                ids.append("HL7-FIL-CR-\(i)-\(code)-\(k + 1)")
                segments.append("OBX|\(k + 1)|NM|\(code)^x^LN|\(k + 1)|\(value)|\(code == "2524-7" ? "mmol/L" : "/min")|||||F|||2026112307\(String(format: "%02d", k))00+0100")
                if isLoud { expectAlert("HL7-FIL-CR-\(i)-\(code)-\(k + 1)") }
            }
            // Only the first OBX is the subject's alert; the rest of an alerting message stays below 2 mmol/L.
            return Workload(name: String(format: "crash-%03d.hl7", i), content: segments.joined(separator: "\r") + "\r", recordIDs: ids, alertIDs: alertIDs)
        }
    }

    func testKill9DuringIngestLosesNothingAndDoublesNothing() throws {
        try TestSupport.ensureJournald()
        let environment = ProcessInfo.processInfo.environment
        let kills = Int(environment["VIGIL_CRASH_KILLS"] ?? "") ?? 30
        let seed = UInt64(environment["VIGIL_CRASH_SEED"] ?? "") ?? UInt64(Date().timeIntervalSince1970)
        var random = SplitMix64(seed: seed)
        let harness = try DaemonHarness(label: "crash")
        defer { harness.cleanUp() }
        try harness.writeConfiguration(lactate: (2.0, 4.0), extra: """
            mapping:
              loinc: {"2524-7": lactate, "8867-4": heart_rate}
              sdtm: {LACTICAC: lactate}
            hl7:
              subject_authority: LYSYME
            """)
        try FileManager.default.createDirectory(atPath: harness.inbox, withIntermediateDirectories: true)

        let files = (0..<200).map(Self.workload)
        let expectedRecords = Set(files.flatMap(\.recordIDs))
        let expectedAlerts = Set(files.flatMap(\.alertIDs))
        XCTAssertEqual(expectedRecords.count, 200 * Self.recordsPerFile)
        XCTAssertEqual(expectedAlerts.count, 100)

        try harness.start()
        var next = 0
        var killed = 0
        while killed < kills {
            // Drop a few files (none once all are dropped), let vigild work a random while, kill it mid-flight.
            // Spread the files over all the kills, so every kill lands on work in progress.
            let widest = max(1, 2 * files.count / kills)
            let batch = next < files.count ? min(Int.random(in: 1...widest, using: &random), files.count - next) : 0
            for file in files[next..<(next + batch)] { try harness.drop(file.name, file.content) }
            next += batch
            // A few tens of milliseconds per file: the kill falls while the files are being processed.
            usleep(UInt32.random(in: 0...UInt32(20_000 + batch * 40_000), using: &random))
            harness.crash()
            killed += 1
            try harness.start()
        }
        for file in files[next...] { try harness.drop(file.name, file.content) }

        XCTAssertTrue(TestSupport.waitUntil(timeout: 120) {
            harness.files(in: harness.inbox).isEmpty && Set(harness.files(in: harness.outboxNew)).count == expectedAlerts.count
        }, "all files processed and all mail written; stderr tail:\n\(harness.stderr.suffix(2000))")
        XCTAssertEqual(harness.terminate(timeout: 30).status, 0)
        // journald stores an entry shortly after the outbox file appears: wait for it to catch up.
        TestSupport.waitUntil(timeout: 10) { ((try? harness.journalEntries()) ?? []).count >= expectedAlerts.count }

        func sql(_ query: String) throws -> String {
            try TestSupport.run("/usr/bin/sqlite3", [harness.database, query]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let storedRecords = Set(try sql("SELECT id FROM records").split(separator: "\n").map(String.init))
        let archived = harness.archivedFiles().map { ($0 as NSString).lastPathComponent }
        let outbox = harness.files(in: harness.outboxNew).map { $0.replacingOccurrences(of: ".eml", with: "") }
        let journal = try harness.journalEntries().compactMap { $0["VIGIL_ALERT_ID"] as? String }
        let journalCounts = Dictionary(journal.map { ($0, 1) }, uniquingKeysWith: +)

        let log = harness.stderr
        let count = { (needle: String) in log.components(separatedBy: needle).count - 1 }
        print("""
            crash soak (seed \(seed)): \(killed) kill -9, \(files.count) files, \(expectedRecords.count) records, \
            \(expectedAlerts.count) expected alerts → records stored \(storedRecords.count), amendments \(try sql("SELECT COUNT(*) FROM record_amendments")), \
            files in ledger \(try sql("SELECT COUNT(*) FROM file_ledger")), archived \(archived.count), inbox left \(harness.files(in: harness.inbox).count), \
            outbox messages \(outbox.count), journal entries \(journal.count), journal duplicates \(journalCounts.values.filter { $0 > 1 }.count); \
            interrupted moments seen on restart: \(count("recovery: ")) alert recoveries (\(count("already in the journal")) found in the journal), \
            \(count("was already processed")) files finished after their commit
            """)
        XCTAssertGreaterThanOrEqual(killed, kills)
        XCTAssertEqual(storedRecords, expectedRecords, "every record applied")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM record_amendments"), "0", "no record applied twice")
        XCTAssertEqual(try sql("SELECT SUM(applied) FROM file_ledger"), String(expectedRecords.count), "each record applied by exactly one file")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM file_ledger"), "200")
        XCTAssertEqual(archived.sorted(), files.map(\.name).sorted(), "every file archived once, none rejected or duplicated")
        XCTAssertEqual(harness.files(in: harness.inbox), [])
        XCTAssertEqual(Set(outbox), expectedAlerts, "every expected alert in the outbox")
        XCTAssertEqual(outbox.count, expectedAlerts.count, "and only once")
        XCTAssertEqual(harness.files(in: "\(harness.directory)/var/outbox/tmp"), [])
        XCTAssertEqual(Set(journalCounts.keys), expectedAlerts, "every expected alert in the journal")
        XCTAssertEqual(journalCounts.filter { $0.value != 1 }, [:], "each exactly once")
        XCTAssertEqual(try sql("SELECT COUNT(*) FROM alerts WHERE journal_at IS NULL OR outbox_at IS NULL"), "0")
    }
}
