import Foundation
import Glibc
import XCTest

@testable import VigilDaemon

/// The idle trim: which mappings it may unmap, when it runs, and that the process it ran in goes on
/// working (it runs here, in the test process itself).
final class WorkingSetTests: XCTestCase {
    /// Only private, executable, file-backed mappings with resident pages and no anonymous
    /// (copied-on-write) page qualify; read-only data (RELRO), writable data, the heap, [vdso] and a
    /// text mapping a debugger has written a breakpoint into are left alone.
    func testOnlyCleanExecutableFileMappingsQualify() {
        let smaps = """
            55d6d55ca000-55d6d5f7d000 r-xp 00000000 fe:00 5327270                    /opt/vigil/bin/vigild
            Size:               9932 kB
            Rss:                7204 kB
            Anonymous:             0 kB
            VmFlags: rd ex mr mw me
            55d6d5f7e000-55d6d5fbf000 r--p 009b3000 fe:00 5327270                    /opt/vigil/bin/vigild
            Rss:                 260 kB
            Anonymous:           260 kB
            55d6d5fbf000-55d6d606f000 rw-p 009f4000 fe:00 5327270                    /opt/vigil/bin/vigild
            Rss:                 576 kB
            Anonymous:           300 kB
            55d6d7000000-55d6d8000000 rw-p 00000000 00:00 0                          [heap]
            Rss:                1200 kB
            Anonymous:          1200 kB
            7f361c000000-7f361c5d3000 r-xp 00000000 fe:00 2268                       /opt/swift/usr/lib/swift/linux/libswiftCore.so
            Rss:                4928 kB
            Anonymous:             0 kB
            7f361d000000-7f361d100000 r-xp 00000000 fe:00 2269                       /usr/lib/x86_64-linux-gnu/libdebugged.so
            Rss:                 100 kB
            Anonymous:             4 kB
            7f361e000000-7f361e100000 r-xp 00000000 fe:00 2270                       /usr/lib/x86_64-linux-gnu/libunused.so
            Rss:                   0 kB
            Anonymous:             0 kB
            7ffeaa873000-7ffeaa875000 r-xp 00000000 00:00 0                          [vdso]
            Rss:                   8 kB
            Anonymous:             0 kB
            """
        XCTAssertEqual(WorkingSet.codeMappings(smaps: smaps), [
            .init(start: 0x55d6_d55c_a000, end: 0x55d6_d5f7_d000, residentKib: 7204),
            .init(start: 0x7f36_1c00_0000, end: 0x7f36_1c5d_3000, residentKib: 4928),
        ])
    }

    /// Trimming this very process unmaps its code, and the code, its data and its heap keep working.
    func testTrimInThisProcessUnmapsCodeAndKeepsWorking() throws {
        let sample = ["subject": "LYS-01-001", "code": "lactate"]
        let encoded = try JSONEncoder().encode(sample)
        let mappings = WorkingSet.codeMappings(smaps: try XCTUnwrap(WorkingSet.readProcFile("/proc/self/smaps")))
        XCTAssertGreaterThan(mappings.count, 3, "the test binary, libswiftCore, Foundation, libc at least")
        let trim = WorkingSet.trim()
        XCTAssertGreaterThan(trim.mappings, 3)
        XCTAssertGreaterThan(trim.residentKib, 1024)
        let after = WorkingSet.codeMappings(smaps: try XCTUnwrap(WorkingSet.readProcFile("/proc/self/smaps")))
        let residentBefore = mappings.reduce(0) { $0 + $1.residentKib }
        let residentAfter = after.reduce(0) { $0 + $1.residentKib }
        XCTAssertLessThan(residentAfter, residentBefore / 2, "resident code \(residentBefore) kB before, \(residentAfter) kB after")
        XCTAssertEqual(try JSONDecoder().decode([String: String].self, from: encoded), sample)
        XCTAssertEqual(String(format: "%.2f", 20 / 9.008), "2.22")
    }

    /// /proc files report a size of 0; the whole of one is read, not the first buffer.
    func testProcFilesAreReadWhole() throws {
        let smaps = try XCTUnwrap(WorkingSet.readProcFile("/proc/self/smaps"))
        XCTAssertGreaterThan(smaps.utf8.count, 65536, "smaps of a Swift test process is well over one buffer")
        XCTAssertTrue(smaps.contains("[stack]"), "the last mappings are there too")
    }

    /// The first tick trims unless a file came first; work puts the trim off to the first tick
    /// after a whole tick interval without a file, and a quiet spell trims once.
    func testTrimScheduleIsOncePerQuietSpell() {
        var schedule = IdleTrimSchedule()
        XCTAssertTrue(schedule.tick(), "start-up is followed by a trim")
        XCTAssertFalse(schedule.tick(), "once per quiet spell")
        schedule.worked()
        XCTAssertFalse(schedule.tick(), "a file since the last tick")
        XCTAssertTrue(schedule.tick(), "a whole interval without a file")
        XCTAssertFalse(schedule.tick())
        schedule.worked()
        schedule.worked()
        XCTAssertFalse(schedule.tick())
        schedule.worked()
        XCTAssertFalse(schedule.tick(), "still busy")
        XCTAssertTrue(schedule.tick())
    }
}
