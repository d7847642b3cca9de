import ArgumentParser
import Foundation
import VigilConfig
import VigilControl
import VigilIngest
import VigilOutbox

/// `vigilctl`: the on-call person's view of a running `vigild`, through its control socket.
@main
struct VigilCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigilctl",
        abstract: "Talk to the Vigil daemon through its control socket.",
        subcommands: [Ping.self, Status.self, Alerts.self, Ack.self, Subjects.self, Subject.self, Rules.self, Report.self, Trial.self, Resume.self,
                      Reload.self, Silence.self, Silences.self, Watch.self, Backup.self, Replay.self, Relay.self, Check.self, ValidateConfig.self])
}

/// Where to find the daemon: an explicit socket, the socket named in a configuration file, or the default.
struct Connection: ParsableArguments {
    @Option(name: .long, help: "Control socket path (default: from --config, $VIGIL_SOCKET, or /run/vigil/control.sock).")
    var socket: String?

    @Option(name: .long, help: "Read the control socket path from this configuration file.")
    var config: String?

    func socketPath() throws -> String {
        if let socket { return socket }
        if let config {
            do {
                return try VigilConfiguration.load(path: config).control.socket
            } catch {
                throw ValidationError("\(error)")
            }
        }
        return ProcessInfo.processInfo.environment["VIGIL_SOCKET"] ?? "/run/vigil/control.sock"
    }

    func request(_ line: String, timeoutSeconds: Int = 10) throws -> String {
        try Self.request(line, socketPath: try socketPath(), timeoutSeconds: timeoutSeconds)
    }

    /// Sends one request; an error reply or a failed connection is printed and becomes the exit status.
    static func request(_ line: String, socketPath path: String, timeoutSeconds: Int = 10) throws -> String {
        do {
            let reply = try ControlClient.request(line, socketPath: path, timeoutSeconds: timeoutSeconds)
            if let error = try? ControlReply.decoder.decode(ErrorReply.self, from: Data(reply.utf8)), !error.ok {
                FileHandle.standardError.write(Data("vigilctl: \(error.error)\n".utf8))
                throw ExitCode(2)
            }
            return reply
        } catch let failure as ControlClient.Failure {
            FileHandle.standardError.write(Data("vigilctl: \(failure)\n".utf8))
            throw ExitCode(3)
        }
    }

    /// Sends `line`, then prints the raw JSON reply (`--json`) or the reply decoded and rendered for people.
    func show<T: Decodable>(_ line: String, json: Bool, as type: T.Type, _ render: (T) -> String) throws {
        let reply = try request(line)
        print(json ? reply : render(try decode(type, reply)))
    }

    func decode<T: Decodable>(_ type: T.Type, _ reply: String) throws -> T { try Self.decode(type, reply) }

    static func decode<T: Decodable>(_ type: T.Type, _ reply: String) throws -> T {
        do {
            return try ControlReply.decoder.decode(type, from: Data(reply.utf8))
        } catch {
            FileHandle.standardError.write(Data("vigilctl: unexpected reply from vigild: \(error)\n".utf8))
            throw ExitCode(4)
        }
    }
}

struct Ping: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check that vigild answers.")
    @OptionGroup var connection: Connection

    func run() throws {
        let reply = try connection.decode(PingReply.self, try connection.request("ping"))
        print("pong from vigild \(reply.version) (pid \(reply.pid))")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the daemon's health, trial state, counters and backlogs.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false

    func run() throws {
        try connection.show("status", json: json, as: StatusReport.self) { StatusText.render($0, colour: StatusText.useColour) }
    }
}

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List alerts, newest first (open ones by default).")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Include acknowledged and resolved alerts.") var all = false
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false
    @Argument(help: "How many alerts to show.") var count: Int = 50

    func run() throws {
        try connection.show("alerts \(all ? "all" : "open") \(count)", json: json, as: AlertsReply.self) { StatusText.render($0.alerts) }
    }
}

