import Foundation
import VigilCore

/// Reply to `replay`: what the candidate configuration would have changed.
public struct ReplayReply: Codable, Sendable {
    /// One alert as the comparison shows it.
    public struct Item: Codable, Sendable {
        public var id: String
        public var rule: String
        public var severity: String
        public var subject: String
        public var title: String
        public var observedAt: Date

        package init(_ alert: Alert) {
            id = alert.id
            rule = alert.rule
            severity = alert.severity.rawValue
            subject = alert.subject ?? "trial"
            title = alert.title
            observedAt = alert.evidence.compactMap(\.time).max() ?? alert.raisedAt
        }
    }

    /// The same alert at another severity.
    public struct Change: Codable, Sendable {
        public var live: Item
        public var candidate: Item

        public init(live: Item, candidate: Item) {
            self.live = live
            self.candidate = candidate
        }
    }

    public var ok: Bool
    public var liveDigest: String
    public var candidateDigest: String
    public var since: Date?
    public var files: Int
    public var records: Int
    public var liveAlerts: Int
    public var candidateAlerts: Int
    public var wouldFire: [Item]
    public var wouldNotFire: [Item]
    public var changed: [Change]
    public var subjectDays: Double
    public var liveBurden: [AlertMetrics.BurdenRow]
    public var candidateBurden: [AlertMetrics.BurdenRow]

    public init(ok: Bool, liveDigest: String, candidateDigest: String, since: Date? = nil, files: Int, records: Int, liveAlerts: Int, candidateAlerts: Int, wouldFire: [Item], wouldNotFire: [Item], changed: [Change], subjectDays: Double, liveBurden: [AlertMetrics.BurdenRow], candidateBurden: [AlertMetrics.BurdenRow]) {
        self.ok = ok
        self.liveDigest = liveDigest
        self.candidateDigest = candidateDigest
        self.since = since
        self.files = files
        self.records = records
        self.liveAlerts = liveAlerts
        self.candidateAlerts = candidateAlerts
        self.wouldFire = wouldFire
        self.wouldNotFire = wouldNotFire
        self.changed = changed
        self.subjectDays = subjectDays
        self.liveBurden = liveBurden
        self.candidateBurden = candidateBurden
    }
}
