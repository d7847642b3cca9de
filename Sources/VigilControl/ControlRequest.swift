import Foundation

/// One control-socket request (docs/ARCHITECTURE.md §3.4) with its arguments checked against the command's
/// grammar. `parse` is pure: what needs the configuration, the store or the peer (is the subject a
/// trial subject id, may this peer acknowledge) is left to `ControlHandler`.
public enum ControlRequest: Equatable, Sendable {
    case ping
    case status
    /// `alerts [open|all] [N]`: open alerts only unless `all`, at most N (1…10 000, default 50).
    case alerts(openOnly: Bool, limit: Int)
    case subjects
    /// `subject ID`: the id is not yet checked against the trial's subject pattern.
    case subject(id: String)
    case rules
    case report
    /// Per-site and pooled status of a multi-site trial (the central tier).
    case trial
    /// `ack ALERT_ID [reported] [by:NAME]`: a 16-hex-digit alert id; `by:` names the person (`_` for spaces).
    case acknowledge(alertID: String, reported: Bool, by: String?)
    /// `resume BY REASON…`: `_` in BY stands for a space.
    case resume(by: String, reason: String)
    case reload
    /// `silence RULE|SUBJECT MINUTES REASON…`: 0 < MINUTES ≤ 7 days; the target is not yet checked.
    case silence(target: String, minutes: Double, reason: String)
    case silences
    /// `backup PATH`: an SQLite online backup of the store to a new file PATH (absolute, writable by the daemon).
    case backup(path: String)
    /// `replay CONFIG [SINCE]`: re-run the stored history under the configuration file CONFIG
    /// (absolute path) in scratch copies; SINCE (ISO 8601) limits the comparison.
    case replay(configPath: String, since: Date?)

    /// Who may run a command.
    public enum Access: Sendable, Equatable {
        /// Any peer that can open the socket (its mode and group already limit who can).
        case anyone
        /// Root, the daemon's own user, or a member of `control.authorised_groups`.
        case authorised
    }

    /// The permission table: every command word and who may run it, in the order the "unknown
    /// command" reply lists them. `ControlHandler` checks it once, before anything else, and refuses a
    /// privileged command to other peers before it looks at the arguments.
    public static let accessTable: KeyValuePairs<String, Access> = [
        "ping": .anyone, "status": .anyone, "alerts": .anyone, "ack": .authorised, "subjects": .anyone,
        "subject": .anyone, "rules": .anyone, "report": .anyone, "trial": .anyone, "resume": .authorised,
        "reload": .authorised, "silence": .authorised, "silences": .anyone, "backup": .authorised,
        "replay": .authorised,
    ]

    /// Who may run `command`; nil for a word that is no command.
    public static func access(for command: String) -> Access? {
        accessTable.first { $0.key == command }?.value
    }

    /// Every command word, in the order of `accessTable`.
    public static let commands = accessTable.map(\.key)

    /// Longest silence, in minutes.
    public static let maxSilenceMinutes = 7.0 * 24 * 60

    /// Longest request line accepted, in bytes (without the newline); `ControlServer` refuses longer
    /// requests without reading them further.
    public static let maxBytes = 4096

    /// The command word as the client types it.
    public var command: String {
        switch self {
        case .ping: "ping"
        case .status: "status"
        case .alerts: "alerts"
        case .subjects: "subjects"
        case .subject: "subject"
        case .rules: "rules"
        case .report: "report"
        case .trial: "trial"
        case .acknowledge: "ack"
        case .resume: "resume"
        case .reload: "reload"
        case .silence: "silence"
        case .silences: "silences"
        case .backup: "backup"
        case .replay: "replay"
        }
    }

