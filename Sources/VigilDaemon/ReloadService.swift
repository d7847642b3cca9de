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
