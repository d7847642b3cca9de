import Foundation

/// Hands each message in `outbox/new` to a sendmail-compatible command (default
/// `/usr/sbin/sendmail -t -oi`), moves it to `outbox/sent` when the command succeeds, and leaves it
/// with an exponential back-off (30 s doubling to 1 h) when it fails. The back-off state lives in
/// `outbox/relay-state.json` so `vigilctl status` can report failing mail.
public struct MailRelay: Sendable {
    /// Per-message delivery attempts.
    public struct Attempt: Codable, Sendable, Equatable {
        public var attempts: Int
        public var nextAttempt: Date
        public var lastError: String
    }

    /// What one pass did.
    public struct Pass: Sendable, Equatable {
        public var sent: [String] = []
        public var failed: [String: String] = [:]
        public var deferred: [String] = []
    }

    public let outbox: Outbox
    public let command: [String]
    public var timeoutSeconds: Double = 60

    public init(outbox: Outbox, command: [String]) {
        self.outbox = outbox
        self.command = command
    }

    var statePath: String { "\(outbox.root)/relay-state.json" }

    public static func loadState(outbox: Outbox) -> [String: Attempt] {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        guard let data = FileManager.default.contents(atPath: "\(outbox.root)/relay-state.json") else { return [:] }
        return (try? decoder.decode([String: Attempt].self, from: data)) ?? [:]
    }

    func save(_ state: [String: Attempt]) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try DurableFile.replace(try encoder.encode(state), at: statePath)
    }

    /// One pass over `new/`, oldest first; messages still backing off are skipped.
    public func runOnce(now: Date = Date()) throws -> Pass {
        var state = Self.loadState(outbox: outbox)
        var pass = Pass()
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: outbox.new)) ?? []).filter { $0.hasSuffix(".eml") }.sorted()
        for name in names {
            if let attempt = state[name], attempt.nextAttempt > now {
                pass.deferred.append(name)
                continue
            }
            let path = "\(outbox.new)/\(name)"
            guard let message = FileManager.default.contents(atPath: path) else { continue }
            switch deliver(message) {
            case .success:
                try DurableFile.rename(path, to: "\(outbox.sent)/\(name)")
                state[name] = nil
                pass.sent.append(name)
            case .failure(let reason):
                let attempts = (state[name]?.attempts ?? 0) + 1
                let delay = min(30 * pow(2, Double(attempts - 1)), 3600)
                state[name] = Attempt(attempts: attempts, nextAttempt: now.addingTimeInterval(delay), lastError: reason)
                pass.failed[name] = reason
            }
        }
        // Forget state of messages no longer waiting (sent by another pass, or removed by hand).
        state = state.filter { names.contains($0.key) }
        try save(state)
        return pass
    }

    enum Outcome {
        case success
        case failure(String)
    }

    func deliver(_ message: Data) -> Outcome {
        guard let executable = command.first else { return .failure("no sendmail command configured") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(command.dropFirst())
        let input = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = errors
        process.standardError = errors
        do {
            try process.run()
        } catch {
            return .failure("cannot run \(executable): \(error.localizedDescription)")
        }
        input.fileHandleForWriting.write(message)
        try? input.fileHandleForWriting.close()
        let deadline = Date().addingTimeInterval(timeoutSeconds)
        while process.isRunning, Date() < deadline { usleep(10_000) }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            return .failure("\(executable) did not finish within \(Int(timeoutSeconds)) s")
        }
        let output = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        guard process.terminationStatus == 0 else {
            return .failure("\(executable) exited with status \(process.terminationStatus)" + (output.isEmpty ? "" : ": \(output.suffix(300))"))
        }
        return .success
    }
}