    /// Reads one request line (already trimmed, see `decode(bytes:)`). Words are separated by
    /// spaces; commands without arguments ignore any that follow.
    public static func parse(_ line: String) -> Result<ControlRequest, ControlRequestError> {
        let words = line.split(separator: " ").map(String.init)
        guard let command = words.first else { return .failure(ControlRequestError(command: nil, message: "empty request; try 'ping'")) }
        let arguments = Array(words.dropFirst())
        func usage(_ message: String) -> Result<ControlRequest, ControlRequestError> {
            .failure(ControlRequestError(command: command, message: message))
        }
        switch command {
        case "ping": return .success(.ping)
        case "status": return .success(.status)
        case "subjects": return .success(.subjects)
        case "rules": return .success(.rules)
        case "report": return .success(.report)
        case "trial": return .success(.trial)
        case "reload": return .success(.reload)
        case "silences": return .success(.silences)
        case "alerts":
            var openOnly = true
            var limit = 50
            for argument in arguments {
                switch argument {
                case "open": openOnly = true
                case "all": openOnly = false
                default:
                    guard let n = Int(argument), (1...10_000).contains(n) else {
                        return usage("usage: alerts [open|all] [N]; '\(argument.prefix(40))' is neither")
                    }
                    limit = n
                }
            }
            return .success(.alerts(openOnly: openOnly, limit: limit))
        case "subject":
            guard arguments.count == 1 else { return usage("usage: subject ID") }
            return .success(.subject(id: arguments[0]))
        case "ack":
            guard let id = arguments.first, id.count == 16, id.allSatisfy(\.isHexDigit) else {
                return usage("usage: ack ALERT_ID [reported] [by:NAME]")
            }
            let by = arguments.first { $0.hasPrefix("by:") }.map { String($0.dropFirst(3)).replacingOccurrences(of: "_", with: " ") }
            return .success(.acknowledge(alertID: id, reported: arguments.contains("reported"), by: by))
        case "resume":
            guard arguments.count >= 2 else { return usage("usage: resume BY REASON…") }
            return .success(.resume(by: arguments[0].replacingOccurrences(of: "_", with: " "), reason: arguments[1...].joined(separator: " ")))
        case "silence":
            guard arguments.count >= 3, let minutes = Double(arguments[1]), minutes > 0, minutes <= maxSilenceMinutes else {
                return usage("usage: silence RULE|SUBJECT MINUTES REASON… (at most 7 days)")
            }
            return .success(.silence(target: arguments[0], minutes: minutes, reason: arguments[2...].joined(separator: " ")))
        case "backup":
            let path = arguments.joined(separator: " ")
            guard path.hasPrefix("/"), !path.contains("\0") else { return usage("usage: backup /ABSOLUTE/PATH (a new file the daemon can write)") }
            return .success(.backup(path: path))
        case "replay":
            guard let path = arguments.first, path.hasPrefix("/"), arguments.count <= 2 else {
                return usage("usage: replay /ABSOLUTE/CONFIG.yaml [SINCE as ISO 8601, e.g. 2026-11-20T00:00:00Z]")
            }
            var since: Date?
            if arguments.count == 2 {
                guard let date = ISO8601DateFormatter().date(from: arguments[1]) else {
                    return usage("replay: SINCE '\(arguments[1].prefix(40))' is not an ISO 8601 time such as 2026-11-20T00:00:00Z")
                }
                since = date
            }
            return .success(.replay(configPath: path, since: since))
        default:
            return .failure(ControlRequestError(
                command: nil, message: "unknown command '\(command.prefix(40))'; known: \(commands.joined(separator: ", "))"))
        }
    }

    /// What the control server does to the bytes a client sent before a line is parsed: the request
    /// ends at the first newline (or at the end of the bytes), may be at most
    /// `maxBytes` long, must be UTF-8, and is trimmed of white space.
    public static func decode(bytes: [UInt8]) -> Result<String, ControlRequestError> {
        let end = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
        guard end <= maxBytes else {
            return .failure(ControlRequestError(command: nil, message: "request longer than \(maxBytes) bytes"))
        }
        guard let line = String(validating: bytes[..<end], as: UTF8.self) else {
            return .failure(ControlRequestError(command: nil, message: "request is not UTF-8"))
        }
        return .success(line.trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Why a request line is refused: `message` is the reply text. `command` is the known command
/// whose arguments were wrong (nil for an empty, unreadable or unknown request).
public struct ControlRequestError: Error, Equatable, Sendable, CustomStringConvertible {
    public var command: String?
    public var message: String

    public init(command: String?, message: String) {
        self.command = command
        self.message = message
    }

    public var description: String { message }
}
