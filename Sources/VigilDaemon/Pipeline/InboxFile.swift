import Foundation
import Glibc
import VigilConfig
import VigilControl
import VigilCore
import VigilIngest
import VigilStore

/// An inbox file as the read stage leaves it: its bytes, their digest, and the inode and stamp the
/// file had throughout the read. The ledger is asked about the digest before anything is parsed,
/// so a file processed before (a crash's leftover, a re-dropped copy) is never parsed again.
struct RawFile {
    let name: String
    let path: String
    let inode: UInt64
    let stamp: FileStamp
    let data: Data
    let sha: String
}

/// An inbox file read and parsed (docs/ARCHITECTURE.md §1, a file's trip): the one type that passes
/// from the parse stage to apply, deliver and file. The read-ahead makes it off the writing thread;
/// the writing thread makes it when nothing was read ahead; `vigil-bench` makes it of content that
/// never was in an inbox. Everything after parsing reads it, nothing changes it but `receivedAt`.
public struct InboxFile: Sendable {
    public let name: String
    /// The path in the inbox; empty for content that was never in one.
    let path: String
    /// The inode and stamp of the file the content was read from: a file whose stamp moved after the
    /// read is read again, never half applied.
    let inode: UInt64
    let stamp: FileStamp
    let sha: String
    let parsed: ParseResult
    /// The stored form of each parsed record, in order (nil if one could not be made: apply then
    /// makes them itself and reports the error).
    let payloads: [StoredPayload]?
    /// The configuration it was parsed under; a read-ahead made under another is not used.
    let configuration: VigilConfiguration
    /// What reading, hashing, parsing and making the payloads took (set by the read stage, which
    /// times all of it).
    var readCost = PipelineCost.Stage()
    /// When the writing thread took the file: the time its records and ledger entry carry.
    var receivedAt: Date

    public var records: Int { parsed.records.count }

    init(raw: RawFile, parsed: ParseResult, payloads: [StoredPayload]?, configuration: VigilConfiguration, receivedAt: Date) {
        name = raw.name
        path = raw.path
        inode = raw.inode
        stamp = raw.stamp
        sha = raw.sha
        self.parsed = parsed
        self.payloads = payloads
        self.configuration = configuration
        self.receivedAt = receivedAt
    }

    /// Content from outside the inbox, parsed as an inbox file of that name would be (the parse
    /// stage), for `vigil-bench` to apply through `FileProcessor.apply(_:)`.
    public init(name: String, data: Data, configuration: VigilConfiguration, receivedAt: Date = Date()) {
        let raw = RawFile(name: name, path: "", inode: 0, stamp: FileStamp(stat()), data: data, sha: Digest.sha256Hex(data))
        self = FileProcessor.parse(raw, configuration: configuration, receivedAt: receivedAt)
    }
}
