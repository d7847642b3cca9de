/// A seeded pseudo-random generator (SplitMix64, Steele, Lea & Flood 2014): the same seed gives the
/// same sequence on every machine, so vigil-bench's synthetic site is byte-identical from run to run
/// and a failing randomized test (crash kills, canonical JSON) can be replayed from its seed.
/// Not for anything that must be unpredictable.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
