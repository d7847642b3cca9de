import Foundation

/// Causality, weakest to strongest, and whether an assessment counts as related at a given floor.
public enum Relatedness {
    public static let order = ["not_related", "unlikely", "possible", "probable", "definite"]

    /// True when `value` is at least `floor`. A binary "related" from forms without a graded scale
    /// counts as related at any floor up to `definite` exclusive (the conservative reading for safety).
    public static func atLeast(_ value: String?, _ floor: String) -> Bool {
        guard let value else { return false }
        if value == "related" { return floor != "definite" }
        guard let v = order.firstIndex(of: value), let f = order.firstIndex(of: floor) else { return false }
        return v >= f
    }
}

extension AdverseEvent {
    /// Serious per ICH E2A: death, life-threatening, hospitalisation, disability, congenital anomaly,
    /// or medically important (any criterion, or a fatal outcome).
    public var isSerious: Bool { !serious.isEmpty || isFatal }
    public var isFatal: Bool { serious.contains("death") || (outcome?.lowercased().contains("fatal") ?? false) }
    public var isLifeThreatening: Bool { serious.contains("life_threatening") }
}

/// An immediate-halt rule of the protocol: an adverse event of listed terms (MedDRA preferred term
/// names or codes, or a pattern), at or above a grade and relatedness, within a window after the
/// infusion. Any match halts the trial.
public struct HaltRule: Sendable, Equatable, Codable {
    public var id: String
    public var description: String
    /// MedDRA PT names or codes; empty with no pattern matches any term.
    public var terms: [String]
    public var termPattern: String?
    public var minimumGrade: Int?
    /// Relatedness floor (`possible`, `probable`…); nil: any causality.
    public var relatedAtLeast: String?
    /// Hours after the infusion (D0) within which the event's onset must fall; nil: any time.
    public var windowHours: Double?
    public var requiresFatal: Bool
    /// SUSAR: serious, related (≥ `relatedAtLeast`) and unexpected.
    public var requiresSUSAR: Bool

    public init(id: String, description: String, terms: [String] = [], termPattern: String? = nil, minimumGrade: Int? = nil,
                relatedAtLeast: String? = nil, windowHours: Double? = nil, requiresFatal: Bool = false, requiresSUSAR: Bool = false) {
        self.id = id
        self.description = description
        self.terms = terms
        self.termPattern = termPattern
        self.minimumGrade = minimumGrade
        self.relatedAtLeast = relatedAtLeast
        self.windowHours = windowHours
        self.requiresFatal = requiresFatal
        self.requiresSUSAR = requiresSUSAR
    }

    /// docs/ARCHITECTURE.md §4 defaults; the protocol's own boundaries replace them in vigil.yaml.
    public static let defaults: [HaltRule] = [
        HaltRule(id: "related-death", description: "death at least possibly related to the cell product",
                 relatedAtLeast: "possible", requiresFatal: true),
        HaltRule(id: "anaphylaxis-24h", description: "anaphylaxis within 24 h of infusion",
                 terms: ["Anaphylactic reaction", "Anaphylactic shock", "Anaphylactoid reaction", "Anaphylactoid shock"], windowHours: 24),
        HaltRule(id: "infusion-reaction-24h", description: "grade ≥ 3 infusion reaction within 24 h of infusion",
                 terms: ["Infusion related reaction"], minimumGrade: 3, windowHours: 24),
        HaltRule(id: "thromboembolism-30d", description: "thromboembolic event within 30 days of infusion (stromal cells carry tissue factor)",
                 termPattern: "(?i)(embolism|thrombosis|thrombotic|thromboembolic|infarction)", windowHours: 30 * 24),
        HaltRule(id: "susar", description: "any SUSAR (serious, at least possibly related, unexpected)",
                 relatedAtLeast: "possible", requiresSUSAR: true),
    ]

