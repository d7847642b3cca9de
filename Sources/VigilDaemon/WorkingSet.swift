import Foundation
import Glibc

/// Hands back to the kernel the memory an idle daemon keeps only because it was once busy: the heap
/// malloc holds freed (`malloc_trim`), and the page-table entries of the code it ran at start-up or
/// through a backlog.
///
/// Most of an idle vigild's resident size is clean pages of code: its own executable and the Swift
/// runtime, Foundation and ICU, SQLite and libc, each fault having mapped 64 KB around the page it
/// needed (the kernel's fault-around). Unmapping them (`MADV_DONTNEED` on the private, executable,
/// file-backed mappings) leaves the pages in the page cache: the next file refaults what it needs
/// from there, without reading the disk. Only executable mappings with no
/// anonymous (copied-on-write) page are touched, so nothing the process wrote is ever discarded:
/// text is never relocated in position-independent code, while relocated read-only data (RELRO)
/// is mapped read-only, not executable, and is left alone.
public enum WorkingSet {
    /// What one trim did.
    public struct Trim: Sendable, Equatable {
        /// Executable file mappings whose pages were unmapped.
        public var mappings: Int
        /// Resident kilobytes those mappings held before the trim.
        public var residentKib: Int
    }

    /// Trims the heap and unmaps the code pages; returns what it unmapped.
    @discardableResult
    public static func trim() -> Trim {
        _ = malloc_trim(0)
        guard let smaps = readProcFile("/proc/self/smaps") else { return Trim(mappings: 0, residentKib: 0) }
        var result = Trim(mappings: 0, residentKib: 0)
        for mapping in codeMappings(smaps: smaps) {
            guard let start = UnsafeMutableRawPointer(bitPattern: mapping.start) else { continue }
            if madvise(start, Int(mapping.end - mapping.start), MADV_DONTNEED) == 0 {
                result.mappings += 1
                result.residentKib += mapping.residentKib
            }
        }
        return result
    }

    /// The whole of a /proc file. They report a size of 0, and Foundation's whole-file reads stop
    /// after the first buffer of one, so this reads to end of file (as inbox files are read).
    static func readProcFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return (try? FileProcessor.readAll(fd, path: path, limit: .max)).map { String(decoding: $0, as: UTF8.self) }
    }

    /// A mapping `trim` may unmap.
    struct CodeMapping: Equatable {
        var start: UInt
        var end: UInt
        var residentKib: Int
    }

    /// The private, executable, file-backed mappings of `/proc/self/smaps` text that hold no
    /// anonymous page and some resident one.
    static func codeMappings(smaps: String) -> [CodeMapping] {
        var found: [CodeMapping] = []
        var current: (mapping: CodeMapping, eligible: Bool, anonymousKib: Int)?
        func finish() {
            if let c = current, c.eligible, c.anonymousKib == 0, c.mapping.residentKib > 0 { found.append(c.mapping) }
            current = nil
        }
        for line in smaps.split(separator: "\n", omittingEmptySubsequences: true) {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let first = fields.first else { continue }
            if first.contains("-"), !first.hasSuffix(":") {
                finish()
                let bounds = first.split(separator: "-")
                guard bounds.count == 2, let start = UInt(bounds[0], radix: 16), let end = UInt(bounds[1], radix: 16), fields.count >= 2 else { continue }
                // A file path: not [vdso], [stack] or an anonymous mapping. A file deleted since
                // (an upgrade in place) is still refaulted through the inode the mapping holds.
                let eligible = fields[1] == "r-xp" && fields.count >= 6 && fields[5].hasPrefix("/")
                current = (CodeMapping(start: start, end: end, residentKib: 0), eligible, 0)
            } else if current != nil, fields.count >= 2, let kib = Int(fields[1]) {
                switch first {
                case "Rss:": current!.mapping.residentKib = kib
                case "Anonymous:": current!.anonymousKib = kib
                default: break
                }
            }
        }
        finish()
        return found
    }
}

/// When the idle daemon trims its working set: at the first inbox tick with no file taken since the
/// tick before (so between one and two tick intervals after the last file), once per quiet spell.
/// The first tick after start-up trims, unless a file came in before it.
struct IdleTrimSchedule {
    private var workedSinceTick = false
    private var trimmed = false

    /// A file was taken.
    mutating func worked() {
        workedSinceTick = true
        trimmed = false
    }

    /// An inbox tick: whether to trim now.
    mutating func tick() -> Bool {
        if workedSinceTick {
            workedSinceTick = false
            return false
        }
        if trimmed { return false }
        trimmed = true
        return true
    }
}

/// glibc's `malloc_trim(3)`, which the Glibc module does not export (it lives in <malloc.h>).
@_silgen_name("malloc_trim")
func malloc_trim(_ pad: Int) -> Int32
