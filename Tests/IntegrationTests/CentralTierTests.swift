import Foundation
import Glibc
import VigilCore
import VigilTestSupport
import XCTest

/// The trial-wide tier (docs/ARCHITECTURE.md §6) with a real PostgreSQL server (the distribution's
/// `postgres`, started by `PostgresServer`), two real site daemons and a real central one:
/// pooled rules that no site crosses alone, a halt at one site reaching the other within 10 s,
/// kill -9 of a site during replication losing and doubling nothing, and a site cut off from the
/// database (the server stopped, then started again) catching up.
final class CentralTierTests: XCTestCase {
    let trial = "LYSYME-MC-\(UUID().uuidString.prefix(6))"

    func daemon(_ site: String, role: String = "site", server: PostgresServer, centralExtra: String = "", extra: String = "") throws -> DaemonHarness {
        let harness = try DaemonHarness(label: "central-\(site)")
        let configuration = harness.configuration(lactate: (2.0, 4.0), extra: """
            stopping:
              toxicity:
                count_rules:
                  - toxicities: 2
                    among_first: 3
            central:
              url: \(server.url)
              site_id: \(site)
              role: \(role)
              password_file: \(server.passwordFile)
              tls: disable
              poll_seconds: 0.5
            \(centralExtra)
            \(extra)
            """).replacingOccurrences(of: "id: \(harness.trial)", with: "id: \(trial)")
        try configuration.write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        return harness
    }

