import Foundation
import Glibc

/// Files waiting for their size and modification time to stop changing (`limits.settle_seconds`).
struct SettlingFiles {
    private var waiting: [String: (stamp: FileStamp, since: Date)] = [:]

    private static func stamp(_ name: String, inbox: String) -> FileStamp? {
        var info = stat()
        guard lstat("\(inbox)/\(name)", &info) == 0 else { return nil }
        return FileStamp(info)
    }

    /// Starts (or restarts) the wait for `name`.
    mutating func watch(_ name: String, inbox: String) {
        guard let stamp = Self.stamp(name, inbox: inbox) else { return }
        if let current = waiting[name], current.stamp == stamp { return }
        waiting[name] = (stamp, Date())
    }

    /// Names unchanged for `quiet` seconds, removed from the wait; changed ones start again, vanished ones are dropped.
    mutating func settled(inbox: String, quiet: TimeInterval, now: Date) -> [String] {
        var ready: [String] = []
        for (name, entry) in waiting {
            guard let stamp = Self.stamp(name, inbox: inbox) else {
                waiting[name] = nil
                continue
            }
            if stamp != entry.stamp {
                waiting[name] = (stamp, now)
            } else if now.timeIntervalSince(entry.since) >= quiet {
                waiting[name] = nil
                ready.append(name)
            }
        }
        return ready.sorted()
    }
}