struct Ack: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Acknowledge an alert (who and when are recorded from your login).")
    @OptionGroup var connection: Connection
    @Argument(help: "The alert id (16 hex digits, in the mail and the journal).") var id: String
    @Option(name: .long, help: "Name to record with your login, e.g. \"Dr Martin\".") var by: String?
    @Flag(name: .long, help: "The SUSAR behind this alert has been reported to the authorities: stop its clock.") var reported = false

    func run() throws {
        var line = "ack \(id)"
        if reported { line += " reported" }
        if let by { line += " by:" + by.replacingOccurrences(of: " ", with: "_") }
        print(try connection.decode(ActionReply.self, try connection.request(line)).message)
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Resume a halted trial (authorised groups only).")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: "Who decided to resume (recorded with your login).") var by: String
    @Option(name: .long, help: "Why, e.g. the DSMB decision reference.") var reason: String

    func run() throws {
        let line = "resume \(by.replacingOccurrences(of: " ", with: "_")) \(reason.replacingOccurrences(of: "\n", with: " "))"
        print(try connection.decode(ActionReply.self, try connection.request(line)).message)
    }
}

struct Rules: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the stopping rules, their parameters and the Bayesian boundary table.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false

    func run() throws {
        try connection.show("rules", json: json, as: RulesReply.self) { StatusText.render($0) }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the trial's safety endpoints from the store.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false

    func run() throws {
        try connection.show("report", json: json, as: ReportReply.self) { StatusText.render($0) }
    }
}

struct Subjects: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List subjects and their active signals.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false

    func run() throws {
        try connection.show("subjects", json: json, as: SubjectsReply.self) { reply in
            StatusText.table(header: ["SUBJECT", "ACTIVE SIGNALS"], rows: reply.subjects.map {
                [$0.subject, $0.activeSignals.isEmpty ? "-" : $0.activeSignals.joined(separator: ", ")]
            })
        }
    }
}

struct Subject: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a subject's scores now: components, their ages, what is missing, and active signals.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false
    @Argument(help: "Trial subject id, e.g. LYS-01-003.") var id: String

    func run() throws {
        try connection.show("subject \(id)", json: json, as: SubjectReply.self) { StatusText.render($0) }
    }
}

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Parse an inbox file without applying it: print its records and every error (exit 1 if any).")
    @Argument(help: "The file to check (.json, .ndjson, .csv, .hl7).") var file: String
    @Option(name: .long, help: "Configuration with the subject pattern, code mapping and HL7 settings.")
    var config: String = "/etc/vigil/vigil.yaml"
    @Flag(name: .long, help: "Print the records as JSON lines.") var json = false

    func run() throws {
        let configuration: VigilConfiguration
        do {
            configuration = try VigilConfiguration.load(path: config)
        } catch {
            throw ValidationError("\(error)")
        }
        guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let ext = (file as NSString).pathExtension.lowercased()
        guard InboxFormat.supportedExtensions.contains(ext) else {
            throw ValidationError("unsupported file type '.\(ext)'; expected .json, .ndjson, .csv or .hl7")
        }
        let result = InboxFormat.parse(data, extension: ext, options: try configuration.ingestOptions())
        print(CheckReport.render(file: (file as NSString).lastPathComponent, result: result, json: json, timeZone: configuration.trial.siteTimeZone))
        if !result.errors.isEmpty { throw ExitCode(1) }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Make vigild re-read its configuration (kept unchanged if the new one is invalid).")
    @OptionGroup var connection: Connection

    func run() throws {
        print(try connection.decode(ActionReply.self, try connection.request("reload")).message)
    }
}

