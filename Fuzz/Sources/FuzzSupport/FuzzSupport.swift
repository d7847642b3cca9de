import Foundation
#if canImport(Glibc)
import Glibc
#endif
import VigilConfig
import VigilCore
import VigilIngest

/// What the fuzz targets share: the site settings the parsers run with, and the checks every
/// parse result must pass. A failed check traps, which libFuzzer reports as a crash.
public enum FuzzSupport {
    /// The shipped demo configuration (`config/demo.yaml`, or `$VIGIL_FUZZ_CONFIG`): the real
    /// subject pattern, mapping tables and HL7 settings, so inputs reach the code paths production does.
    public static let configuration: VigilConfiguration = withoutLeakChecking {
        let path = ProcessInfo.processInfo.environment["VIGIL_FUZZ_CONFIG"]
            ?? URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../config/demo.yaml").standardizedFileURL.path
        do {
            return try VigilConfiguration.load(path: path, workingDirectory: NSTemporaryDirectory())
        } catch {
            fatalError("fuzz setup: cannot load the configuration \(path): \(error) (set VIGIL_FUZZ_CONFIG)")
        }
    }

    public static let options: IngestOptions = withoutLeakChecking {
        do {
            return try configuration.ingestOptions()
        } catch {
            fatalError("fuzz setup: the configuration gives no ingest options: \(error)")
        }
    }

    /// Runs the one-time setup with LeakSanitizer looking away: compiling a `Regex` leaves a few
    /// unreachable blocks in the standard library's regex parser (about 8 KB, once per pattern, not
    /// growing), which LSan would report at exit. Leaks while parsing inputs are still reported.
    static func withoutLeakChecking<T>(_ body: () -> T) -> T {
        typealias Toggle = @convention(c) () -> Void
        let disable = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__lsan_disable").map { unsafeBitCast($0, to: Toggle.self) }
        let enable = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "__lsan_enable").map { unsafeBitCast($0, to: Toggle.self) }
        disable?()
        defer { enable?() }
        return body()
    }

    /// The raw input as bytes.
    public static func bytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8] {
        guard let data, size > 0 else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: size))
    }

    /// What a parser must guarantee whatever the input: each record belongs to a trial subject id
    /// (no patient identifier gets in), can be stored (its canonical JSON encodes, so no NaN or
    /// infinity), and every error and warning is located and renders as one visible line.
    public static func check(_ result: ParseResult, locatedBy location: KeyPath<RecordError, Int?>) {
        for located in result.records {
            let record = located.record
            require(options.isValidSubject(record.subject), "record \(record.id): subject '\(record.subject)' is not a trial subject id")
            require((try? Digest.canonicalJSON(record)) != nil, "record \(record.id) cannot be encoded: \(record)")
        }
        for error in result.errors + result.warnings {
            require(error[keyPath: location].map { $0 >= 1 } == true, "error without a location: \(error)")
            // What the daemon writes of an error is one visible line (docs/ARCHITECTURE.md §3.5).
            require(ProducerText.isVisible(error.summary, limit: Int.max / 2), "error summary not rendered: \(error.summary.debugDescription)")
        }
    }

    /// Traps with `message` when `condition` is false (also in release builds).
    public static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz invariant: \(message())") }
    }
}
