import Foundation
import Synchronization
import VigilTestSupport
import XCTest
@testable import VigilDaemon

/// The read-ahead window on real files: how far it reads, in what order, and what it drops.
final class ReadAheadTests: XCTestCase {
    var directory = ""

    override func setUpWithError() throws {
        directory = try TestSupport.scratchDirectory("read-ahead")
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func write(_ name: String, bytes: Int) {
        XCTAssertTrue(FileManager.default.createFile(atPath: "\(directory)/\(name)", contents: Data(String(repeating: String(name.prefix(1)), count: bytes).utf8)))
    }

    /// The files a read-ahead read, in order.
    final class ReadLog: Sendable {
        let names = Mutex<[String]>([])
        func withLock<T>(_ body: (inout [String]) -> T) -> T { names.withLock { body(&$0) } }
    }

    /// A read-ahead that records which files it read, in order, and returns their content.
    func reader(window: ReadAhead<String>.Window, read: ReadLog, gate: DispatchSemaphore? = nil) -> ReadAhead<String> {
        let directory = directory
        return ReadAhead(window: window) { name in
            if name == "a" { gate?.wait() }
            read.withLock { $0.append(name) }
            return try? String(contentsOfFile: "\(directory)/\(name)", encoding: .utf8)
        }
    }

    /// It reads the files due next in order, as many as the window's file count allows, and more as
    /// files are taken; a file taken is handed over once and no longer held.
    func testReadsAheadInOrderUpToTheWindowsFileCount() {
        for name in ["a", "b", "c", "d", "e"] { write(name, bytes: 3) }
        let read = ReadLog()
        let ahead = reader(window: ReadAhead<String>.Window(files: 3, bytes: 1 << 20), read: read)
        ahead.request(["a", "b", "c", "d", "e"], in: directory)
        XCTAssertEqual(ahead.outstanding, ["a", "b", "c"])
        XCTAssertEqual(ahead.take("a"), "aaa", "waited for, then handed over")
        XCTAssertNil(ahead.take("a"), "once")
        ahead.request(["b", "c", "d", "e"], in: directory)
        XCTAssertEqual(ahead.outstanding, ["b", "c", "d"])
        XCTAssertNil(ahead.take("e"), "not requested: read by the caller")
        ahead.drain()
        XCTAssertEqual(read.withLock { $0 }, ["a", "b", "c", "d"])
    }

    /// No further file is requested once those outstanding reach the byte budget, but the first
    /// file always is, however large.
    func testStopsAtTheByteBudgetButAlwaysReadsTheNextFile() {
        write("big", bytes: 5_000)
        write("b", bytes: 600)
        write("c", bytes: 600)
        write("d", bytes: 600)
        let read = ReadLog()
        let ahead = reader(window: ReadAhead<String>.Window(files: 64, bytes: 1_000), read: read)
        ahead.request(["big", "b"], in: directory)
        XCTAssertEqual(ahead.outstanding, ["big"], "over the budget alone: nothing after it")
        XCTAssertEqual(ahead.take("big")?.count, 5_000)
        ahead.request(["b", "c", "d"], in: directory)
        XCTAssertEqual(ahead.outstanding, ["b", "c"], "600 is under 1,000, 1,200 is not")
    }

    /// A file no longer due (taken elsewhere, renamed away, the batch changed) is dropped: a read
    /// not yet started never runs, and a file requested again is read again, not handed the
    /// earlier read.
    func testDropsFilesNoLongerDue() {
        for name in ["a", "b", "c"] { write(name, bytes: 3) }
        let read = ReadLog()
        let gate = DispatchSemaphore(value: 0)
        let ahead = reader(window: ReadAhead<String>.Window(files: 8, bytes: 1 << 20), read: read, gate: gate)
        ahead.request(["a", "b", "c"], in: directory)  // "a" holds the read-ahead thread
        ahead.request(["a", "c"], in: directory)
        XCTAssertEqual(ahead.outstanding, ["a", "c"])
        gate.signal()
        XCTAssertEqual(ahead.take("a"), "aaa")
        XCTAssertEqual(ahead.take("c"), "ccc")
        ahead.drain()
        XCTAssertEqual(read.withLock { $0 }, ["a", "c"], "the dropped b was never read")
        write("c", bytes: 4)
        ahead.request(["c"], in: directory)
        XCTAssertEqual(ahead.take("c"), "cccc", "read again after it was taken")
        XCTAssertNil(ahead.take("b"))
    }
}
