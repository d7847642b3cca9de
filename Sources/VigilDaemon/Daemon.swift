import Foundation
import Logging
import ServiceLifecycle
import UnixSignals
import VigilCentral
import VigilConfig
import VigilCore
import VigilStore
import VigilSystemd

/// The running service: assembles store, journal, outbox, pipeline and control socket from a
/// configuration file and runs them until SIGTERM (finish the file in hand, exit 0) while SIGHUP
/// reloads the configuration, keeping the old one when the new one is invalid.
public enum Daemon {
    /// Exit status for a configuration error (sysexits EX_CONFIG).
    public static let configurationErrorStatus: Int32 = 78

    public static func run(configPath givenPath: String, logger: Logger) async -> Int32 {
        let configPath = URL(fileURLWithPath: givenPath).standardizedFileURL.path
        let clock: @Sendable () -> Date = { Date() }
        let notifier = ServiceNotifier()
        let configuration: VigilConfiguration
        do {
            configuration = try VigilConfiguration.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data("vigild: configuration error: \(error)\n".utf8))
            notifier.status("configuration error: \(error)")
            return configurationErrorStatus
        }
        let state = DaemonState(configuration: configuration, configPath: configPath, startedAt: clock())
        let directories = configuration.directories
        let outbox = Outbox(root: directories.outbox)
        let store: VigilStore
        do {
            for path in [directories.inbox, directories.archive, directories.rejected, directories.state] {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            }
            try outbox.createDirectories()
            store = try VigilStore(path: "\(directories.state)/vigil.sqlite")
        } catch {
            logger.critical("cannot prepare directories or the store: \(error)")
            notifier.status("start-up failed: \(error)")
            return 1
        }

        let journal = JournalWriter()
        journal.probe()
        let emitter = AlertEmitter(store: store, journal: journal, outbox: outbox, state: state, logger: logger, clock: clock)
        // Finish deliveries a previous process left half done before taking new work.
        emitter.deliverPending(recovering: true)

        let handler = ControlHandler(store: store, state: state, journal: journal, outbox: outbox, clock: clock) {
            ReloadService.reload(state: state, notifier: notifier, logger: logger)
        }
        let control: ControlServer
        let watcher: InboxWatcher
        do {
            control = try ControlServer(
                path: configuration.control.socket, mode: configuration.control.mode, group: configuration.control.group,
                activatedFD: notifier.listenFileDescriptors().first) { line, peer in handler.handle(line, peer: peer) }
            watcher = try InboxWatcher(directory: directories.inbox, rescanInterval: configuration.limits.rescanIntervalSeconds)
        } catch {
            logger.critical("cannot start: \(error)")
            notifier.status("start-up failed: \(error)")
            return 1
        }
        defer { control.stop() }
        var mllp: MLLPListener?
        if let settings = configuration.mllp {
            do {
                mllp = try MLLPListener(settings: settings, inbox: directories.inbox, logger: logger, clock: clock) {
                    try? state.configuration.ingestOptions()
                }
                logger.info("MLLP listener on \(settings.host):\(settings.port)")
            } catch {
                logger.critical("cannot start the MLLP listener: \(error)")
                notifier.status("start-up failed: \(error)")
                return 1
            }
        }
        defer { mllp?.stop() }

        let processor = FileProcessor(store: store, emitter: emitter, state: state, logger: logger, clock: clock)
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        var services: [any Service] = [
            IngestService(watcher: watcher, processor: processor, emitter: emitter, state: state, notifier: notifier, logger: logger),
            ReloadService(signals: hangups, state: state, notifier: notifier, logger: logger),
            WatchdogService(state: state, notifier: notifier, clock: clock),
        ]
        // The trial-wide tier (docs/ARCHITECTURE.md §6); without `central:` the site runs alone and
        // queues nothing for replication.
        do {
            if let settings = configuration.central {
                let database = try CentralDatabase(settings: settings, trial: configuration.trial.id, logger: logger)
                let central = CentralService(database: database, store: store, configuration: { state.configuration }, clock: clock, logger: logger) {
                    emitter.deliverPending()
                }
                state.attach(central)
                services.append(central)
                logger.info("central tier: site \(settings.siteID) (\(settings.role.rawValue)) replicating to \(settings.host):\(settings.port)/\(settings.database)")
            } else {
                try store.disableReplication()
            }
        } catch {
            logger.critical("cannot start the central tier: \(error)")
            notifier.status("start-up failed: \(error)")
            return 1
        }
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))

        let readyStatus = "watching \(directories.inbox); trial \(configuration.trial.id)"
        // systemctl status shows why the daemon is degraded (disk full, journal down…) and when it recovers.
        state.observeDegraded { reasons in
            if reasons.isEmpty {
                notifier.status("recovered; \(readyStatus)")
                logger.notice("no longer degraded: all components working")
            } else {
                let summary = reasons.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: "; ")
                notifier.status("degraded: \(summary)")
            }
        }
        notifier.ready(status: readyStatus)
        logger.info("vigild \(VigilVersion.string) ready: \(readyStatus), control socket \(configuration.control.socket), config digest \(configuration.digest)")
        do {
            try await group.run()
        } catch {
            logger.critical("service failed: \(error)")
            return 1
        }
        logger.info("vigild stopped")
        return 0
    }
}

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
                    emitter.deliverPending()
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
                    emitter.deliverPending()
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

/// Re-reads the configuration on SIGHUP (RELOADING=1 … READY=1); an invalid file keeps the old one.
struct ReloadService: Service {
    let signals: UnixSignalsSequence
    let state: DaemonState
    let notifier: ServiceNotifier
    let logger: Logger

    func run() async throws {
        for await _ in signals.cancelOnGracefulShutdown() {
            reload()
        }
    }

    func reload() {
        _ = Self.reload(state: state, notifier: notifier, logger: logger)
    }

    /// Re-reads the configuration file; returns whether it was taken and what happened.
    static func reload(state: DaemonState, notifier: ServiceNotifier, logger: Logger) -> (ok: Bool, message: String) {
        notifier.reloading(status: "reloading \(state.configPath)")
        let current = state.configuration
        do {
            var next = try VigilConfiguration.load(path: state.configPath)
            var note = ""
            if next.directories != current.directories || next.control.socket != current.control.socket {
                // Directories and the socket are bound at start; moving them needs a restart.
                logger.warning("reload: directories or control socket changed; they take effect at the next restart")
                note = "; directories and socket changes wait for a restart"
                next.directories = current.directories
                next.control.socket = current.control.socket
            }
            state.replaceConfiguration(next)
            logger.notice("reload: configuration \(next.digest) in force")
            notifier.ready(status: "configuration \(next.digest) reloaded")
            return (true, "configuration \(next.digest) in force\(note)")
        } catch {
            state.reloadFailed("\(error)")
            logger.error("reload refused, keeping configuration \(current.digest): \(error)")
            notifier.ready(status: "reload refused (\(error)); configuration \(current.digest) kept")
            return (false, "reload refused, configuration \(current.digest) kept: \(error)")
        }
    }
}

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
