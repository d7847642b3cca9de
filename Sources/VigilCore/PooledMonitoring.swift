import Foundation

/// The trial-level toxicity rules (count rules, Thall-Simon-Estey posterior) over every site's
/// subjects at once: the same `ToxicityMonitoring` a site runs on its own, fed with all sites'
/// infusions and adverse events. Subjects are keyed `SITE/SUBJECT`, so two sites' subject ids can
/// never merge. Pure: the records and the clock come in.
public struct PooledMonitoring: Sendable {
    public var monitoring: ToxicityMonitoring
    public var zone: TimeZone

    public init(monitoring: ToxicityMonitoring, zone: TimeZone) {
        self.monitoring = monitoring
        self.zone = zone
    }

    /// Per site and pooled: subjects seen, infused, evaluable, toxicities.
    public struct Counts: Sendable, Equatable, Codable {
        public var subjects: Int
        public var infused: Int
        public var evaluable: Int
        public var toxicities: Int

        public init(subjects: Int, infused: Int, evaluable: Int, toxicities: Int) {
            self.subjects = subjects
            self.infused = infused
            self.evaluable = evaluable
            self.toxicities = toxicities
        }
    }

    /// What the pooled rules see now.
    public struct Evaluation: Sendable {
        public var evaluable: [EvaluableSubject]
        public var perSite: [String: Counts]
        public var pooled: Counts
        /// Pr(p > the maximum toxicity rate | pooled data).
        public var posterior: Double
        public var decision: (rule: String, reason: String)?
    }

    public func evaluate(_ records: [CentralRecord], now: Date) -> Evaluation {
        var infusions: [String: ReportedPeriod] = [:]
        var adverseEvents: [AdverseEvent] = []
        var subjectsBySite: [String: Set<String>] = [:]
        for item in records {
            let key = "\(item.site)/\(item.record.subject)"
            subjectsBySite[item.site, default: []].insert(key)
            switch item.record {
            case .event(let event) where event.kind == "infusion":
                if infusions[key] == nil { infusions[key] = event.period(zone: zone) }
            case .adverseEvent(var ae):
                ae.subject = key
                adverseEvents.append(ae)
            default:
                break
            }
        }
        let evaluable = monitoring.evaluable(infusions: infusions, adverseEvents: adverseEvents, now: now, zone: zone)
        var perSite: [String: Counts] = [:]
        for (site, subjects) in subjectsBySite {
            let here = evaluable.filter { subjects.contains($0.subject) }
            perSite[site] = Counts(subjects: subjects.count, infused: subjects.filter { infusions[$0] != nil }.count,
                                   evaluable: here.count, toxicities: here.filter { $0.toxicity != nil }.count)
        }
        let toxic = evaluable.filter { $0.toxicity != nil }.count
        let pooled = Counts(subjects: subjectsBySite.values.reduce(0) { $0 + $1.count }, infused: infusions.count,
                            evaluable: evaluable.count, toxicities: toxic)
        return Evaluation(evaluable: evaluable, perSite: perSite, pooled: pooled,
                          posterior: monitoring.bayesian.posteriorProbability(toxicities: toxic, evaluable: evaluable.count),
                          decision: monitoring.stopDecision(evaluable))
    }
}

/// A record of some site, as replicated.
public struct CentralRecord: Sendable {
    public var site: String
    public var record: Record

    public init(site: String, record: Record) {
        self.site = site
        self.record = record
    }
}