struct Silence: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hold mail for a rule or a subject during maintenance; alerts still reach the journal.")
    @OptionGroup var connection: Connection
    @Argument(help: "A rule id (e.g. news2, data-quality) or a trial subject id.") var target: String
    @Option(name: .customLong("for"), help: "How long: 30m, 2h, 1d (at most 7d).") var duration: String
    @Option(name: .long, help: "Why (logged in the journal).") var reason: String

    func run() throws {
        guard let minutes = Self.minutes(duration) else { throw ValidationError("--for takes a duration such as 30m, 2h or 1d") }
        let line = "silence \(target) \(Int(minutes)) \(reason.replacingOccurrences(of: "\n", with: " "))"
        print(try connection.decode(ActionReply.self, try connection.request(line)).message)
    }

    static func minutes(_ text: String) -> Double? {
        guard let unit = text.last, let value = Double(text.dropLast()), value > 0 else { return nil }
        switch unit {
        case "m": return value
        case "h": return value * 60
        case "d": return value * 1440
        default: return nil
        }
    }
}

struct Trial: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-site and pooled status of a multi-site trial: subjects, evaluable, toxicities, posterior, replication lag, last contact.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false

    func run() throws {
        try connection.show("trial", json: json, as: TrialReply.self) { reply in
            let o = reply.overview
            let state = o.phase == "running" ? "RUNNING" : "HALTED by \(o.origin ?? "?") (\(o.rule ?? "?"))"
            var rows = o.sites.map { site -> [String] in
                let contact = site.secondsSinceContact.map { "\(Int($0.rounded())) s ago" } ?? "never"
                return [site.site, "\(site.counts.subjects)", "\(site.counts.infused)", "\(site.counts.evaluable)", "\(site.counts.toxicities)",
                        "\(site.records)", "\(site.backlog)", contact]
            }
            rows.append(["pooled", "\(o.pooled.subjects)", "\(o.pooled.infused)", "\(o.pooled.evaluable)", "\(o.pooled.toxicities)", "", "", ""])
            let table = StatusText.table(header: ["SITE", "SUBJECTS", "INFUSED", "EVALUABLE", "TOXICITIES", "RECORDS", "TO SEND", "LAST CONTACT"], rows: rows)
            return "Trial \(o.trial): \(state)\n" + table
                + String(format: "\nPooled Pr(p > max rate | data) = %.3f%@", o.posterior, o.decision.map { "; stop rule met: \($0)" } ?? "")
        }
    }
}

struct Silences: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the silences in force.")
    @OptionGroup var connection: Connection
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false

    func run() throws {
        try connection.show("silences", json: json, as: SilencesReply.self) { reply in
            let formatter = ISO8601DateFormatter()
            return reply.silences.isEmpty ? "No silence in force." : StatusText.table(header: ["ID", "MATCHES", "UNTIL", "BY", "REASON"], rows: reply.silences.map {
                [$0.id, $0.matcher, formatter.string(from: $0.endsAt), $0.createdBy, $0.reason]
            })
        }
    }
}

struct Relay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send the mail waiting in outbox/new through the configured sendmail command (vigil-relay.service runs this).")
    @Option(name: .long, help: "Configuration file (outbox directory and sendmail command).") var config: String = "/etc/vigil/vigil.yaml"
    @Flag(name: .long, help: "Keep retrying failed messages with their back-off until none waits (at most --max-wait seconds).") var wait = false
    @Option(name: .long, help: "With --wait, give up after this many seconds.") var maxWait: Double = 3600

    func run() throws {
        let configuration: VigilConfiguration
        do {
            configuration = try VigilConfiguration.load(path: config)
        } catch {
            throw ValidationError("\(error)")
        }
        let relay = MailRelay(outbox: Outbox(root: configuration.directories.outbox), command: configuration.mail.sendmail)
        let deadline = Date().addingTimeInterval(maxWait)
        var failures = 0
        while true {
            let pass = try relay.runOnce()
            for name in pass.sent { print("sent \(name)") }
            for (name, reason) in pass.failed.sorted(by: { $0.key < $1.key }) {
                FileHandle.standardError.write(Data("vigilctl relay: \(name) not sent, will retry: \(reason)\n".utf8))
            }
            failures = pass.failed.count + pass.deferred.count
            guard wait, failures > 0, Date() < deadline else { break }
            let next = MailRelay.loadState(outbox: relay.outbox).values.map(\.nextAttempt).min() ?? Date().addingTimeInterval(30)
            Thread.sleep(until: min(next, deadline))
        }
        if failures > 0 { throw ExitCode(75) }  // EX_TEMPFAIL: systemd shows the unit failed; the mail waits
    }
}

