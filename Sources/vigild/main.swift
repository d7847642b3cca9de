import ArgumentParser
import Foundation
import Logging
import VigilDaemon

/// `vigild`: the Vigil safety-monitoring daemon.
@main
struct VigilD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigild",
        abstract: "Vigil safety-monitoring daemon: inbox → rules → journal, outbox and control socket.")

    @Option(name: .long, help: "Configuration file (YAML).")
    var config: String = "/etc/vigil/vigil.yaml"

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return VisibleLogHandler(wrapping: handler)
        }
        let status = await Daemon.run(configPath: config, logger: Logger(label: "vigild"))
        if status != 0 { throw ExitCode(status) }
    }
}