    /// True when `ae` meets the rule. A window counts the onset when some instant of its reported
    /// period (`ReportedPeriod`, days counted in the site's `zone`) lies within it; an infusion known
    /// to its day only opens the window at the day's start and closes it after the day's end.
    public func matches(_ ae: AdverseEvent, infusion: ReportedPeriod?, zone: TimeZone) -> Bool {
        if !terms.isEmpty || termPattern != nil {
            let byList = terms.contains { $0.caseInsensitiveCompare(ae.term) == .orderedSame || $0 == ae.meddraPT }
            let byPattern = termPattern.flatMap(CompiledPatterns.pattern).map { $0.matches(in: ae.term) } ?? false
            guard byList || byPattern else { return false }
        }
        if let minimumGrade, (ae.grade ?? 0) < minimumGrade { return false }
        if let relatedAtLeast, !Relatedness.atLeast(ae.related, relatedAtLeast) { return false }
        if requiresFatal, !ae.isFatal { return false }
        if requiresSUSAR, !(ae.isSerious && ae.expected == false) { return false }
        if let windowHours {
            // Without a known infusion or onset the window cannot be excluded: count the event.
            if let infusion, let onset = ae.onsetPeriod(zone: zone) {
                guard infusion.windowContains(onset, seconds: windowHours * 3600) else { return false }
            }
        }
        return true
    }
}

/// The trial's toxicity definition and count rules for sequential monitoring.
public struct ToxicityMonitoring: Sendable, Equatable {
    /// Toxicity: an AE of at least this grade, at least this related, with onset within `windowDays`
    /// after the infusion (default: grade ≥ 3 related AE by Day 10).
    public var minimumGrade = 3
    public var relatedAtLeast = "possible"
    public var windowDays = 10.0
    public var bayesian = BayesianToxicityMonitor()
    /// "≥ k toxicities among the first m evaluable" rules (k, m).
    public var countRules: [CountRule] = []
    public var enrolmentTarget = 15

    /// A simple count boundary.
    public struct CountRule: Sendable, Equatable, Codable {
        public var toxicities: Int
        public var amongFirst: Int

        public init(toxicities: Int, amongFirst: Int) {
            self.toxicities = toxicities
            self.amongFirst = amongFirst
        }
    }

    public init() {}

    /// True when `ae` is a toxicity: graded and related enough, with some instant of its reported
    /// onset period (days counted in the site's `zone`) between the infusion and Day `windowDays`.
    public func isToxicity(_ ae: AdverseEvent, infusion: ReportedPeriod, zone: TimeZone) -> Bool {
        guard (ae.grade ?? 0) >= minimumGrade, Relatedness.atLeast(ae.related, relatedAtLeast), let onset = ae.onsetPeriod(zone: zone) else { return false }
        return infusion.windowContains(onset, seconds: windowDays * 86400)
    }
}

/// One infused subject's standing in toxicity monitoring at a moment.
public struct EvaluableSubject: Sendable, Equatable, Codable {
    public var subject: String
    public var infusion: Date
    public var evaluableAt: Date
    public var toxicity: String?
}

extension ToxicityMonitoring {
    /// Subjects evaluable at `now`, in the order they became evaluable: when Day `windowDays` has
    /// passed, or earlier at their first toxicity.
    public func evaluable(infusions: [String: ReportedPeriod], adverseEvents: [AdverseEvent], now: Date, zone: TimeZone) -> [EvaluableSubject] {
        evaluable(infusions: infusions, now: now, zone: zone) { subject in adverseEvents.filter { $0.subject == subject } }
    }

    /// The same, with each infused subject's adverse events (oldest first) asked for one subject at a
    /// time, so the caller can serve them from a per-subject cache instead of reading the whole trial's.
    /// A subject infused on a day without a time reaches Day `windowDays` counted from that day's end.
    public func evaluable(infusions: [String: ReportedPeriod], now: Date, zone: TimeZone, adverseEventsOf: (String) throws -> [AdverseEvent]) rethrows -> [EvaluableSubject] {
        var out: [EvaluableSubject] = []
        for (subject, period) in infusions {
            let infusion = period.start
            let toxic = try adverseEventsOf(subject).filter { $0.subject == subject && isToxicity($0, infusion: period, zone: zone) }
                .min { ($0.onsetTime ?? .distantFuture) < ($1.onsetTime ?? .distantFuture) }
            let dayEnd = period.window(seconds: windowDays * 86400).through
            if let toxic, let onset = toxic.onsetTime, onset <= now {
                out.append(EvaluableSubject(subject: subject, infusion: infusion, evaluableAt: min(max(onset, infusion), dayEnd), toxicity: toxic.id))
            } else if dayEnd <= now {
                out.append(EvaluableSubject(subject: subject, infusion: infusion, evaluableAt: dayEnd, toxicity: nil))
            }
        }
        return out.sorted { $0.evaluableAt == $1.evaluableAt ? $0.subject < $1.subject : $0.evaluableAt < $1.evaluableAt }
    }

