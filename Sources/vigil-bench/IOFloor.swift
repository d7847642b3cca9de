import Foundation
import Glibc

/// The I/O floor on the benchmark's own disk: what moving the same files durably costs with no
/// parsing, no SQLite and no rules. Per file: open, read it whole, fsync it, close, rename it into an
/// archive directory and fsync that directory (what `DurableFile.rename` does for the archive).
/// A second pass adds one small append + fdatasync to a log file per file, the least a durable
/// per-file ledger commit can cost (informational; the target compares against the first).
/// Each variant runs `repeats` times (the disk is shared and noisy); the median is reported.
enum IOFloor {
    struct Result: Codable {
        var files: Int
        var bytes: Int
        var seconds: Double
        var filesPerSecond: Double
        var withCommitSeconds: Double
        var withCommitFilesPerSecond: Double
        var runsFilesPerSecond: [Double]
        var withCommitRunsFilesPerSecond: [Double]
    }

    static func measure(files: [GeneratedFile], directory: String, repeats: Int = 3) throws -> Result {
        var plain: [Double] = []
        var commit: [Double] = []
        for _ in 0..<max(1, repeats) {
            let (a, b) = try once(files: files, directory: directory)
            plain.append(a)
            commit.append(b)
        }
        let p = plain.sorted()[plain.count / 2]
        let c = commit.sorted()[commit.count / 2]
        let n = Double(files.count)
        return Result(
            files: files.count, bytes: files.reduce(0) { $0 + $1.content.count }, seconds: p, filesPerSecond: n / p,
            withCommitSeconds: c, withCommitFilesPerSecond: n / c, runsFilesPerSecond: plain.map { n / $0 }, withCommitRunsFilesPerSecond: commit.map { n / $0 })
    }

    /// One pass of each variant: seconds without and with the per-file commit.
    static func once(files: [GeneratedFile], directory: String) throws -> (Double, Double) {
        let inbox = "\(directory)/inbox"
        let archive = "\(directory)/archive"
        let log = "\(directory)/ledger.log"
        var seconds: [Double] = []
        for pass in 0..<2 {
            try? FileManager.default.removeItem(atPath: directory)
            try makeDirectory(inbox)
            try makeDirectory(archive)
            for file in files { try writeFile("\(inbox)/\(file.name)", file.content) }
            let logFD = pass == 1 ? open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644) : -1
            defer { if logFD >= 0 { close(logFD) } }
            let entry = Array(String(repeating: "x", count: 255).utf8) + [0x0A]
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            let start = monotonic()
            for file in files {
                let source = "\(inbox)/\(file.name)"
                let fd = open(source, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw BenchError("open \(source) failed") }
                while buffer.withUnsafeMutableBytes({ read(fd, $0.baseAddress, $0.count) }) > 0 {}
                guard fsync(fd) == 0 else { throw BenchError("fsync \(source) failed") }
                close(fd)
                if logFD >= 0 {
                    _ = entry.withUnsafeBytes { write(logFD, $0.baseAddress, $0.count) }
                    guard fdatasync(logFD) == 0 else { throw BenchError("fdatasync \(log) failed") }
                }
                guard rename(source, "\(archive)/\(file.name)") == 0 else { throw BenchError("rename \(source) failed") }
                let dfd = open(archive, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                guard dfd >= 0, fsync(dfd) == 0 else { throw BenchError("fsync \(archive) failed") }
                close(dfd)
            }
            seconds.append(monotonic() - start)
        }
        try? FileManager.default.removeItem(atPath: directory)
        return (seconds[0], seconds[1])
    }
}
