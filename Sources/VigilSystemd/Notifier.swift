import CSystemd
import Foundation

/// Talks to the service manager through `sd_notify`: readiness, status text, watchdog keep-alives,
/// reload and stop notices. Every call is a no-op when `NOTIFY_SOCKET` is unset (not under systemd).
public struct ServiceNotifier: Sendable {
    public init() {}

    /// Sends raw `KEY=value` lines; returns true when the message was delivered.
    @discardableResult
    public func notify(_ lines: [String]) -> Bool {
        sd_notify(0, lines.joined(separator: "\n")) > 0
    }

    @discardableResult
    public func ready(status: String) -> Bool { notify(["READY=1", "STATUS=\(Self.clean(status))"]) }

    @discardableResult
    public func status(_ text: String) -> Bool { notify(["STATUS=\(Self.clean(text))"]) }

    @discardableResult
    public func watchdog() -> Bool { notify(["WATCHDOG=1"]) }

    /// RELOADING=1 with the CLOCK_MONOTONIC time, as `Type=notify-reload` expects.
    @discardableResult
    public func reloading(status: String) -> Bool {
        notify(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())", "STATUS=\(Self.clean(status))"])
    }

    @discardableResult
    public func stopping(status: String) -> Bool { notify(["STOPPING=1", "STATUS=\(Self.clean(status))"]) }

    /// Half the watchdog timeout the manager asked for, or nil when the watchdog is off.
    public func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec / 2))
    }

    /// File descriptors passed by socket activation (`vigil.socket`), starting at 3.
    public func listenFileDescriptors() -> [Int32] {
        let count = sd_listen_fds(0)
        guard count > 0 else { return [] }
        return (0..<count).map { SD_LISTEN_FDS_START + $0 }
    }

    static func clean(_ text: String) -> String { text.replacingOccurrences(of: "\n", with: " ") }

    public static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
    }
}
