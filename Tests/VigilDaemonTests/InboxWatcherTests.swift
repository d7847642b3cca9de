import Foundation
import Synchronization
import VigilTestSupport
import XCTest
@testable import VigilDaemon

/// The inbox watcher on a real directory with real inotify.
final class InboxWatcherTests: XCTestCase {
    var directory = ""
    var watcher: InboxWatcher!

    override func setUpWithError() throws {
        directory = try TestSupport.scratchDirectory("inbox-watcher")
        watcher = try InboxWatcher(directory: directory, rescanInterval: 3600, tickInterval: 3600)
    }

    override func tearDownWithError() throws {
        watcher.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Renames a.ndjson, b.ndjson and c.ndjson into the inbox as producers do (a dotfile, then a
    /// rename) and waits for their three `.file` events; returns their names in event order.
    func dropThreeFiles() async -> [String] {
        var events = watcher.events.makeAsyncIterator()
        let first = await events.next()
        XCTAssertEqual(first, .rescan(periodic: false))
        for name in ["a.ndjson", "b.ndjson", "c.ndjson"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: "\(directory)/.\(name).tmp", contents: Data("{}\n".utf8)))
            XCTAssertEqual(rename("\(directory)/.\(name).tmp", "\(directory)/\(name)"), 0)
        }
        var files: [String] = []
        while files.count < 3, let event = await events.next() {
            guard case .file(let name) = event, !name.hasPrefix(".") else { continue }
            files.append(name)
        }
        return files
    }

    /// Files renamed into the inbox come out as `.file` events in order, and `takeFile` names the
    /// one queued after the file being taken: what the pipeline reads ahead.
    func testTakeFileNamesTheNextAnnouncedFile() async throws {
        // Every event is in before the first is taken: then the queue behind each one is known.
        let files = await dropThreeFiles()
        XCTAssertEqual(files, ["a.ndjson", "b.ndjson", "c.ndjson"])
        XCTAssertEqual(files.map { watcher.takeFile($0) }, ["b.ndjson", "c.ndjson", nil])
    }

    /// `upcoming(after:)` offers the files announced after the one in hand, in order; a file taken
    /// from it into a batch is not offered again, and nothing is offered once processing must stop.
    func testUpcomingFilesOfferTheQueueInOrder() async throws {
        let files = await dropThreeFiles()
        XCTAssertEqual(files.count, 3)
        let going = Mutex(true)
        let upcoming = watcher.upcoming(after: "a.ndjson", while: { going.withLock { $0 } })
        XCTAssertEqual(upcoming.peek(), "b.ndjson")
        XCTAssertEqual(upcoming.ahead(5), ["b.ndjson", "c.ndjson"], "what to read ahead: the queue after the file in hand")
        XCTAssertEqual(upcoming.ahead(1), ["b.ndjson"])
        upcoming.take("c.ndjson")  // not the next one: ignored
        XCTAssertEqual(upcoming.next(), "b.ndjson")
        going.withLock { $0 = false }
        XCTAssertNil(upcoming.peek(), "nothing more once processing must stop")
        XCTAssertEqual(upcoming.ahead(5), [], "nor read ahead")
        going.withLock { $0 = true }
        XCTAssertEqual(upcoming.next(), "c.ndjson")
        XCTAssertNil(upcoming.next())
    }
}