struct ValidateConfig: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validate-config", abstract: "Check a configuration file without starting anything.")
    @Argument(help: "The YAML file to check.") var file: String

    func run() throws {
        do {
            let configuration = try VigilConfiguration.load(path: file)
            print("\(file): valid (trial \(configuration.trial.id), digest \(configuration.digest))")
        } catch {
            FileHandle.standardError.write(Data("\(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}

/// Follows new alerts as they are raised, like `tail -f`, until interrupted.
struct Watch: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Follow new alerts live (Ctrl-C to stop).")
    @OptionGroup var connection: Connection
    @Option(name: .long, help: "Seconds between polls of the daemon.") var interval: Double = 2
    @Option(name: .long, help: "Stop after this many polls (default: never).") var count: Int?
    @Flag(name: .long, help: "Print each new alert as one JSON line.") var json = false

    func run() throws {
        guard interval >= 0.2 else { throw ValidationError("--interval must be at least 0.2 s") }
        var seen = Set(try connection.decode(AlertsReply.self, try connection.request("alerts all 10000")).alerts.map(\.id))
        FileHandle.standardError.write(Data("vigilctl: watching for new alerts (\(seen.count) already raised)\n".utf8))
        var polls = 0
        while count.map({ polls < $0 }) ?? true {
            Thread.sleep(forTimeInterval: interval)
            polls += 1
            let alerts = try connection.decode(AlertsReply.self, try connection.request("alerts all 200")).alerts
            let fresh = alerts.filter { !seen.contains($0.id) }.sorted { $0.raisedAt < $1.raisedAt }
            for alert in fresh {
                seen.insert(alert.id)
                if json, let data = try? ControlReply.encoder.encode(alert) {
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print(StatusText.watchLine(alert, colour: StatusText.useColour))
                }
            }
            fflush(nil)
        }
    }
}

/// `vigilctl backup PATH`: an SQLite online backup of the live store, made by the daemon.
struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Back up the store (SQLite online backup) to a new file the daemon can write, e.g. /var/lib/vigil/backups/vigil-DATE.sqlite.")
    @OptionGroup var connection: Connection
    @Argument(help: "Path of the new backup file (absolute, or relative to the current directory).") var path: String

    func run() throws {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        print(try connection.decode(ActionReply.self, try connection.request("backup \(absolute)", timeoutSeconds: 600)).message)
    }
}

/// `vigilctl replay --config NEW.yaml [--since DATE]`: what a candidate configuration would have done.
struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-run the stored history under a candidate configuration (in scratch copies) and show which alerts would have fired, not fired or changed.")
    @Option(name: .long, help: "Control socket path (default: $VIGIL_SOCKET or /run/vigil/control.sock).") var socket: String?
    @Option(name: .customLong("config"), help: "The candidate configuration file (read by the daemon).") var candidate: String
    @Option(name: .long, help: "Compare only alerts on data observed from this time on (ISO 8601 or YYYY-MM-DD).") var since: String?
    @Flag(name: .long, help: "Print the raw JSON reply.") var json = false

    func run() throws {
        let socketPath = socket ?? ProcessInfo.processInfo.environment["VIGIL_SOCKET"] ?? "/run/vigil/control.sock"
        let path = URL(fileURLWithPath: candidate).standardizedFileURL.path
        var line = "replay \(path)"
        if let since {
            let formatter = ISO8601DateFormatter()
            guard let date = formatter.date(from: since) ?? formatter.date(from: since + "T00:00:00Z") else {
                throw ValidationError("--since takes an ISO 8601 time or a date such as 2026-11-20")
            }
            line += " " + formatter.string(from: date)
        }
        // The daemon replays the whole history: allow it time.
        let reply = try Connection.request(line, socketPath: socketPath, timeoutSeconds: 1800)
        print(json ? reply : StatusText.render(try Connection.decode(ReplayReply.self, reply)))
    }
}
