import Foundation
import VigilCore
import VigilIngest
import Yams

/// Everything a site sets in `vigil.yaml`, validated as a whole before the daemon uses any of it.
public struct VigilConfiguration: Sendable, Equatable {
    /// Trial identity and the rules for reading subject ids and local times.
    public struct Trial: Sendable, Equatable {
        public var id: String
        public var registry: String
        public var subjectIDPattern: String
        public var siteTimeZone: String
    }

    /// The directories of docs/ARCHITECTURE.md §3.1, absolute after loading.
    public struct Directories: Sendable, Equatable {
        public var inbox: String
        public var archive: String
        public var rejected: String
        public var outbox: String
        public var state: String
    }

    /// The Unix control socket.
    public struct Control: Sendable, Equatable {
        public var socket: String
        public var mode: UInt16
        public var group: String
    }

    /// Input limits.
    public struct Limits: Sendable, Equatable {
        public var maxFileBytes: Int
        public var rescanIntervalSeconds: Double
        /// For producers that cannot write-then-rename: a file is taken only once its size and
        /// modification time have not changed for this long. 0 (default): taken at its close-write or
        /// rename event, the recommended contract.
        public var settleSeconds: Double = 0
    }

    /// Mail envelope: sender, recipients by severity.
    public struct Mail: Sendable, Equatable {
        public var from: String
        public var hostName: String
        public var recipients: [Severity: [String]]
        /// The sendmail-compatible command the relay pipes each message into.
        public var sendmail: [String]
        /// No new mail for the same rule and subject within this interval unless severity rises.
        public var repeatInterval: TimeInterval = 4 * 3600
        /// Unacknowledged critical and halt alerts are mailed again to `escalationRecipients` after this.
        public var escalateAfter: TimeInterval = 30 * 60
        public var escalationRecipients: [String] = []
    }

    public var trial: Trial
    public var directories: Directories
    public var control: Control
    public var limits: Limits
    public var lactate: LactateRule { clinical.lactate }
    /// Thresholds of every clinical signal, and the freshness windows of values.
    public var clinical: ClinicalRules
    /// Subjects with confirmed hypercapnic respiratory failure (NEWS2 SpO2 scale 2).
    public var hypercapnicSubjects: Set<String>
    /// Reference limits for CTCAE grading when a result carries none (the site laboratory's intervals).
    public var referenceLimits: [String: ReferenceLimits]
    public var stopping: StoppingConfiguration
    /// Groups whose members may acknowledge alerts and resume the trial (root always may).
    public var authorisedGroups: [String]
    public var mail: Mail
    /// External codes (LOINC, SDTM test codes, local HL7 codes) → canonical codes.
    public var mapping: CodeMapping
    public var hl7: HL7Options
    /// The site's unit aliases and conversions (`units:`), beside the built-in spellings.
    public var units: UnitTable
    /// Causality, severity and disposition terms (`vocabularies:`): the built-in ones with the site's added.
    public var vocabularies: Vocabularies
    /// The MLLP listener, a second inbox for HL7 v2 over TCP; nil: none.
    public var mllp: MLLPSettings?
    /// The trial-wide tier (`central:`): replication to the central PostgreSQL and the trial state
    /// every site follows; nil: this site runs alone.
    public var central: CentralSettings?
    /// First 12 hex of the SHA-256 of the file, shown by `status` so people can tell which file is live.
    public var digest: String

    /// Parser settings derived from the trial section.
    public func ingestOptions() throws -> IngestOptions {
        try IngestOptions(subjectPattern: trial.subjectIDPattern, siteTimeZone: TimeZone(identifier: trial.siteTimeZone) ?? .gmt,
                          mapping: mapping, hl7: hl7, units: units, vocabularies: vocabularies)
    }
}

/// The trial-wide tier (`central:` of vigil.yaml, docs/ARCHITECTURE.md §6): where the central
/// PostgreSQL is, which site this is, and how to authenticate without an inline password.
public struct CentralSettings: Sendable, Equatable {
    /// A site replicates and follows the trial state; the central daemon also runs the pooled rules.
    public enum Role: String, Sendable {
        case site
        case central
    }

    /// libpq's sslmode names: `verify-full` checks the certificate chain and the host name.
    public enum TLSMode: String, Sendable {
        case disable
        case prefer
        case require
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var siteID: String
    public var role: Role = .site
    /// A file holding the password (first line), readable by the daemon only.
    public var passwordFile: String?
    /// A systemd credential (LoadCredential=): read from `$CREDENTIALS_DIRECTORY/NAME`.
    public var passwordCredential: String?
    public var tls: TLSMode = .verifyFull
    /// CA bundle for `verify-full` (and `require`, when given); default: the system's.
    public var caFile: String?
    /// How often a site replicates and reads the trial state, and the central daemon evaluates.
    public var pollSeconds: Double = 2
    /// Changes sent per PostgreSQL transaction.
    public var batchSize = 500

    public init(host: String, port: Int, user: String, database: String, siteID: String) {
        self.host = host
        self.port = port
        self.user = user
        self.database = database
        self.siteID = siteID
    }

