import Foundation
import Glibc
import Synchronization

/// The inbox files a backlog is about to need, read and parsed in order on one background thread,
/// a bounded window of them ahead of the thread that applies them. A window of several files keeps
/// reading going while a transaction commits and its alerts are delivered, so applying the next
/// transaction does not wait for reading.
///
/// Nothing here writes or moves a file. What is read ahead is only a candidate: `FileProcessor`
/// uses it only if the file still has the inode, size and modification time the read saw, under
/// the same configuration.
final class ReadAhead<Prepared: Sendable>: Sendable {
    /// How far ahead reading may go: at most `files` files, and no further file once those already
    /// requested and not yet taken reach `bytes` (the first is always allowed, however large), so a
    /// backlog of large files holds one or two in memory and one of small files a few dozen.
    struct Window: Sendable {
        var files: Int
        var bytes: Int
    }

    /// One requested file: its read (a work item on `queue`), the size `lstat` gave when it was
    /// requested, and the result once the read has run (nil if it could not be read).
    private struct Entry: @unchecked Sendable {
        let serial: Int
        let item: DispatchWorkItem
        let bytes: Int
        var result: Prepared?
    }

    private struct State {
        var entries: [String: Entry] = [:]
        var nextSerial = 0
        var bytes: Int { entries.values.reduce(0) { $0 + $1.bytes } }
    }

    let window: Window
    private let queue = DispatchQueue(label: "vigil.read-ahead")
    private let state = Mutex(State())
    private let prepare: @Sendable (String) -> Prepared?

    /// `prepare` reads and parses one file by name; it runs on the read-ahead thread.
    init(window: Window, prepare: @escaping @Sendable (String) -> Prepared?) {
        self.window = window
        self.prepare = prepare
    }

    /// Makes the reads ahead match `names`, the files due next in order: a file already requested
    /// keeps its read, one no longer among them is dropped (its read cancelled if it has not
    /// started), and the next ones are requested while the window has room. `directory` is where
    /// they are, for their sizes.
    func request(_ names: [String], in directory: String) {
        let wanted = Set(names)
        state.withLock { state in
            for (name, entry) in state.entries where !wanted.contains(name) {
                entry.item.cancel()
                state.entries[name] = nil
            }
            var bytes = state.bytes
            for name in names where state.entries[name] == nil {
                guard state.entries.count < window.files, state.entries.isEmpty || bytes < window.bytes else { break }
                var info = stat()
                guard lstat("\(directory)/\(name)", &info) == 0 else { continue }
                let serial = state.nextSerial
                state.nextSerial += 1
                let item = DispatchWorkItem { [self] in
                    let result = prepare(name)
                    self.state.withLock { state in
                        // Dropped or requested again meanwhile: this read is no longer wanted.
                        guard state.entries[name]?.serial == serial else { return }
                        state.entries[name]?.result = result
                    }
                }
                state.entries[name] = Entry(serial: serial, item: item, bytes: Int(info.st_size))
                bytes += Int(info.st_size)
                queue.async(execute: item)
            }
        }
    }

    /// The read of `name`, waited for if it is still running or queued; nil if it was not requested
    /// or could not be read. The file is no longer read ahead afterwards.
    func take(_ name: String) -> Prepared? {
        guard let pending = state.withLock({ $0.entries[name] }) else { return nil }
        pending.item.wait()  // at once if the read has run
        guard let entry = state.withLock({ state -> Entry? in
            guard state.entries[name]?.serial == pending.serial else { return nil }
            return state.entries.removeValue(forKey: name)
        }) else { return nil }
        return entry.result
    }

    /// Files requested and not yet taken or dropped.
    var outstanding: [String] {
        state.withLock { $0.entries.keys.sorted() }
    }

    /// Waits for every read requested so far (for tests).
    func drain() {
        queue.sync {}
    }
}
