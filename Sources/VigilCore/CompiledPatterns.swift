import Synchronization

/// Regular expressions from the configuration, compiled once per pattern text and shared. Compiling
/// a `Regex` costs far more than matching it, and the infection-term pattern is asked for at every
/// evaluation; the handful of patterns a configuration holds are kept for the life of the process.
public enum CompiledPatterns {
    /// A compiled pattern that may cross tasks: `Regex` is immutable and its matching does not
    /// mutate it, but the standard library does not mark `Regex<AnyRegexOutput>` Sendable yet.
    public struct Pattern: @unchecked Sendable {
        public let regex: Regex<AnyRegexOutput>
        /// Answers already given, by text. The same few texts come back all the time (a subject's
        /// adverse-event terms at each of its evaluations, the subject ids of every record), and a
        /// case-insensitive match costs far more than a lookup, and the infection-term pattern is
        /// matched against every adverse event of the subject at every evaluation.
        private let answers = Answers()

        init(regex: Regex<AnyRegexOutput>) {
            self.regex = regex
        }

        /// Whether the pattern matches somewhere in `text`.
        public func matches(in text: String) -> Bool {
            answers.answer(text, whole: false) { (try? regex.firstMatch(in: text)) != nil }
        }

        /// Whether the pattern matches the whole of `text`.
        public func matchesWhole(_ text: String) -> Bool {
            answers.answer(text, whole: true) { (try? regex.wholeMatch(in: text)) != nil }
        }
    }

    /// A bounded memo of one pattern's answers.
    final class Answers: Sendable {
        /// Texts remembered; past it the memo starts again empty.
        static let capacity = 4096

        private struct Question: Hashable {
            let text: String
            let whole: Bool
        }

        private let known = Mutex<[Question: Bool]>([:])

        func answer(_ text: String, whole: Bool, compute: () -> Bool) -> Bool {
            let question = Question(text: text, whole: whole)
            if let answer = known.withLock({ $0[question] }) { return answer }
            let answer = compute()
            known.withLock { known in
                if known.count >= Self.capacity { known = [:] }
                known[question] = answer
            }
            return answer
        }
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
