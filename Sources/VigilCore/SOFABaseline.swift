import Foundation

/// A subject's baseline SOFA (Sepsis-3, Singer 2016: the acute change is measured from the baseline;
/// "the baseline SOFA score should be assumed to be zero in patients not known to have preexisting
/// organ dysfunction"). Vigil takes the lowest SOFA seen during the subject's first 24 h of data,
/// and 0 before any SOFA is known; after the window the baseline no longer changes.
public struct SOFABaseline: Sendable, Equatable, Codable {
    public static let window: TimeInterval = 24 * 3600

    public var firstSeen: Date
    public var value: Int

    public init(firstSeen: Date, value: Int) {
        self.firstSeen = firstSeen
        self.value = value
    }

    /// The baseline after seeing a SOFA total at `asOf`.
    public static func update(_ previous: SOFABaseline?, total: Int, asOf: Date) -> SOFABaseline {
        guard var baseline = previous else { return SOFABaseline(firstSeen: asOf, value: total) }
        if asOf.timeIntervalSince(baseline.firstSeen) <= window, total < baseline.value { baseline.value = total }
        return baseline
    }
}
