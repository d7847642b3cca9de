import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// The daemon as it runs on a site: as its own unprivileged user created from the shipped sysusers.d
/// file, in the directories the shipped tmpfiles.d file makes; and never carrying a name that a
/// producer put where a trial subject id belongs.
final class HardeningTests: XCTestCase {
    /// `systemd-sysusers` and `systemd-tmpfiles` apply the shipped files to a scratch root; vigild then
    /// runs there as the `vigil` user (not root), processes a file and mails its alert.
    func testRunsAsTheSysusersUserInTheTmpfilesDirectories() throws {
        guard getuid() == 0 else { throw TestSupport.Failure("this test needs root to switch to the vigil user (CI runs as root)") }
        try TestSupport.ensureJournald()
        let repository = TestSupport.repositoryRoot()
        let harness = try DaemonHarness(label: "sysusers")
        defer { harness.cleanUp() }
        let root = "\(harness.directory)/root"
        try FileManager.default.createDirectory(atPath: "\(root)/etc", withIntermediateDirectories: true)
        let sysusers = try TestSupport.run("/usr/bin/systemd-sysusers", ["--root=\(root)", "\(repository)/systemd/sysusers.d/vigil.conf"])
        XCTAssertEqual(sysusers.status, 0, sysusers.stderr)
        let passwd = try String(contentsOfFile: "\(root)/etc/passwd", encoding: .utf8)
        let vigil = try XCTUnwrap(passwd.split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false) }.first { $0.first == "vigil" })
        let uid = try XCTUnwrap(UInt32(vigil[2]))
        let gid = try XCTUnwrap(UInt32(vigil[3]))
        XCTAssertNotEqual(uid, 0)
        XCTAssertLessThan(uid, 1000, "a system user")
        XCTAssertEqual(vigil[5], "/var/lib/vigil")
        XCTAssertTrue(vigil[6].hasSuffix("nologin"), "no login shell: \(vigil[6])")
        let group = try String(contentsOfFile: "\(root)/etc/group", encoding: .utf8)
        XCTAssertTrue(group.split(separator: "\n").contains { $0.hasPrefix("vigil-oncall:") && $0.hasSuffix(":vigil") }, group)

        let tmpfiles = try TestSupport.run("/usr/bin/systemd-tmpfiles", ["--create", "--root=\(root)", "\(repository)/systemd/tmpfiles.d/vigil.conf"])
        XCTAssertEqual(tmpfiles.status, 0, tmpfiles.stderr)
        for directory in ["var/lib/vigil/inbox", "var/lib/vigil/state", "var/lib/vigil/outbox/new", "run/vigil"] {
            var info = stat()
            XCTAssertEqual(stat("\(root)/\(directory)", &info), 0, directory)
            XCTAssertEqual(info.st_uid, uid, "\(directory) owned by vigil")
        }
        let base = "\(root)/var/lib/vigil"
        try harness.configuration(lactate: (2.0, 4.0))
            .replacingOccurrences(of: "\(harness.directory)/var/run/control.sock", with: "\(root)/run/vigil/control.sock")
            .replacingOccurrences(of: "\(harness.directory)/var/", with: "\(base)/")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        chmod(harness.notify.path, 0o777)  // the service manager's socket, reachable by the service user
        try harness.start(wrapper: ["/usr/bin/setpriv", "--reuid=\(uid)", "--regid=\(gid)", "--clear-groups", "--inh-caps=-all"])
        let pid = try XCTUnwrap(harness.process?.processIdentifier)
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let uidLine = try XCTUnwrap(status.split(separator: "\n").first { $0.hasPrefix("Uid:") })
        XCTAssertEqual(uidLine.split(separator: "\t").dropFirst().map(String.init), Array(repeating: "\(uid)", count: 4), "runs as vigil, real and effective")

        let name = "lactate.ndjson"
        try FaultToleranceTests.lactate(id: "LAB-V-1", subject: "LYS-13-001", value: 4.4).write(toFile: "\(base)/inbox/.\(name).tmp", atomically: false, encoding: .utf8)
        XCTAssertEqual(rename("\(base)/inbox/.\(name).tmp", "\(base)/inbox/\(name)"), 0)
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) { harness.files(in: "\(base)/outbox/new").count == 1 }, harness.stderr)
        var database = stat()
        XCTAssertEqual(stat("\(base)/state/vigil.sqlite", &database), 0)
        XCTAssertEqual(database.st_uid, uid, "the store belongs to vigil")
        let reply = try TestSupport.run("\(harness.products)/vigilctl", ["status", "--json", "--socket", "\(root)/run/vigil/control.sock"])
        XCTAssertEqual(reply.status, 0, reply.stderr)
        XCTAssertTrue(reply.stdout.contains("\"applied\":1"), reply.stdout)
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// `systemd-analyze security` rates the shipped unit's exposure at most 2.0, with the unit run
    /// as its own user, not root.
    func testServiceUnitExposureIsAtMostTwo() throws {
        let unit = "\(TestSupport.repositoryRoot())/systemd/vigil.service"
        let result = try TestSupport.run("/usr/bin/systemd-analyze", ["security", "--offline=true", "--no-pager", unit])
        let line = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }, result.stdout + result.stderr)
        let figure = try XCTUnwrap(line.split(separator: ":").last?.split(separator: " ").first.flatMap { Double($0) }, String(line))
        XCTAssertLessThanOrEqual(figure, 2.0, String(line))
        let text = try String(contentsOfFile: unit, encoding: .utf8)
        XCTAssertTrue(text.contains("User=vigil"), "runs as the sysusers user")
    }

    /// A producer puts a patient's name where the subject id belongs. The record is rejected, the good
    /// record beside it is applied, and the name appears in no journal field, mail, log line, control
    /// reply or error report.
    func testNameInTheSubjectFieldIsRejectedAndLeaksNowhere() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "privacy")
        defer { harness.cleanUp() }
        try harness.start()
        let name = "DUPONT Jeanne"
        try harness.drop("named.ndjson",
                         FaultToleranceTests.lactate(id: "LAB-P-1", subject: name, value: 5.1)
                         + FaultToleranceTests.lactate(id: "LAB-P-2", subject: "LYS-14-001", value: 4.6))
        try harness.drop("named-lb.csv", """
            STUDYID,DOMAIN,USUBJID,SUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBDTC
            LYSYME,LB,LYSYME-DUPONT-JEANNE,\(name),1,LACTICAC,4.8,mmol/L,2026-11-23T07:30

            """)
        // Two mails: the lactate alert and one data-quality warning (the second data-quality warning
        // falls within the repeat interval: journal only).
        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) {
            harness.files(in: harness.inbox).isEmpty && harness.files(in: harness.outboxNew).count == 2
                && ((try? harness.journalEntries()) ?? []).count == 3
        }, "outbox \(harness.files(in: harness.outboxNew)); \(harness.stderr.suffix(1500))")
        let status = try harness.statusJSON()
        XCTAssertEqual((status["records"] as? [String: Any])?["applied"] as? Int, 1)
        XCTAssertEqual((status["records"] as? [String: Any])?["rejected"] as? Int, 2)

        var places: [String: String] = [:]
        places["journal"] = try TestSupport.run("/usr/bin/journalctl", ["-o", "json", "--no-pager", "--all", "VIGIL_TRIAL=\(harness.trial)"]).stdout
        XCTAssertTrue(places["journal"]!.contains("data-quality"), "the rejections were journalled")
        for file in harness.files(in: harness.outboxNew) {
            places["mail \(file)"] = try String(contentsOfFile: "\(harness.outboxNew)/\(file)", encoding: .utf8)
        }
        for file in harness.files(in: harness.rejected) where file.hasSuffix(".errors.json") {
            places["report \(file)"] = try String(contentsOfFile: "\(harness.rejected)/\(file)", encoding: .utf8)
        }
        places["stderr"] = harness.stderr
        places["alerts"] = try harness.vigilctl(["alerts", "--json"]).stdout
        places["status"] = try harness.vigilctl(["status", "--json"]).stdout
        XCTAssertGreaterThanOrEqual(places.count, 8)
        for (place, text) in places {
            for fragment in ["DUPONT", "Jeanne", "JEANNE"] {
                XCTAssertFalse(text.contains(fragment), "\(fragment) found in \(place)")
            }
        }
        XCTAssertTrue(places.filter { $0.key.hasPrefix("report") }.values.contains { $0.contains("\"value_shape\" : \"text of") },
                      "the report describes the value by its shape")
        XCTAssertEqual(harness.terminate().status, 0)
    }
}
