import Foundation
import VigilCore

/// The reply of `trial`: per site and pooled (`TrialOverview`).
public struct TrialReply: Codable, Sendable {
    public var ok: Bool
    public var overview: TrialOverview

    public init(ok: Bool, overview: TrialOverview) {
        self.ok = ok
        self.overview = overview
    }
}

/// The reply of `vigilctl trial`.
public struct TrialOverview: Sendable, Codable {
    /// One site's line.
    public struct Site: Sendable, Codable {
        public var site: String
        public var counts: PooledMonitoring.Counts
        public var records: Int64
        /// Changes the site still had to send at its last contact.
        public var backlog: Int64
        public var lastContact: Date?
        public var secondsSinceContact: Double?

        public init(site: String, counts: PooledMonitoring.Counts, records: Int64, backlog: Int64, lastContact: Date? = nil, secondsSinceContact: Double? = nil) {
            self.site = site
            self.counts = counts
            self.records = records
            self.backlog = backlog
            self.lastContact = lastContact
            self.secondsSinceContact = secondsSinceContact
        }
    }

    public var trial: String
    public var phase: String
    public var origin: String?
    public var rule: String?
    public var sites: [Site]
    public var pooled: PooledMonitoring.Counts
    public var posterior: Double
    public var decision: String?

    public init(trial: String, phase: String, origin: String?, rule: String?, sites: [Site], pooled: PooledMonitoring.Counts,
                posterior: Double, decision: String?) {
        self.trial = trial
        self.phase = phase
        self.origin = origin
        self.rule = rule
        self.sites = sites
        self.pooled = pooled
        self.posterior = posterior
        self.decision = decision
    }
}
