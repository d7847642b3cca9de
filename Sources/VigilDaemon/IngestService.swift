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

/// Feeds inbox events to the file processor one at a time; on graceful shutdown it finishes the
/// file in hand and stops taking new ones.
struct IngestService: Service {
    let watcher: InboxWatcher
    let processor: FileProcessor
    let emitter: AlertEmitter
    let state: DaemonState
    let notifier: ServiceNotifier
    let logger: Logger

    func run() async throws {
        var settling = SettlingFiles()
        var trimSchedule = IdleTrimSchedule()
        let going = { !Task.isShuttingDownGracefully }
        /// Processes a regular file now, or once it has settled when `limits.settle_seconds` is set;
        /// the files due after it (`upcoming`) are read ahead and, when ready, committed with it.
        func take(_ name: String, upcoming: UpcomingFiles) {
            trimSchedule.worked()
            let settle = state.configuration.limits.settleSeconds
            if settle > 0 { settling.watch(name, inbox: state.configuration.directories.inbox) } else { processor.process(name: name, upcoming: upcoming) }
        }
        await withGracefulShutdownHandler {
            for await event in watcher.events.cancelOnGracefulShutdown() {
                switch event {
                case .file(let name):
                    take(name, upcoming: watcher.upcoming(after: name, while: going))
                case .heartbeat:
                    let settled = UpcomingFiles.list(settling.settled(inbox: state.configuration.directories.inbox, quiet: state.configuration.limits.settleSeconds, now: Date()), while: going)
                    while let name = settled.next() {
                        trimSchedule.worked()
                        processor.process(name: name, upcoming: settled)
                    }
                case .created(let name):
                    processor.processIfNotRegularFile(name: name)
                case .unreadableName(let bytes):
                    processor.refuseUnreadableName(bytes)
                case .rescan(let periodic):
                    processor.evaluateTrialRules()
                    emitter.deliverPending(escalating: true)
                    for bytes in InboxWatcher.unreadableNames(directory: state.configuration.directories.inbox) {
                        processor.refuseUnreadableName(bytes)
                    }
                    let settledBefore = periodic ? Date().addingTimeInterval(-InboxWatcher.quietSeconds) : nil
                    let names = UpcomingFiles.list(InboxWatcher.scan(directory: state.configuration.directories.inbox, modifiedBefore: settledBefore), while: going)
                    while let name = names.next() {
                        take(name, upcoming: names)
                    }
                case .tick:
                    processor.evaluateTrialRules()
                    emitter.deliverPending(escalating: true)
                    if trimSchedule.tick() {
                        let trim = WorkingSet.trim()
                        logger.debug("idle: heap trimmed, \(trim.residentKib / 1024) MiB of code pages unmapped from \(trim.mappings) mappings (they stay in the page cache)")
                    }
                }
            }
        } onGracefulShutdown: {
            notifier.stopping(status: "stopping: finishing the file in hand")
            logger.info("SIGTERM: finishing the file in hand, then stopping")
        }
        watcher.stop()
    }
}
