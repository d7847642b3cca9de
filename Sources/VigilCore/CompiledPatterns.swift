import Synchronization

/// Regular expressions from the configuration, compiled once per pattern text and shared. Compiling
/// a `Regex` costs far more than matching it (the profile showed 7 % of the daemon's CPU compiling the
/// infection-term pattern at every evaluation); the handful of patterns a configuration holds are
/// kept for the life of the process.
public enum CompiledPatterns {
    /// A compiled pattern that may cross tasks: `Regex` is immutable and its matching does not
    /// mutate it, but the standard library does not mark `Regex<AnyRegexOutput>` Sendable yet.
    public struct Pattern: @unchecked Sendable {
        public let regex: Regex<AnyRegexOutput>

        /// Whether the pattern matches somewhere in `text`.
        public func matches(in text: String) -> Bool { (try? regex.firstMatch(in: text)) != nil }

        /// Whether the pattern matches the whole of `text`.
        public func matchesWhole(_ text: String) -> Bool { (try? regex.wholeMatch(in: text)) != nil }
    }

    private static let cache = Mutex<[String: Pattern]>([:])

    /// The compiled pattern, or the compiler's error for a pattern that is not valid.
    public static func compile(_ pattern: String) throws -> Pattern {
        if let known = cache.withLock({ $0[pattern] }) { return known }
        let compiled = Pattern(regex: try Regex(pattern))
        // Configurations are loaded a few times per process at most; the bound only guards against a
        // caller feeding arbitrary text through here.
        cache.withLock { if $0.count < 256 { $0[pattern] = compiled } }
        return compiled
    }

    /// The compiled pattern, or nil when it is not a valid regular expression (configuration
    /// validation rejects those before they get here).
    public static func pattern(_ pattern: String) -> Pattern? { try? compile(pattern) }
}