    /// Reads the password from the file or credential named; nil when neither is set (trust or
    /// peer authentication). Throws when the one named cannot be read.
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        let path: String
        if let passwordFile {
            path = passwordFile
        } else if let passwordCredential {
            guard let directory = environment["CREDENTIALS_DIRECTORY"] else {
                throw CentralCredentialError(message: "central.password_credential \(passwordCredential): $CREDENTIALS_DIRECTORY is not set (LoadCredential= in vigil.service)")
            }
            path = "\(directory)/\(passwordCredential)"
        } else {
            return nil
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw CentralCredentialError(message: "cannot read the central password from \(path)")
        }
        return String(text.split(whereSeparator: \.isNewline).first ?? "")
    }
}

/// The central password could not be read.
public struct CentralCredentialError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { message }
}

/// The MLLP listener (`mllp:` of vigil.yaml): HL7 v2 messages over TCP, each stored durably in the
/// inbox before it is acknowledged.
public struct MLLPSettings: Sendable, Equatable {
    /// Address to listen on (an IPv4 or IPv6 literal, or a name resolved at start).
    public var host: String
    public var port: UInt16
    /// A frame longer than this is refused (AR) without being stored.
    public var maxMessageBytes: Int = 1024 * 1024
    /// A frame begun and not ended within this time closes the connection, unacknowledged; so does a
    /// connection idle this long.
    public var timeoutSeconds: Double = 30
    /// Connections served at once; beyond it a new one is closed at once.
    public var maxConnections: Int = 16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }
}

/// The trial's stopping rules: immediate-halt rules and toxicity monitoring.
public struct StoppingConfiguration: Sendable, Equatable {
    public var haltRules: [HaltRule] = HaltRule.defaults
    public var toxicity = ToxicityMonitoring()

    public init() {}
}

/// A laboratory reference interval in the canonical unit.
public struct ReferenceLimits: Sendable, Equatable {
    public var low: Double?
    public var high: Double?

    public init(low: Double?, high: Double?) {
        self.low = low
        self.high = high
    }
}

extension VigilConfiguration {
    /// The CTCAE grader with this site's default reference limits.
    public var ctcae: CTCAEGrading {
        CTCAEGrading(defaultLimits: referenceLimits.mapValues { (low: $0.low, high: $0.high) })
    }
}

/// A configuration mistake, located by key path and line so the operator can fix it at once.
public struct ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var keyPath: String
    public var line: Int?
    public var message: String

    public var description: String {
        let location = line.map { "\(file):\($0)" } ?? file
        return keyPath.isEmpty ? "\(location): \(message)" : "\(location): \(keyPath): \(message)"
    }
}

extension VigilConfiguration {
    /// Reads and validates the YAML file at `path`; relative directories are taken from `workingDirectory`.
    public static func load(path: String, workingDirectory: String = FileManager.default.currentDirectoryPath) throws(ConfigurationError) -> VigilConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError(file: path, keyPath: "", line: nil, message: "cannot read the configuration file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: path, keyPath: "", line: nil, message: "the file is not UTF-8 text")
        }
        return try parse(text, file: path, workingDirectory: workingDirectory, digest: String(Digest.sha256Hex(data).prefix(12)))
    }

    public static func parse(_ text: String, file: String, workingDirectory: String, digest: String = "") throws(ConfigurationError) -> VigilConfiguration {
        let root: Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigurationError(file: file, keyPath: "", line: nil, message: "the file is empty")
            }
            root = node
        } catch let error as ConfigurationError {
            throw error
        } catch let error as YamlError {
            throw ConfigurationError(file: file, keyPath: "", line: Self.line(of: error), message: "not valid YAML: \(Self.summary(of: error))")
        } catch {
            throw ConfigurationError(file: file, keyPath: "", line: nil, message: "not valid YAML: \(error)")
        }
        do {
            var reader = ConfigReader(file: file, workingDirectory: workingDirectory)
            return try reader.read(root, digest: digest)
        } catch let error as ConfigurationError {
            throw error
        } catch {
            throw ConfigurationError(file: file, keyPath: "", line: nil, message: "\(error)")
        }
    }

    static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        default: nil
        }
    }

    static func summary(of error: YamlError) -> String {
        switch error {
        case .scanner(let context, let problem, _, _), .parser(let context, let problem, _, _), .composer(let context, let problem, _, _):
            [context?.text, problem].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: ": ")
        default: "\(error)"
        }
    }
}

/// Walks the YAML tree, reading each known key with its type and range and refusing unknown keys
/// (a misspelt threshold must not silently fall back to a default).
struct ConfigReader {
    let file: String
    let workingDirectory: String

    func fail(_ path: String, _ node: Node?, _ message: String) -> ConfigurationError {
        ConfigurationError(file: file, keyPath: path, line: node?.mark?.line, message: message)
    }

