import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import VigilCentral
import VigilConfig
import VigilControl
import VigilCore
import VigilOutbox
import VigilStore
import VigilSystemd

/// Sends WATCHDOG=1 at half the manager's timeout, but only while the pipeline is making progress:
/// a pipeline stuck on one file for longer than the timeout lets systemd restart the service.
struct WatchdogService: Service {
    let state: DaemonState
    let notifier: ServiceNotifier
    let clock: @Sendable () -> Date

    func run() async throws {
        guard let interval = notifier.watchdogInterval() else {
            try? await gracefulShutdown()
            return
        }
        let limit = Double(interval.components.seconds) * 2 + Double(interval.components.attoseconds) / 1e18 * 2
        while !Task.isShuttingDownGracefully {
            if (state.busyFor(now: clock()) ?? 0) < limit { notifier.watchdog() }
            try? await Task.sleep(for: interval)
        }
    }
}
