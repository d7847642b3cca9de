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
