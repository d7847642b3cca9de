import Foundation
import Glibc
import Synchronization
import VigilOutbox

/// Watches the inbox with inotify (`IN_CLOSE_WRITE`, `IN_MOVED_TO`) on a thread of its own and turns
/// what it sees into a stream of work: a file name to process, a full rescan (at start, on queue
/// overflow and every rescan interval, as a safety net), or a tick to retry pending deliveries.
public final class InboxWatcher: Sendable {
    /// One unit of work for the pipeline.
    public enum Event: Sendable, Equatable {
        case file(String)
        /// A new entry (IN_CREATE): symlinks, FIFOs and directories get no close-write event, so
        /// they are checked on creation; regular files wait for IN_CLOSE_WRITE or IN_MOVED_TO.
        case created(String)
        /// A name that is not UTF-8: it cannot be named in text, so it is refused by its bytes.
        case unreadableName([UInt8])
        /// List the inbox. A periodic (safety-net) rescan leaves alone files modified in the last
        /// `InboxWatcher.quietSeconds`: a producer writing in place is still at it, and its
        /// close-write event will bring the file whole.
        case rescan(periodic: Bool)
        case tick
        /// Once a second: files waiting to settle are looked at again.
        case heartbeat
    }

    public let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    /// Names of the `.file` events yielded and not yet taken, in order, so that the pipeline can
    /// read the next file ahead while it applies the current one (`takeFile`).
    private let announcedFiles = Mutex<[String]>([])
    private let inotifyFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let rescanInterval: TimeInterval
    private let tickInterval: TimeInterval
    /// How long a file must have been left unmodified before a periodic rescan takes it.
    public static let quietSeconds: TimeInterval = 2

    /// Starts watching `directory`; fails when inotify cannot watch it.
    public init(directory: String, rescanInterval: TimeInterval, tickInterval: TimeInterval = 5) throws {
        (events, continuation) = AsyncStream.makeStream(of: Event.self, bufferingPolicy: .unbounded)
        self.rescanInterval = rescanInterval
        self.tickInterval = tickInterval
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw DurableFile.Failure(operation: "inotify_init1", path: directory, code: errno) }
        let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_ONLYDIR) | UInt32(bitPattern: Int32(IN_EXCL_UNLINK))
        guard inotify_add_watch(fd, directory, mask) >= 0 else {
            let code = errno
            close(fd)
            throw DurableFile.Failure(operation: "inotify_add_watch", path: directory, code: code)
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            let code = errno
            close(fd)
            throw DurableFile.Failure(operation: "pipe2", path: directory, code: code)
        }
        for end in pipeFDs { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        inotifyFD = fd
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
        // The start-up scan comes first, so files dropped while Vigil was down are processed.
        continuation.yield(.rescan(periodic: false))
        let thread = Thread { [self] in self.loop() }
        thread.name = "vigil-inbox"
        thread.start()
    }

    /// Marks the `.file` event of `name` as taken; returns the name of the file event queued after
    /// it, if any (the next file to read ahead).
    @discardableResult
    public func takeFile(_ name: String) -> String? {
        announcedFiles.withLock { names in
            if let index = names.firstIndex(of: name) { names.removeSubrange(...index) }
            return names.first
        }
    }

    /// The files announced after `name` (whose event is being handled), for read-ahead and group
    /// commit. A file taken into a batch this way still has its `.file` event to come, which then
    /// finds it gone and is ignored, as for any file processed by an earlier event.
    public func upcoming(after name: String, while going: @escaping () -> Bool) -> UpcomingFiles {
        takeFile(name)
        return UpcomingFiles(
            peek: { [self] in going() ? announcedFiles.withLock { $0.first } : nil },
            take: { [self] taken in announcedFiles.withLock { names in if names.first == taken { names.removeFirst() } } },
            ahead: { [self] count in going() ? announcedFiles.withLock { Array($0.prefix(count)) } : [] })
    }

    /// Stops the watcher thread and ends the event stream.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }

    private func loop() {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var lastRescan = Date()
        var lastTick = Date()
        var lastHeartbeat = Date()
        defer {
            continuation.finish()
            close(inotifyFD)
            close(wakeRead)
            close(wakeWrite)
        }
        while true {
            var fds = [pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, 2, 1000)
            if ready < 0, errno != EINTR { return }
            if fds[1].revents != 0 { return }
            if fds[0].revents & Int16(POLLIN) != 0 {
                let count = buffer.withUnsafeMutableBytes { read(inotifyFD, $0.baseAddress, $0.count) }
                if count > 0 { dispatch(buffer, count: count) }
            }
            let now = Date()
            if now.timeIntervalSince(lastRescan) >= rescanInterval {
                lastRescan = now
                continuation.yield(.rescan(periodic: true))
            }
            if now.timeIntervalSince(lastTick) >= tickInterval {
                lastTick = now
                continuation.yield(.tick)
            }
            if now.timeIntervalSince(lastHeartbeat) >= 1 {
                lastHeartbeat = now
                continuation.yield(.heartbeat)
            }
        }
    }

    private func dispatch(_ buffer: [UInt8], count: Int) {
        let headerSize = MemoryLayout<inotify_event>.size
        var offset = 0
        buffer.withUnsafeBytes { raw in
            while offset + headerSize <= count {
                let mask = raw.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self)
                let length = Int(raw.loadUnaligned(fromByteOffset: offset + 12, as: UInt32.self))
                let nameBytes = raw[(offset + headerSize)..<min(offset + headerSize + length, count)]
                offset += headerSize + length
                if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                    // Events were lost: every file counts, recently written or not.
                    continuation.yield(.rescan(periodic: false))
                    continue
                }
                let bytes = Array(nameBytes.prefix { $0 != 0 })
                guard !bytes.isEmpty else { continue }
                if let name = String(validating: bytes, as: UTF8.self) {
                    if mask & UInt32(IN_CREATE) != 0 {
                        continuation.yield(.created(name))
                    } else {
                        // A producer's temporary file is never processed: it is not a file to read ahead.
                        if !FileProcessor.isTemporaryName(name) { announcedFiles.withLock { $0.append(name) } }
                        continuation.yield(.file(name))
                    }
                } else {
                    continuation.yield(.unreadableName(bytes))
                }
            }
        }
    }

    /// Raw names in the inbox that are not valid UTF-8 (Foundation cannot list them faithfully).
    public static func unreadableNames(directory: String) -> [[UInt8]] {
        guard let dir = opendir(directory) else { return [] }
        defer { closedir(dir) }
        var out: [[UInt8]] = []
        while let entry = readdir(dir) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
            if !bytes.isEmpty, String(validating: bytes, as: UTF8.self) == nil { out.append(bytes) }
        }
        return out
    }

    /// Names in the inbox worth processing, oldest first, for a rescan; with `modifiedBefore`, only
    /// those last modified before that time.
    public static func scan(directory: String, modifiedBefore: Date? = nil) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        let dated = names.filter { !FileProcessor.isTemporaryName($0) }.map { name -> (String, Date) in
            let date = (try? FileManager.default.attributesOfItem(atPath: "\(directory)/\(name)")[.modificationDate] as? Date) ?? .distantPast
            return (name, date)
        }
        return dated.filter { modifiedBefore == nil || $0.1 < modifiedBefore! }
            .sorted { $0.1 == $1.1 ? $0.0 < $1.0 : $0.1 < $1.1 }.map(\.0)
    }
}
