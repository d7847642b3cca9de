import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// Runs the real, built `vigild` in a scratch directory with its own configuration, its own
/// NOTIFY_SOCKET and a unique trial id, so journal entries of one test never mix with another's.
final class DaemonHarness {
    let directory: String
    let trial: String
    let configPath: String
    let notify: NotifySocket
    let products = TestSupport.productsDirectory()
    var process: Process?
    var stderrPath: String { "\(directory)/vigild.stderr" }

    var inbox: String { "\(directory)/var/inbox" }
    var archive: String { "\(directory)/var/archive" }
    var rejected: String { "\(directory)/var/rejected" }
    var outboxNew: String { "\(directory)/var/outbox/new" }
    var socket: String { "\(directory)/var/run/control.sock" }
    var database: String { "\(directory)/var/state/vigil.sqlite" }

    init(label: String, lactate: (warning: Double, critical: Double) = (2.0, 4.0)) throws {
        directory = try TestSupport.scratchDirectory(label)
        trial = "VIGIL-IT-\(UUID().uuidString.prefix(8))"
        configPath = "\(directory)/vigil.yaml"
        notify = try NotifySocket(path: "\(directory)/notify.sock")
        try writeConfiguration(lactate: lactate)
    }

    func configuration(lactate: (warning: Double, critical: Double), extra: String = "") -> String {
        """
        trial:
          id: \(trial)
          registry: NCT04711200
          subject_id_pattern: '^LYS-[0-9]{2}-[0-9]{3}$'
          site_time_zone: Europe/Paris
        directories:
          inbox: \(directory)/var/inbox
          archive: \(directory)/var/archive
          rejected: \(directory)/var/rejected
          outbox: \(directory)/var/outbox
          state: \(directory)/var/state
        control:
          socket: \(directory)/var/run/control.sock
          mode: "0660"
          group: vigil-oncall
        limits:
          max_file_bytes: 8388608
          rescan_interval_seconds: 30
        rules:
          lactate:
            warning_mmol_per_l: \(lactate.warning)
            critical_mmol_per_l: \(lactate.critical)
        mail:
          from: vigil@site.invalid
          host_name: vigil.test.invalid
          recipients:
            halt: [pv@site.invalid]
            critical: [oncall@site.invalid, pv@site.invalid]
            warning: [oncall@site.invalid]
        \(extra)
        """
    }

    func writeConfiguration(lactate: (warning: Double, critical: Double), extra: String = "") throws {
        try configuration(lactate: lactate, extra: extra).write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts vigild, optionally through a wrapper command (e.g. `unshare`), and waits for READY=1.
    func start(wrapper: [String] = [], environment extra: [String: String] = [:], arguments: [String] = []) throws {
        let readyBefore = notify.messages.count
        let process = Process()
        let command = wrapper + ["\(products)/vigild", "--config", configPath] + arguments
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst())
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notify.path
        environment.merge(extra) { _, new in new }
        process.environment = environment
        if !FileManager.default.fileExists(atPath: stderrPath) { _ = FileManager.default.createFile(atPath: stderrPath, contents: nil) }
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        log.seekToEndOfFile()
        process.standardError = log
        process.standardOutput = log
        try process.run()
        self.process = process
        guard notify.waitFor("READY=1", timeout: 30, after: readyBefore) else {
            throw TestSupport.Failure("vigild did not send READY=1 within 30 s; stderr:\n\(stderr)")
        }
    }

    var stderr: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    var isRunning: Bool { process?.isRunning ?? false }

    /// Writes a file the way producers must: a dotfile, then a rename into the inbox.
    func drop(_ name: String, _ content: String) throws {
        let temporary = "\(inbox)/.\(name).tmp"
        try content.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, "\(inbox)/\(name)") == 0 else { throw TestSupport.Failure("rename into inbox failed") }
    }

    /// Runs the real vigilctl against this daemon.
    func vigilctl(_ arguments: [String]) throws -> TestSupport.Completed {
        try TestSupport.run("\(products)/vigilctl", arguments + ["--socket", socket])
    }

    func statusJSON() throws -> [String: Any] {
        let result = try vigilctl(["status", "--json"])
        guard result.status == 0, let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw TestSupport.Failure("vigilctl status failed (\(result.status)): \(result.stderr)")
        }
        return object
    }

    func files(in directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
    }

    /// Files under archive/ (any day folder).
    func archivedFiles() -> [String] {
        files(in: archive).flatMap { day in files(in: "\(archive)/\(day)").map { "\(day)/\($0)" } }
    }

    func journalEntries() throws -> [[String: Any]] {
        try TestSupport.journalEntries(matching: "VIGIL_TRIAL=\(trial)")
    }

    /// Sends SIGTERM and returns the exit status and how long the exit took.
    func terminate(timeout: TimeInterval = 5) -> (status: Int32?, seconds: TimeInterval) {
        guard let process, process.isRunning else { return (process?.terminationStatus, 0) }
        let start = Date()
        kill(process.processIdentifier, SIGTERM)
        let exited = TestSupport.waitUntil(timeout: timeout) { !process.isRunning }
        let elapsed = Date().timeIntervalSince(start)
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return (nil, elapsed)
        }
        return (process.terminationStatus, elapsed)
    }

    func crash() {
        guard let process, process.isRunning else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    func cleanUp() {
        crash()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
