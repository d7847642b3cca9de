import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// What producers (or accidents) put in an inbox besides good files: a symlink, a FIFO, a directory,
/// a file over the size limit, a name that is not UTF-8, a name with a newline. Each is refused or
/// left alone with a clear report, and a good file dropped among them is processed as usual.
final class HostileInboxTests: XCTestCase {
    func testHostileEntriesAreRefusedAndNothingElseIsAffected() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "hostile")
        defer { harness.cleanUp() }
        try harness.start()
        let inbox = harness.inbox
        let good = #"{"type":"observation","id":"LAB-H-1","subject":"LYS-06-001","time":"2026-11-23T06:40:00+01:00","code":"lactate","value":1.0,"unit":"mmol/L"}"# + "\n"

        XCTAssertEqual(symlink("/etc/passwd", "\(inbox)/link.ndjson"), 0)
        XCTAssertEqual(mkfifo("\(inbox)/pipe.ndjson", 0o644), 0)
        try FileManager.default.createDirectory(atPath: "\(inbox)/folder", withIntermediateDirectories: false)
        try Data(repeating: 0x20, count: 8_388_609).write(to: URL(fileURLWithPath: "\(inbox)/huge.ndjson"))
        let latin1: [UInt8] = Array("\(inbox)/r".utf8) + [0xE9] + Array("sultat.ndjson".utf8) + [0]
        let fd = latin1.withUnsafeBufferPointer { open(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), O_CREAT | O_WRONLY, 0o644) }
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = good.withCString { write(fd, $0, strlen($0)) }
        close(fd)
        try harness.drop("two\nlines.ndjson", good.replacingOccurrences(of: "LAB-H-1", with: "LAB-H-2"))
        try harness.drop("good.ndjson", good)

        XCTAssertTrue(TestSupport.waitUntil(timeout: 15) {
            let rejected = harness.files(in: harness.rejected)
            return ["link.ndjson", "pipe.ndjson", "huge.ndjson"].allSatisfy(rejected.contains) && rejected.contains { $0.hasPrefix("unreadable-name-") && !$0.hasSuffix(".json") }
                && harness.archivedFiles().contains { $0.hasSuffix("/good.ndjson") }
        }, "rejected: \(harness.files(in: harness.rejected)); archived: \(harness.archivedFiles()); stderr: \(harness.stderr.suffix(1500))")
        XCTAssertTrue(harness.archivedFiles().contains { $0.hasSuffix("/two\nlines.ndjson") }, "a newline in a name is legal: processed")
        XCTAssertEqual(harness.files(in: inbox), ["folder"], "only the directory stays, reported once")
        let report = { (name: String) in (try? String(contentsOfFile: "\(harness.rejected)/\(name).errors.json", encoding: .utf8)) ?? "" }
        XCTAssertTrue(report("link.ndjson").contains("a symbolic link is refused"))
        XCTAssertTrue(report("pipe.ndjson").contains("a FIFO is refused"))
        XCTAssertTrue(report("huge.ndjson").contains("exceeds the 8388608-byte limit"))
        let unreadable = try XCTUnwrap(harness.files(in: harness.rejected).first { $0.hasPrefix("unreadable-name-") && $0.hasSuffix(".errors.json") })
        XCTAssertTrue(try String(contentsOfFile: "\(harness.rejected)/\(unreadable)", encoding: .utf8).contains("file name is not valid UTF-8 (bytes 72e9"))
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: "\(harness.rejected)/link.ndjson"), "/etc/passwd", "moved, never followed")
        usleep(1_500_000)
        XCTAssertEqual(harness.stderr.components(separatedBy: "is a directory; left alone").count - 1, 1, "reported once")
        XCTAssertTrue(harness.stderr.contains("two<LF>lines.ndjson"), "control characters made visible in the log (ProducerText)")
        XCTAssertEqual(try harness.statusJSON()["state"] as? String, "ok")
        XCTAssertEqual(harness.terminate().status, 0)
    }
}