    static func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self) + "\n"
    }

    /// An infused subject with a grade 3, probably related, expected, non-serious adverse event two
    /// days later: a toxicity (Day 10 window), not an immediate halt.
    static func toxicSubject(_ subject: String, d0: Date) -> String {
        json(["type": "event", "id": "EX-\(subject)", "subject": subject, "time": iso(d0), "kind": "infusion"])
            + json(["type": "adverse_event", "id": "AE-\(subject)", "subject": subject, "onset": iso(d0.addingTimeInterval(2 * 86400)),
                    "term": "Rash maculo-papular", "grade": 3, "serious": [String](), "related": "probable", "expected": true])
    }

    func trialState(_ harness: DaemonHarness) -> (state: String, origin: String?, reason: String?) {
        guard let status = try? harness.statusJSON(), let trial = status["trial"] as? [String: Any] else { return ("?", nil, nil) }
        return (trial["state"] as? String ?? "?", trial["origin"] as? String, trial["reason"] as? String)
    }

    func testPooledCountRuleHaltsEverySiteThatNoSiteCrossesAlone() throws {
        try TestSupport.ensureJournald()
        let server = try PostgresServer(label: "pooled")
        defer { server.cleanUp() }
        let central = try daemon("central", role: "central", server: server)
        let siteA = try daemon("site-a", server: server)
        let siteB = try daemon("site-b", server: server)
        defer { [central, siteA, siteB].forEach { $0.cleanUp() } }
        for harness in [central, siteA, siteB] { try harness.start() }

        let d0 = Date().addingTimeInterval(-5 * 86400)
        try siteA.drop("a.ndjson", Self.toxicSubject("LYS-01-001", d0: d0))
        // Site A alone: one toxicity among one evaluable subject crosses nothing.
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { (try? server.query("SELECT count(*) FROM vigil_records WHERE site_id = 'site-a'")) == ["2"] },
                      "site A's records reach the central database")
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(trialState(siteA).state, "running", "one toxicity at one site crosses no rule")
        XCTAssertEqual(trialState(central).state, "running")

        try siteB.drop("b.ndjson", Self.toxicSubject("LYS-02-001", d0: d0))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { trialState(central).state == "halted" }, "pooled: 2 toxicities among the first 2 of 3")
        XCTAssertTrue(trialState(central).reason?.contains("count-2-of-3") == true, "\(trialState(central))")
        for (name, site) in [("A", siteA), ("B", siteB)] {
            XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { trialState(site).state == "halted" }, "site \(name) follows the central halt")
            XCTAssertEqual(trialState(site).origin, "central", "site \(name) shows where the halt was decided")
            XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { site.files(in: site.outboxNew).count == 1 }, "site \(name) mails its on-call once")
        }
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { central.files(in: central.outboxNew).count == 1 }, "the central alert is mailed once")

        let overview = try central.vigilctl(["trial"])
        XCTAssertEqual(overview.status, 0, overview.stderr)
        XCTAssertTrue(overview.stdout.contains("site-a") && overview.stdout.contains("site-b") && overview.stdout.contains("pooled"), overview.stdout)
        XCTAssertTrue(overview.stdout.contains("HALTED by central (count-2-of-3)"), overview.stdout)
        let json = try central.vigilctl(["trial", "--json"])
        let reply = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        let pooled = try XCTUnwrap((reply["overview"] as? [String: Any])?["pooled"] as? [String: Any])
        XCTAssertEqual(pooled["toxicities"] as? Int, 2)
        XCTAssertEqual(pooled["evaluable"] as? Int, 2)

        // Resuming is central: refused at a site, done centrally, followed everywhere, recorded.
        let refused = try siteA.vigilctl(["resume", "--by", "Dr_Martin", "--reason", "DSMB reviewed"])
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue((refused.stdout + refused.stderr).contains("decided centrally"), refused.stdout + refused.stderr)
        let resumed = try central.vigilctl(["resume", "--by", "Dr_Martin", "--reason", "DSMB reviewed the two rashes"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        for site in [siteA, siteB] {
            XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { trialState(site).state == "running" }, "a central resume reaches every site")
        }
        XCTAssertEqual(try server.query("SELECT kind, by_whom IS NOT NULL FROM vigil_trial_events WHERE kind = 'resume'"), ["resume|t"])
        Thread.sleep(forTimeInterval: 2)
        XCTAssertEqual(trialState(central).state, "running", "the same pooled data does not halt again")
    }

    func testImmediateHaltAtOneSiteReachesTheOtherWithinTenSeconds() throws {
        try TestSupport.ensureJournald()
        let server = try PostgresServer(label: "halt")
        defer { server.cleanUp() }
        let siteA = try daemon("site-a", server: server)
        let siteB = try daemon("site-b", server: server)
        defer { [siteA, siteB].forEach { $0.cleanUp() } }
        try siteA.start()
        try siteB.start()
        try siteA.drop("susar.ndjson", Self.json([
            "type": "adverse_event", "id": "AE-SUSAR-1", "subject": "LYS-01-004", "onset": Self.iso(Date().addingTimeInterval(-86400)),
            "term": "Toxic hepatitis", "grade": 4, "serious": ["hospitalisation"], "related": "probable", "expected": false,
            "aware": Self.iso(Date()),
        ]))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { trialState(siteA).state == "halted" })
        let haltedAtA = Date()
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { trialState(siteB).state == "halted" }, "site B HALTED within 10 s of site A")
        XCTAssertLessThan(Date().timeIntervalSince(haltedAtA), 10)
        XCTAssertEqual(trialState(siteB).origin, "site-a")
        XCTAssertTrue(trialState(siteB).reason?.hasPrefix("halt-susar") == true, "\(trialState(siteB))")
        let status = try siteB.vigilctl(["status"])
        XCTAssertTrue(status.stdout.contains("HALTED [decided at site-a]"), status.stdout)
        XCTAssertEqual(try server.query("SELECT phase, origin, rule FROM vigil_trial_state"), ["halted|site-a|halt-susar"])
    }

    /// Records in the site's store and in the central database, as sorted "id|content_hash" lines.
    func replicated(_ harness: DaemonHarness, site: String, server: PostgresServer) throws -> (local: [String], central: [String]) {
        let local = try TestSupport.run("/usr/bin/sqlite3", [harness.database, "SELECT id || '|' || content_hash FROM records ORDER BY id"])
        let central = try server.query("SELECT record_id || '|' || content_hash FROM vigil_records WHERE site_id = '\(site)' ORDER BY record_id")
        return (local.stdout.split(separator: "\n").map(String.init), central)
    }

    func testKillingASiteDuringReplicationLosesAndDoublesNothing() throws {
        try TestSupport.ensureJournald()
        let server = try PostgresServer(label: "kill")
        defer { server.cleanUp() }
        // Small transactions, so a round's replication takes long enough to be killed in the middle.
        let site = try daemon("site-a", server: server, centralExtra: "  batch_size: 5")
        defer { site.cleanUp() }
        var random = SplitMix64(seed: UInt64(ProcessInfo.processInfo.environment["VIGIL_CENTRAL_SEED"] ?? "") ?? 24)
        let start = Date().addingTimeInterval(-86400)
        try FileManager.default.createDirectory(atPath: site.inbox, withIntermediateDirectories: true)
        func centralCount() -> Int { Int((try? server.query("SELECT count(*) FROM vigil_records"))?.first ?? "0") ?? 0 }
        var killedMidway = 0
        for round in 0..<4 {
            try site.start()
            // 600 records a round; kill -9 once the central copy has some of this round's, not all.
            let before = centralCount()
            for file in (round * 15)..<((round + 1) * 15) {
                var lines = ""
                for n in 0..<40 {
                    let index = file * 40 + n
                    lines += Self.json(["type": "observation", "id": "LAB-\(index)", "subject": "LYS-01-\(String(format: "%03d", 1 + index % 15))",
                                        "time": Self.iso(start.addingTimeInterval(Double(index) * 30)), "code": "heart_rate", "value": 60 + Int(random.next() % 40), "unit": "/min"])
                }
                try site.drop("obs-\(file).ndjson", lines)
            }
            _ = TestSupport.waitUntil(timeout: 20) { centralCount() > before }
            Thread.sleep(forTimeInterval: Double(random.next() % 50) / 1000)
            site.crash()
            let after = centralCount()
            if after > before && after < (round + 1) * 600 { killedMidway += 1 }
        }
        XCTAssertGreaterThan(killedMidway, 0, "at least one kill landed while a round was half replicated")
        try site.start()
        XCTAssertTrue(TestSupport.waitUntil(timeout: 60) {
            site.files(in: site.inbox).filter { !$0.hasPrefix(".") }.isEmpty && (try? replicated(site, site: "site-a", server: server)).map { $0.local == $0.central } == true
        }, "the central copy catches up")
        let (local, central) = try replicated(site, site: "site-a", server: server)
        XCTAssertEqual(local.count, 2400, "nothing lost at the site")
        XCTAssertEqual(central, local, "nothing lost or changed centrally")
        XCTAssertEqual(try server.query("SELECT count(*), count(DISTINCT record_id) FROM vigil_records"), ["2400|2400"], "nothing doubled")
        let backlog = try TestSupport.run("/usr/bin/sqlite3", [site.database, "SELECT count(*) FROM replication_outbox"])
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) {
            (try? TestSupport.run("/usr/bin/sqlite3", [site.database, "SELECT count(*) FROM replication_outbox"]))?.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0"
        }, "the outbox drains: \(backlog.stdout)")
    }

    func testASiteCutOffFromTheDatabaseWorksAloneAndCatchesUp() throws {
        try TestSupport.ensureJournald()
        let server = try PostgresServer(label: "offline")
        defer { server.cleanUp() }
        let site = try daemon("site-a", server: server)
        defer { site.cleanUp() }
        try site.start()
        try site.drop("first.ndjson", Self.json(["type": "observation", "id": "LAB-1", "subject": "LYS-01-001", "time": Self.iso(Date()),
                                                  "code": "lactate", "value": 1.1, "unit": "mmol/L"]))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { (try? server.query("SELECT count(*) FROM vigil_records")) == ["1"] })

        try server.stop(mode: "immediate")  // a crash of the database server
        try site.drop("offline.ndjson", Self.json(["type": "observation", "id": "LAB-2", "subject": "LYS-01-001", "time": Self.iso(Date()),
                                                    "code": "lactate", "value": 4.6, "unit": "mmol/L"]))
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { site.files(in: site.outboxNew).count == 1 }, "the site alerts with the database down")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) {
            ((try? site.statusJSON())?["central"] as? [String: Any])?["reachable"] as? Bool == false
        }, "status says the central tier is unreachable")
        let status = try site.vigilctl(["status"])
        XCTAssertTrue(status.stdout.contains("UNREACHABLE"), status.stdout)

        try server.start()
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) { (try? server.query("SELECT count(*) FROM vigil_records")) == ["2"] }, "the site catches up")
        XCTAssertTrue(TestSupport.waitUntil(timeout: 10) {
            ((try? site.statusJSON())?["central"] as? [String: Any])?["reachable"] as? Bool == true
        })
        XCTAssertEqual(try server.query("SELECT last_seq >= 2, backlog FROM vigil_sites WHERE site_id = 'site-a'"), ["t|0"])
    }
}
