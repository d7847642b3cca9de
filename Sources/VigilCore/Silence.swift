import Foundation

/// A maintenance silence: alerts of a rule or a subject still reach the journal, but no mail is sent.
public struct Silence: Sendable, Equatable, Codable {
    public var id: String
    public var matcher: String
    public var startsAt: Date
    public var endsAt: Date
    public var reason: String
    public var createdBy: String

    public init(id: String, matcher: String, startsAt: Date, endsAt: Date, reason: String, createdBy: String) {
        self.id = id
        self.matcher = matcher
        self.startsAt = startsAt
        self.endsAt = endsAt
        self.reason = reason
        self.createdBy = createdBy
    }

    public func matches(_ alert: Alert) -> Bool { matcher == alert.rule || matcher == alert.subject }
}
