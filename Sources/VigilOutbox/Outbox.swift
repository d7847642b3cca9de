import Foundation
import Glibc

/// The Maildir-style outbox of docs/ARCHITECTURE.md §3.1: a message is written to `tmp/`, fsynced and renamed
/// into `new/ALERT_ID.eml`, so the relay never sees half a message and a replay never writes two.
public struct Outbox: Sendable {
    public let root: String
    public var tmp: String { root + "/tmp" }
    public var new: String { root + "/new" }
    public var sent: String { root + "/sent" }

    public init(root: String) {
        self.root = root
    }

    public func createDirectories() throws {
        for path in [root, tmp, new, sent] {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }

    /// Whether the message for `alertID` is already in `new/` or `sent/`.
    public func contains(alertID: String) -> Bool {
        let name = "\(alertID).eml"
        return FileManager.default.fileExists(atPath: "\(new)/\(name)") || FileManager.default.fileExists(atPath: "\(sent)/\(name)")
    }

    /// Writes the message durably; a message already present is left as it is (returns false).
    @discardableResult
    public func deliver(alertID: String, message: String) throws -> Bool {
        if contains(alertID: alertID) { return false }
        let temporary = "\(tmp)/\(alertID).eml"
        try DurableFile.write(Data(message.utf8), to: temporary)
        try DurableFile.rename(temporary, to: "\(new)/\(alertID).eml")
        return true
    }

    /// Messages waiting in `new/` and the age of the oldest, for `status`.
    public func backlog(now: Date) -> (count: Int, oldestAgeSeconds: Double?) {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: new))?.filter { $0.hasSuffix(".eml") } ?? []
        let oldest = names.compactMap { name in
            (try? FileManager.default.attributesOfItem(atPath: "\(new)/\(name)")[.modificationDate]) as? Date
        }.min()
        return (names.count, oldest.map { now.timeIntervalSince($0) })
    }
}
