import Foundation
import VigilCore
import XCTest

/// `SignalDependencies` against the rules themselves (docs/ARCHITECTURE.md §4, incremental
/// evaluation): on seeded random snapshots, changing, adding or removing a value of a code a signal
/// does not list never changes that signal's reading, and neither does moving the moment forward
/// while none of its inputs goes stale. A missing entry in the table would fail here, before it
/// could keep a signal from being read.
final class SignalDependenciesTests: XCTestCase {
    let signals = ClinicalSignals(rules: ClinicalRules())
    let codes = CanonicalCodes.all.keys.sorted()
    let asOf = Date(timeIntervalSince1970: 1_800_000_000)

    func randomValue(_ code: String, _ random: inout SplitMix64) -> ObservationValue {
        switch CanonicalCodes.all[code]!.kind {
        case .flag: return .flag(Bool.random(using: &random))
        case .text(let allowed):
            return .text((allowed ?? ["positive", "negative", "alert", "voice", "pain", "unresponsive", "new confusion"]).randomElement(using: &random)!)
        case .numeric:
            let range = CanonicalCodes.all[code]!.plausible ?? 0...200
            // Mostly near the thresholds' scale: a tenth of the plausible range, often crossing a cut-off.
            let upper = min(range.upperBound, range.lowerBound + max(1, (range.upperBound - range.lowerBound) / 10))
            return .number((Double.random(in: range.lowerBound...upper, using: &random) * 10).rounded() / 10)
        }
    }

    func randomTimed(_ code: String, _ random: inout SplitMix64, index: Int) -> TimedValue {
        let age = Double.random(in: 0...(36 * 3600), using: &random)
        let bounds: (Double?, Double?) = Bool.random(using: &random) ? (nil, nil) : (1, 10)
        return TimedValue(value: randomValue(code, &random), time: asOf.addingTimeInterval(-age), record: "R\(index)-\(code)", low: bounds.0, high: bounds.1)
    }

    func snapshot(_ latest: [String: TimedValue], asOf: Date) -> SubjectSnapshot {
        SubjectSnapshot(subject: "LYS-01-001", asOf: asOf, latest: latest, enrolment: ["age": "52", "malignancy": "false"],
                        infusionTime: self.asOf.addingTimeInterval(-86_400))
    }

    /// The signal's reading, or nil; a reading the signal engine ignores whatever its time (no
    /// severity, inconclusive) is the same as none.
    func reading(_ signal: SignalDependencies.Signal, _ s: SubjectSnapshot) -> SignalReading? {
        let all = signals.readings(s, sofaBaseline: 0, infection: [], only: [signal]).filter { $0.rule == signal.rule }
        XCTAssertLessThanOrEqual(all.count, 1)
        guard let reading = all.first, reading.severity != nil || reading.conclusive else { return nil }
        return reading
    }

    func testChangingACodeASignalDoesNotListNeverChangesItsReading() {
        var random = SplitMix64(seed: 20_261_206)
        var compared = 0
        for round in 0..<400 {
            var latest: [String: TimedValue] = [:]
            for code in codes where Double.random(in: 0...1, using: &random) < 0.7 { latest[code] = randomTimed(code, &random, index: round) }
            let base = snapshot(latest, asOf: asOf)
            for (signal, inputs) in SignalDependencies.inputs {
                let before = reading(signal, base)
                for _ in 0..<4 {
                    let other = codes.filter { !inputs.contains($0) }.randomElement(using: &random)!
                    var changed = latest
                    changed[other] = Bool.random(using: &random) ? nil : randomTimed(other, &random, index: round + 1_000)
                    XCTAssertEqual(reading(signal, snapshot(changed, asOf: asOf)), before,
                                   "\(signal.rule) changed when \(other), not among its inputs \(inputs), changed")
                    compared += 1
                }
            }
        }
        XCTAssertGreaterThan(compared, 10_000)
    }

    func testMovingTheMomentWithNoInputGoingStaleNeverChangesAReading() {
        var random = SplitMix64(seed: 7)
        let freshness = Freshness()
        var compared = 0
        for round in 0..<400 {
            var latest: [String: TimedValue] = [:]
            for code in codes where Double.random(in: 0...1, using: &random) < 0.7 { latest[code] = randomTimed(code, &random, index: round) }
            let later = asOf.addingTimeInterval(Double.random(in: 1...(6 * 3600), using: &random))
            let due = SignalDependencies.due(changed: [], latest: ObservationSlots(latest), freshness: freshness, mark: asOf, asOf: later)
            for signal in SignalDependencies.inputs.keys where !due.contains(signal) {
                XCTAssertEqual(reading(signal, snapshot(latest, asOf: later)), reading(signal, snapshot(latest, asOf: asOf)),
                               "\(signal.rule) is not due at +\(Int(later.timeIntervalSince(asOf))) s, yet its reading changed")
                compared += 1
            }
        }
        XCTAssertGreaterThan(compared, 1_000)
    }

    func testAnInputThatChangedIsNewerOrWentStaleMakesItsSignalsDue() {
        let freshness = Freshness()
        let fresh = TimedValue(value: .number(20), time: asOf.addingTimeInterval(-3_600), record: "RR-1")
        XCTAssertEqual(SignalDependencies.due(changed: ["respiratory_rate"], latest: ObservationSlots(), freshness: freshness, mark: asOf, asOf: asOf + 60),
                       [.news2, .qsofa, .sirs])
        XCTAssertEqual(SignalDependencies.due(changed: [], latest: ObservationSlots(["respiratory_rate": fresh]), freshness: freshness, mark: asOf, asOf: asOf + 60), [],
                       "fresh at the mark and now, not newer than the mark: nothing is due")
        let newer = TimedValue(value: .number(20), time: asOf.addingTimeInterval(30), record: "RR-2")
        XCTAssertEqual(SignalDependencies.due(changed: [], latest: ObservationSlots(["respiratory_rate": newer]), freshness: freshness, mark: asOf, asOf: asOf + 60),
                       [.news2, .qsofa, .sirs])
        // Vital signs are fresh for 4 h (docs/ARCHITECTURE.md §4): at +3 h 30 min the value of 1 h before
        // the mark is stale, so the scores reading it are due.
        XCTAssertEqual(SignalDependencies.due(changed: [], latest: ObservationSlots(["respiratory_rate": fresh]), freshness: freshness, mark: asOf, asOf: asOf + 3.5 * 3600),
                       [.news2, .qsofa, .sirs])
        XCTAssertEqual(SignalDependencies.due(changed: ["platelets"], latest: ObservationSlots(), freshness: freshness, mark: asOf, asOf: asOf + 60), [.ctcae("platelets")])
    }
}