    /// The first rule that says stop, with its reason, or nil.
    public func stopDecision(_ evaluable: [EvaluableSubject]) -> (rule: String, reason: String)? {
        let n = evaluable.count
        let x = evaluable.filter { $0.toxicity != nil }.count
        if bayesian.shouldStop(toxicities: x, evaluable: n) {
            let posterior = bayesian.posteriorProbability(toxicities: x, evaluable: n)
            return ("bayesian-toxicity", String(format: "%d toxicities among %d evaluable subjects: Pr(p > %.2f | data) = %.3f > %.2f (Beta(%g, %g) prior; Thall, Simon & Estey 1995)",
                                               x, n, bayesian.maxToxicityRate, posterior, bayesian.threshold, bayesian.priorA, bayesian.priorB))
        }
        for rule in countRules where n >= 1 {
            let first = evaluable.prefix(rule.amongFirst)
            let toxic = first.filter { $0.toxicity != nil }.count
            if toxic >= rule.toxicities {
                return ("count-\(rule.toxicities)-of-\(rule.amongFirst)", "\(toxic) toxicities among the first \(first.count) evaluable subjects (rule: ≥ \(rule.toxicities) among the first \(rule.amongFirst))")
            }
        }
        return nil
    }
}

/// The trial's state: running, or halted by a rule until an authorised person resumes it.
public struct TrialState: Sendable, Equatable, Codable {
    /// Running or halted.
    public enum Phase: String, Sendable, Codable {
        case running
        case halted
    }

    public var phase: Phase
    public var rule: String?
    public var reason: String?
    public var evidence: [Evidence]
    public var since: Date?
    public var alertID: String?
    /// Who resumed the trial last, when, and why.
    public var resumedBy: String?
    public var resumedAt: Date?
    public var resumeReason: String?
    /// Where the halt was decided when not at this site: another site's id, or `central` for the
    /// pooled rules (docs/ARCHITECTURE.md §6). Nil for a halt decided here.
    public var origin: String?

    public static let running = TrialState(phase: .running, rule: nil, reason: nil, evidence: [], since: nil, alertID: nil)

    public init(phase: Phase, rule: String?, reason: String?, evidence: [Evidence], since: Date?, alertID: String?,
                resumedBy: String? = nil, resumedAt: Date? = nil, resumeReason: String? = nil, origin: String? = nil) {
        self.phase = phase
        self.rule = rule
        self.reason = reason
        self.evidence = evidence
        self.since = since
        self.alertID = alertID
        self.resumedBy = resumedBy
        self.resumedAt = resumedAt
        self.resumeReason = resumeReason
        self.origin = origin
    }
}

/// SUSAR reporting clock (ICH E2A; EU Regulation 536/2014 art. 42): 7 days from awareness for a
/// fatal or life-threatening SUSAR, 15 days otherwise.
public struct SUSARClock: Sendable, Equatable, Codable {
    public var adverseEvent: String
    public var subject: String
    public var aware: Date
    public var due: Date
    public var days: Int

    public init(_ ae: AdverseEvent, awareFallback: Date) {
        adverseEvent = ae.id
        subject = ae.subject
        aware = ae.aware ?? awareFallback
        days = ae.isFatal || ae.isLifeThreatening ? 7 : 15
        due = aware.addingTimeInterval(Double(days) * 86400)
    }

    public static func isSUSAR(_ ae: AdverseEvent) -> Bool {
        ae.isSerious && Relatedness.atLeast(ae.related, "possible") && ae.expected == false
    }

    /// Which reminder is owed at `now`: 24 h before the due time, and once overdue.
    public func reminder(at now: Date) -> String? {
        if now >= due { return "overdue" }
        if now >= due.addingTimeInterval(-86400) { return "due-24h" }
        return nil
    }
}