    /// A mapping's entries; `allowed` nil accepts any key (tables keyed by code).
    func mapping(_ node: Node, _ path: String, allowed: Set<String>?, revealKeys: Bool = true) throws -> [String: Node] {
        guard let mapping = node.mapping else { throw fail(path, node, "expected a mapping of keys") }
        var out: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.string else { throw fail(path, key, "keys must be text") }
            let full = !revealKeys ? "\(path)[…]" : path.isEmpty ? name : "\(path).\(name)"
            if let allowed, !allowed.contains(name) {
                throw fail(full, key, "unknown key; expected one of: \(allowed.sorted().joined(separator: ", "))")
            }
            guard out[name] == nil else { throw fail(full, key, "key given twice") }
            out[name] = value
        }
        return out
    }

    func required(_ map: [String: Node], _ key: String, _ path: String, parent: Node) throws -> Node {
        guard let node = map[key] else { throw fail(path.isEmpty ? key : "\(path).\(key)", parent, "missing required key") }
        return node
    }

    func string(_ node: Node, _ path: String) throws -> String {
        guard let scalar = node.scalar, !scalar.string.isEmpty else { throw fail(path, node, "expected a non-empty text") }
        return scalar.string
    }

    func number(_ node: Node, _ path: String, in range: ClosedRange<Double>) throws -> Double {
        guard let scalar = node.scalar, let value = Double(scalar.string) else { throw fail(path, node, "expected a number") }
        guard range.contains(value) else {
            throw fail(path, node, "\(scalar.string) is out of range \(ObservationValue.format(range.lowerBound))…\(ObservationValue.format(range.upperBound))")
        }
        return value
    }

    func list(_ node: Node, _ path: String) throws -> [String] {
        guard let sequence = node.sequence else { throw fail(path, node, "expected a list") }
        return try sequence.enumerated().map { index, item in try string(item, "\(path)[\(index)]") }
    }

    func directory(_ node: Node, _ path: String) throws -> String {
        let value = try string(node, path)
        let url = value.hasPrefix("/") ? URL(fileURLWithPath: value) : URL(fileURLWithPath: workingDirectory).appendingPathComponent(value)
        return url.standardizedFileURL.path
    }

    mutating func read(_ root: Node, digest: String) throws -> VigilConfiguration {
        let top = try mapping(root, "", allowed: ["trial", "directories", "control", "limits", "rules", "clinical", "stopping", "mail", "mapping", "hl7", "units", "vocabularies", "mllp", "central"])

        let trialNode = try required(top, "trial", "", parent: root)
        let trialMap = try mapping(trialNode, "trial", allowed: ["id", "registry", "subject_id_pattern", "site_time_zone", "enrolment_target"])
        let pattern = try string(try required(trialMap, "subject_id_pattern", "trial", parent: trialNode), "trial.subject_id_pattern")
        if (try? Regex(pattern)) == nil {
            throw fail("trial.subject_id_pattern", trialMap["subject_id_pattern"], "not a valid regular expression")
        }
        let zone = try trialMap["site_time_zone"].map { try string($0, "trial.site_time_zone") } ?? "Europe/Paris"
        if TimeZone(identifier: zone) == nil {
            throw fail("trial.site_time_zone", trialMap["site_time_zone"], "unknown time zone '\(zone)'; expected an IANA name such as Europe/Paris")
        }
        let trial = VigilConfiguration.Trial(
            id: try string(try required(trialMap, "id", "trial", parent: trialNode), "trial.id"),
            registry: try trialMap["registry"].map { try string($0, "trial.registry") } ?? "",
            subjectIDPattern: pattern, siteTimeZone: zone)

        let dirNode = try required(top, "directories", "", parent: root)
        let dirMap = try mapping(dirNode, "directories", allowed: ["inbox", "archive", "rejected", "outbox", "state"])
        func dir(_ key: String) throws -> String {
            try directory(try required(dirMap, key, "directories", parent: dirNode), "directories.\(key)")
        }
        let directories = VigilConfiguration.Directories(
            inbox: try dir("inbox"), archive: try dir("archive"), rejected: try dir("rejected"), outbox: try dir("outbox"), state: try dir("state"))

        var control = VigilConfiguration.Control(socket: "/run/vigil/control.sock", mode: 0o660, group: "vigil-oncall")
        var authorisedGroups = ["vigil-oncall"]
        if let node = top["control"] {
            let map = try mapping(node, "control", allowed: ["socket", "mode", "group", "authorised_groups"])
            if let n = map["authorised_groups"] { authorisedGroups = try list(n, "control.authorised_groups") }
            if let socket = map["socket"] { control.socket = try directory(socket, "control.socket") }
            if let modeNode = map["mode"] {
                let text = try string(modeNode, "control.mode")
                guard let mode = UInt16(text, radix: 8), mode <= 0o777 else {
                    throw fail("control.mode", modeNode, "expected an octal file mode such as \"0660\"")
                }
                control.mode = mode
            }
            if let group = map["group"] { control.group = try string(group, "control.group") }
        }

        var limits = VigilConfiguration.Limits(maxFileBytes: 16 * 1024 * 1024, rescanIntervalSeconds: 60)
        if let node = top["limits"] {
            let map = try mapping(node, "limits", allowed: ["max_file_bytes", "rescan_interval_seconds", "settle_seconds"])
            if let n = map["settle_seconds"] { limits.settleSeconds = try number(n, "limits.settle_seconds", in: 0...3600) }
            if let n = map["max_file_bytes"] { limits.maxFileBytes = Int(try number(n, "limits.max_file_bytes", in: 1...1_073_741_824)) }
            if let n = map["rescan_interval_seconds"] { limits.rescanIntervalSeconds = try number(n, "limits.rescan_interval_seconds", in: 1...3600) }
        }

        var clinical = ClinicalRules()
        if let node = top["rules"] { try readRules(node, into: &clinical) }
        var hypercapnic: Set<String> = []
        var referenceLimits = CTCAEGrading.defaultReferenceLimits.mapValues { ReferenceLimits(low: $0.low, high: $0.high) }
        if let node = top["clinical"] {
            let map = try mapping(node, "clinical", allowed: ["freshness_hours", "hypercapnic_subjects", "reference_limits"])
            if let limitsNode = map["reference_limits"] {
                for (code, entry) in try mapping(limitsNode, "clinical.reference_limits", allowed: Set(ClinicalSignals.gradedCodes)) {
                    let path = "clinical.reference_limits.\(code)"
                    let bounds = try mapping(entry, path, allowed: ["low", "high"])
                    let low = try bounds["low"].flatMap { $0.null != nil ? nil : try number($0, "\(path).low", in: 0...100_000) }
                    let high = try bounds["high"].flatMap { $0.null != nil ? nil : try number($0, "\(path).high", in: 0...100_000) }
                    if let low, let high, low >= high { throw fail("\(path).high", bounds["high"], "must be above low") }
                    referenceLimits[code] = ReferenceLimits(low: low, high: high)
                }
            }
            if let freshness = map["freshness_hours"] {
                let f = try mapping(freshness, "clinical.freshness_hours", allowed: ["vitals", "blood_gas", "labs"])
                if let n = f["vitals"] { clinical.freshness.vitals = try number(n, "clinical.freshness_hours.vitals", in: 0.25...72) * 3600 }
                if let n = f["blood_gas"] { clinical.freshness.bloodGas = try number(n, "clinical.freshness_hours.blood_gas", in: 0.25...72) * 3600 }
                if let n = f["labs"] { clinical.freshness.labs = try number(n, "clinical.freshness_hours.labs", in: 1...168) * 3600 }
            }
            if let n = map["hypercapnic_subjects"] { hypercapnic = Set(try list(n, "clinical.hypercapnic_subjects")) }
        }

        let mailNode = try required(top, "mail", "", parent: root)
        let mailMap = try mapping(mailNode, "mail", allowed: ["from", "host_name", "recipients", "sendmail", "repeat_interval_minutes", "escalation"])
        let from = try string(try required(mailMap, "from", "mail", parent: mailNode), "mail.from")
        guard Self.isAddress(from) else { throw fail("mail.from", mailMap["from"], "'\(from)' is not a mail address") }
        let recipientsNode = try required(mailMap, "recipients", "mail", parent: mailNode)
        let recipientsMap = try mapping(recipientsNode, "mail.recipients", allowed: Set(Severity.allCases.map(\.rawValue)))
        var recipients: [Severity: [String]] = [:]
        for (key, node) in recipientsMap {
            let severity = Severity(rawValue: key)!
            let addresses = try list(node, "mail.recipients.\(key)")
            for (index, address) in addresses.enumerated() where !Self.isAddress(address) {
                throw fail("mail.recipients.\(key)[\(index)]", node.sequence?[index], "'\(address)' is not a mail address")
            }
            recipients[severity] = addresses
        }
        for severity in [Severity.halt, .critical] where (recipients[severity] ?? []).isEmpty {
            throw fail("mail.recipients.\(severity.rawValue)", recipientsNode, "at least one recipient is required: \(severity.rawValue) alerts must reach someone")
        }
        let hostName = try mailMap["host_name"].map { try string($0, "mail.host_name") } ?? ProcessInfo.processInfo.hostName
        var sendmail = ["/usr/sbin/sendmail", "-t", "-oi"]
        if let n = mailMap["sendmail"] {
            sendmail = try string(n, "mail.sendmail").split(separator: " ").map(String.init)
            guard sendmail.first?.hasPrefix("/") == true else { throw fail("mail.sendmail", n, "expected an absolute command path, e.g. /usr/sbin/sendmail -t -oi") }
        }
        var mail = VigilConfiguration.Mail(from: from, hostName: hostName, recipients: recipients, sendmail: sendmail)
        if let n = mailMap["repeat_interval_minutes"] { mail.repeatInterval = try number(n, "mail.repeat_interval_minutes", in: 0...10_080) * 60 }
        mail.escalationRecipients = recipients[.halt] ?? []
        if let node = mailMap["escalation"] {
            let e = try mapping(node, "mail.escalation", allowed: ["after_minutes", "recipients"])
            if let n = e["after_minutes"] { mail.escalateAfter = try number(n, "mail.escalation.after_minutes", in: 0.05...10_080) * 60 }
            if let n = e["recipients"] {
                let list = try list(n, "mail.escalation.recipients")
                for (index, address) in list.enumerated() where !Self.isAddress(address) {
                    throw fail("mail.escalation.recipients[\(index)]", n.sequence?[index], "'\(address)' is not a mail address")
                }
                guard !list.isEmpty else { throw fail("mail.escalation.recipients", n, "at least one recipient is required") }
                mail.escalationRecipients = list
            }
        }

        var stopping = StoppingConfiguration()
        if let n = trialMap["enrolment_target"] { stopping.toxicity.enrolmentTarget = Int(try number(n, "trial.enrolment_target", in: 1...10_000)) }
        if let node = top["stopping"] { try readStopping(node, into: &stopping) }
        let codeMapping = try top["mapping"].map { try readMapping($0) } ?? CodeMapping()
        var hl7 = HL7Options()
        if let node = top["hl7"] {
            let map = try mapping(node, "hl7", allowed: ["subject_authority", "subject_map", "accept_preliminary", "icu_location_pattern", "strict"])
            if let n = map["strict"] { hl7.strict = try bool(n, "hl7.strict") }
            if let n = map["subject_authority"] { hl7.subjectAuthority = try string(n, "hl7.subject_authority") }
            if let n = map["subject_map"] {
                // Keys are hospital identifiers: errors give the line, never the key itself.
                let subjectRegex = try Regex(pattern)
                for (key, value) in try mapping(n, "hl7.subject_map", allowed: nil, revealKeys: false) {
                    let subject = try string(value, "hl7.subject_map[…]")
                    guard (try? subjectRegex.wholeMatch(in: subject)) != nil else {
                        throw fail("hl7.subject_map[…]", value, "the value does not match trial.subject_id_pattern")
                    }
                    hl7.subjectMap[key] = subject
                }
            }
            if let n = map["accept_preliminary"] { hl7.acceptPreliminary = try bool(n, "hl7.accept_preliminary") }
            if let n = map["icu_location_pattern"] {
                hl7.icuLocationPattern = try string(n, "hl7.icu_location_pattern")
                if (try? Regex(hl7.icuLocationPattern)) == nil { throw fail("hl7.icu_location_pattern", n, "not a valid regular expression") }
            }
        }

        let units = try top["units"].map { try readUnits($0) } ?? .standard
        let vocabularies = try top["vocabularies"].map { try readVocabularies($0) } ?? .standard

        return VigilConfiguration(
            trial: trial, directories: directories, control: control, limits: limits, clinical: clinical,
            hypercapnicSubjects: hypercapnic, referenceLimits: referenceLimits, stopping: stopping, authorisedGroups: authorisedGroups, mail: mail,
            mapping: codeMapping, hl7: hl7, units: units, vocabularies: vocabularies, mllp: try top["mllp"].map { try readMLLP($0) },
            central: try top["central"].map { try readCentral($0) }, digest: digest)
    }

    /// `central: {url, site_id, role, password_file | password_credential, tls, ca_file, poll_seconds}`.
    /// The password is never inline: a URL with one is an error, so it cannot end up in a backup of
    /// the configuration or in `vigilctl status`.
    func readCentral(_ node: Node) throws -> CentralSettings {
        let map = try mapping(node, "central", allowed: ["url", "site_id", "role", "password_file", "password_credential", "tls", "ca_file", "poll_seconds", "batch_size"])
        let urlNode = try required(map, "url", "central", parent: node)
        let text = try string(urlNode, "central.url")
        guard let url = URLComponents(string: text), ["postgres", "postgresql"].contains(url.scheme ?? ""), let host = url.host, !host.isEmpty,
              let user = url.user, !user.isEmpty else {
            throw fail("central.url", urlNode, "expected postgres://USER@HOST[:PORT]/DATABASE")
        }
        guard url.password == nil else {
            throw fail("central.url", urlNode, "a password in the URL is refused: give it in password_file or password_credential")
        }
        let database = url.path.hasPrefix("/") ? String(url.path.dropFirst()) : url.path
        let siteNode = try required(map, "site_id", "central", parent: node)
        let site = try string(siteNode, "central.site_id")
        guard site.wholeMatch(of: /[A-Za-z0-9_-]{1,32}/) != nil else { throw fail("central.site_id", siteNode, "1 to 32 letters, digits, '-' or '_'") }
        var settings = CentralSettings(host: host, port: url.port ?? 5432, user: user, database: database.isEmpty ? user : database, siteID: site)
        if let n = map["role"] {
            let role = try string(n, "central.role")
            guard let value = CentralSettings.Role(rawValue: role) else { throw fail("central.role", n, "expected site or central") }
            settings.role = value
        }
        if let n = map["password_file"] { settings.passwordFile = try string(n, "central.password_file") }
        if let n = map["password_credential"] {
            let name = try string(n, "central.password_credential")
            guard settings.passwordFile == nil else { throw fail("central.password_credential", n, "give password_file or password_credential, not both") }
            settings.passwordCredential = name
        }
        if let n = map["tls"] {
            let mode = try string(n, "central.tls")
            guard let value = CentralSettings.TLSMode(rawValue: mode) else { throw fail("central.tls", n, "expected disable, prefer, require or verify-full") }
            settings.tls = value
        }
        if let n = map["ca_file"] { settings.caFile = try string(n, "central.ca_file") }
        if let n = map["poll_seconds"] { settings.pollSeconds = try number(n, "central.poll_seconds", in: 0.2...300) }
        if let n = map["batch_size"] { settings.batchSize = Int(try number(n, "central.batch_size", in: 1...10_000)) }
        return settings
    }

    /// `mllp: {listen: HOST:PORT, max_message_bytes, timeout_seconds, max_connections}`.
    func readMLLP(_ node: Node) throws -> MLLPSettings {
        let map = try mapping(node, "mllp", allowed: ["listen", "max_message_bytes", "timeout_seconds", "max_connections"])
        let listenNode = try required(map, "listen", "mllp", parent: node)
        let listen = try string(listenNode, "mllp.listen")
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]), port > 0 else {
            throw fail("mllp.listen", listenNode, "expected HOST:PORT, e.g. 127.0.0.1:2575")
        }
        var host = String(listen[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        var settings = MLLPSettings(host: host.isEmpty ? "0.0.0.0" : host, port: port)
        if let n = map["max_message_bytes"] { settings.maxMessageBytes = Int(try number(n, "mllp.max_message_bytes", in: 1024...(64 * 1024 * 1024))) }
        if let n = map["timeout_seconds"] { settings.timeoutSeconds = try number(n, "mllp.timeout_seconds", in: 1...3600) }
        if let n = map["max_connections"] { settings.maxConnections = Int(try number(n, "mllp.max_connections", in: 1...1024)) }
        return settings
    }

    /// `units: {aliases: {SPELLING: known spelling}, conversions: {code: {UNIT: factor}}}`. An alias must
    /// name a spelling the built-in table accepts for some code, and a conversion a numeric code, so
    /// a typo fails at start.
    func readUnits(_ node: Node) throws -> UnitTable {
        let map = try mapping(node, "units", allowed: ["aliases", "conversions"])
        var aliases: [String: String] = [:]
        if let n = map["aliases"] {
            let known = Set(CanonicalCodes.all.values.flatMap { definition -> [String] in
                var spellings = Array(definition.units.keys)
                if case .numeric(let unit) = definition.kind { spellings.append(unit) }
                return spellings.map { $0.lowercased() }
            })
            for (spelling, target) in try mapping(n, "units.aliases", allowed: nil) {
                let path = "units.aliases.\(spelling)"
                let unit = try string(target, path)
                guard known.contains(unit.lowercased()) else {
                    throw fail(path, target, "'\(unit)' is not a unit spelling Vigil knows for any code (see vigil.yaml(5), units)")
                }
                aliases[spelling] = unit
            }
        }
        var conversions: [String: [String: Double]] = [:]
        if let n = map["conversions"] {
            for (code, table) in try mapping(n, "units.conversions", allowed: nil) {
                guard let definition = CanonicalCodes.all[code], case .numeric = definition.kind else {
                    throw fail("units.conversions.\(code)", table, "'\(code)' is not a numeric canonical code")
                }
                for (unit, factor) in try mapping(table, "units.conversions.\(code)", allowed: nil) {
                    conversions[code, default: [:]][unit] = try number(factor, "units.conversions.\(code).\(unit)", in: 1e-12...1e12)
                }
            }
        }
        return UnitTable(aliases: aliases, conversions: conversions)
    }

    /// `vocabularies: {causality: {TERM: value}, severity_grade: {TERM: 1-5}, disposition: {TERM: kind},
    /// disposition_category: {DSCAT: kind}}`: entries added over the built-in ones (`Vocabularies.standard`).
    func readVocabularies(_ node: Node) throws -> Vocabularies {
        let map = try mapping(node, "vocabularies", allowed: ["causality", "severity_grade", "disposition", "disposition_category"])
        func table(_ key: String, allowed values: [String]) throws -> [String: String] {
            guard let n = map[key] else { return [:] }
            var out: [String: String] = [:]
            for (term, target) in try mapping(n, "vocabularies.\(key)", allowed: nil) {
                let value = try string(target, "vocabularies.\(key).\(term)")
                guard values.contains(value) else {
                    throw fail("vocabularies.\(key).\(term)", target, "'\(value)' is not one of: \(values.joined(separator: ", "))")
                }
                out[term] = value
            }
            return out
        }
        var grades: [String: Int] = [:]
        if let n = map["severity_grade"] {
            for (term, target) in try mapping(n, "vocabularies.severity_grade", allowed: nil) {
                grades[term] = Int(try number(target, "vocabularies.severity_grade.\(term)", in: 1...5))
            }
        }
        let site = Vocabularies(causality: try table("causality", allowed: Vocabularies.causalityValues), severityGrade: grades,
                                disposition: try table("disposition", allowed: Vocabularies.dispositionValues),
                                dispositionCategory: try table("disposition_category", allowed: Vocabularies.dispositionValues))
        return Vocabularies.standard.merging(site)
    }

    /// `rules:` — one mapping per signal; every key optional, defaults in `ClinicalRules`.
    func readRules(_ node: Node, into c: inout ClinicalRules) throws {
        let rules = try mapping(node, "rules", allowed: ["hold_down_minutes", "lactate", "news2", "qsofa", "sirs", "sofa", "infection", "septic_shock", "scorten", "bsa_detached", "spo2_on_oxygen"])
        func section(_ key: String, _ allowed: Set<String>) throws -> [String: Node] {
            try rules[key].map { try mapping($0, "rules.\(key)", allowed: allowed) } ?? [:]
        }
        func int(_ map: [String: Node], _ key: String, _ path: String, _ range: ClosedRange<Double>) throws -> Int? {
            try map[key].map { Int(try number($0, "\(path).\(key)", in: range)) }
        }
        if let n = rules["hold_down_minutes"] { c.holdDown = try number(n, "rules.hold_down_minutes", in: 0...10_080) * 60 }
        let lactate = try section("lactate", ["warning_mmol_per_l", "critical_mmol_per_l"])
        if let n = lactate["warning_mmol_per_l"] { c.lactate.warningAtOrAbove = try number(n, "rules.lactate.warning_mmol_per_l", in: 0.1...30) }
        if let n = lactate["critical_mmol_per_l"] { c.lactate.criticalAtOrAbove = try number(n, "rules.lactate.critical_mmol_per_l", in: 0.1...30) }
        if c.lactate.criticalAtOrAbove <= c.lactate.warningAtOrAbove {
            throw fail("rules.lactate.critical_mmol_per_l", lactate["critical_mmol_per_l"] ?? rules["lactate"], "must be above warning_mmol_per_l")
        }
        let news2 = try section("news2", ["warning_at", "critical_at"])
        c.news2Warning = try int(news2, "warning_at", "rules.news2", 1...20) ?? c.news2Warning
        c.news2Critical = try int(news2, "critical_at", "rules.news2", 1...20) ?? c.news2Critical
        if c.news2Critical <= c.news2Warning { throw fail("rules.news2.critical_at", news2["critical_at"] ?? rules["news2"], "must be above warning_at") }
        c.qsofaWarning = try int(try section("qsofa", ["warning_at"]), "warning_at", "rules.qsofa", 1...3) ?? c.qsofaWarning
        c.sirsInfo = try int(try section("sirs", ["info_at"]), "info_at", "rules.sirs", 1...4) ?? c.sirsInfo
        c.sofaRise = try int(try section("sofa", ["rise_at"]), "rise_at", "rules.sofa", 1...24) ?? c.sofaRise
        let infection = try section("infection", ["procalcitonin_above_ug_per_l", "crp_above_mg_per_l", "adverse_event_term_pattern"])
        if let n = infection["procalcitonin_above_ug_per_l"] {
            c.procalcitoninAbove = n.null != nil ? nil : try number(n, "rules.infection.procalcitonin_above_ug_per_l", in: 0.01...100)
        }
        if let n = infection["crp_above_mg_per_l"] {
            c.crpAbove = n.null != nil ? nil : try number(n, "rules.infection.crp_above_mg_per_l", in: 1...1000)
        }
        if let n = infection["adverse_event_term_pattern"] {
            c.infectionTermPattern = try string(n, "rules.infection.adverse_event_term_pattern")
            if (try? Regex(c.infectionTermPattern)) == nil { throw fail("rules.infection.adverse_event_term_pattern", n, "not a valid regular expression") }
        }
        let shock = try section("septic_shock", ["map_below_mmhg", "lactate_above_mmol_per_l"])
        if let n = shock["map_below_mmhg"] { c.septicShockMAPBelow = try number(n, "rules.septic_shock.map_below_mmhg", in: 30...120) }
        if let n = shock["lactate_above_mmol_per_l"] { c.septicShockLactateAbove = try number(n, "rules.septic_shock.lactate_above_mmol_per_l", in: 0.1...30) }
        c.scortenCritical = try int(try section("scorten", ["critical_at"]), "critical_at", "rules.scorten", 1...7) ?? c.scortenCritical
        if let n = try section("bsa_detached", ["critical_percent"])["critical_percent"] { c.bsaCritical = try number(n, "rules.bsa_detached.critical_percent", in: 1...100) }
        if let n = try section("spo2_on_oxygen", ["below_percent"])["below_percent"] { c.spo2OnOxygenBelow = try number(n, "rules.spo2_on_oxygen.below_percent", in: 50...100) }
    }

    /// `stopping:` — immediate-halt rules (replacing the defaults when given) and toxicity monitoring.
    func readStopping(_ node: Node, into s: inout StoppingConfiguration) throws {
        let map = try mapping(node, "stopping", allowed: ["halt_rules", "toxicity"])
        if let rulesNode = map["halt_rules"] {
            guard let sequence = rulesNode.sequence else { throw fail("stopping.halt_rules", rulesNode, "expected a list of rules") }
            s.haltRules = try sequence.enumerated().map { index, item in
                let path = "stopping.halt_rules[\(index)]"
                let r = try mapping(item, path, allowed: ["id", "description", "terms", "term_pattern", "minimum_grade", "related_at_least", "window_hours", "fatal", "susar"])
                let related = try r["related_at_least"].map { try string($0, "\(path).related_at_least") }
                if let related, !Relatedness.order.contains(related) {
                    throw fail("\(path).related_at_least", r["related_at_least"], "expected one of \(Relatedness.order.joined(separator: ", "))")
                }
                let pattern = try r["term_pattern"].map { try string($0, "\(path).term_pattern") }
                if let pattern, (try? Regex(pattern)) == nil { throw fail("\(path).term_pattern", r["term_pattern"], "not a valid regular expression") }
                return HaltRule(
                    id: try string(try required(r, "id", path, parent: item), "\(path).id"),
                    description: try r["description"].map { try string($0, "\(path).description") } ?? "",
                    terms: try r["terms"].map { try list($0, "\(path).terms") } ?? [], termPattern: pattern,
                    minimumGrade: try r["minimum_grade"].map { Int(try number($0, "\(path).minimum_grade", in: 1...5)) },
                    relatedAtLeast: related, windowHours: try r["window_hours"].map { try number($0, "\(path).window_hours", in: 1...100_000) },
                    requiresFatal: try r["fatal"].map { try bool($0, "\(path).fatal") } ?? false,
                    requiresSUSAR: try r["susar"].map { try bool($0, "\(path).susar") } ?? false)
            }
        }
        if let toxicityNode = map["toxicity"] {
            let t = try mapping(toxicityNode, "stopping.toxicity", allowed: ["minimum_grade", "related_at_least", "window_days", "prior_a", "prior_b",
                                                                             "max_toxicity_rate", "posterior_threshold", "minimum_evaluable", "count_rules"])
            let path = "stopping.toxicity"
            if let n = t["minimum_grade"] { s.toxicity.minimumGrade = Int(try number(n, "\(path).minimum_grade", in: 1...5)) }
            if let n = t["related_at_least"] {
                let value = try string(n, "\(path).related_at_least")
                guard Relatedness.order.contains(value) else { throw fail("\(path).related_at_least", n, "expected one of \(Relatedness.order.joined(separator: ", "))") }
                s.toxicity.relatedAtLeast = value
            }
            if let n = t["window_days"] { s.toxicity.windowDays = try number(n, "\(path).window_days", in: 1...365) }
            if let n = t["prior_a"] { s.toxicity.bayesian.priorA = try number(n, "\(path).prior_a", in: 0.001...1000) }
            if let n = t["prior_b"] { s.toxicity.bayesian.priorB = try number(n, "\(path).prior_b", in: 0.001...1000) }
            if let n = t["max_toxicity_rate"] { s.toxicity.bayesian.maxToxicityRate = try number(n, "\(path).max_toxicity_rate", in: 0.001...0.999) }
            if let n = t["posterior_threshold"] { s.toxicity.bayesian.threshold = try number(n, "\(path).posterior_threshold", in: 0.5...0.9999) }
            if let n = t["minimum_evaluable"] { s.toxicity.bayesian.minimumEvaluable = Int(try number(n, "\(path).minimum_evaluable", in: 1...1000)) }
            if let n = t["count_rules"] {
                guard let sequence = n.sequence else { throw fail("\(path).count_rules", n, "expected a list of {toxicities, among_first}") }
                s.toxicity.countRules = try sequence.enumerated().map { index, item in
                    let r = try mapping(item, "\(path).count_rules[\(index)]", allowed: ["toxicities", "among_first"])
                    let k = Int(try number(try required(r, "toxicities", "\(path).count_rules[\(index)]", parent: item), "\(path).count_rules[\(index)].toxicities", in: 1...1000))
                    let m = Int(try number(try required(r, "among_first", "\(path).count_rules[\(index)]", parent: item), "\(path).count_rules[\(index)].among_first", in: 1...10_000))
                    return ToxicityMonitoring.CountRule(toxicities: k, amongFirst: m)
                }
            }
        }
    }

    func bool(_ node: Node, _ path: String) throws -> Bool {
        switch node.scalar?.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw fail(path, node, "expected true or false")
        }
    }

    /// `mapping: {loinc: {CODE: canonical}, sdtm: {...}, local: {...}, ignore: {loinc: [..], sdtm: [..], local: [..]}}`.
    /// Every target must be a canonical code Vigil knows, so a typo fails at start, not at 3 a.m.
    func readMapping(_ node: Node) throws -> CodeMapping {
        let map = try mapping(node, "mapping", allowed: ["loinc", "sdtm", "local", "ignore"])
        var result = CodeMapping()
        for system in [CodeMapping.System.loinc, .sdtm, .local] {
            guard let tableNode = map[system.rawValue] else { continue }
            var table: [String: String] = [:]
            for (code, target) in try mapping(tableNode, "mapping.\(system.rawValue)", allowed: nil) {
                let path = "mapping.\(system.rawValue).\(code)"
                let canonical = try string(target, path)
                guard CanonicalCodes.all[canonical] != nil else {
                    throw fail(path, target, "'\(canonical)' is not a canonical observation code; expected one of: \(CanonicalCodes.all.keys.sorted().joined(separator: ", "))")
                }
                if system == .loinc, code.wholeMatch(of: /[0-9]{1,7}-[0-9]/) == nil {
                    throw fail(path, target, "'\(code)' is not a LOINC code (digits, a hyphen, a check digit)")
                }
                table[system == .loinc ? code : code.uppercased()] = canonical
            }
            result.tables[system] = table
        }
        if let ignoreNode = map["ignore"] {
            let ignore = try mapping(ignoreNode, "mapping.ignore", allowed: ["loinc", "sdtm", "local"])
            for (key, list) in ignore {
                let system = CodeMapping.System(rawValue: key)!
                result.ignored[system] = Set(try self.list(list, "mapping.ignore.\(key)").map { system == .loinc ? $0 : $0.uppercased() })
            }
        }
        return result
    }

    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(where: { $0.isWhitespace || $0 == "<" || $0 == ">" || $0 == "," })
    }
}
