import Foundation

/// One value of a subject's timeline: what it was, when it was measured and which record said so.
public struct TimedValue: Sendable, Equatable, Codable {
    public var value: ObservationValue
    public var time: Date
    public var record: String
    /// The record's own reference range, in the canonical unit, when it carried one.
    public var low: Double?
    public var high: Double?

    public init(value: ObservationValue, time: Date, record: String, low: Double? = nil, high: Double? = nil) {
        self.value = value
        self.time = time
        self.record = record
        self.low = low
        self.high = high
    }
}

/// How long a value stays current, by code, so scores combine only values that describe the subject
/// now. Defaults: vital signs 4 h, blood gas 6 h, other laboratory values 24 h.
public struct Freshness: Sendable, Equatable {
    public var vitals: TimeInterval { didSet { fillSlots() } }
    public var bloodGas: TimeInterval { didSet { fillSlots() } }
    public var labs: TimeInterval { didSet { fillSlots() } }
    /// Per-code overrides.
    public var overrides: [String: TimeInterval] { didSet { fillSlots() } }
    /// The window of each `ObservationSlots` slot, worked out once: evaluation asks at every moment
    /// for every input it reads.
    private var slotWindows: [TimeInterval] = []

    public init(vitals: TimeInterval = 4 * 3600, bloodGas: TimeInterval = 6 * 3600, labs: TimeInterval = 24 * 3600, overrides: [String: TimeInterval] = [:]) {
        self.vitals = vitals
        self.bloodGas = bloodGas
        self.labs = labs
        self.overrides = overrides
        fillSlots()
    }

    public static let vitalCodes: Set<String> = [
        "respiratory_rate", "spo2", "oxygen", "fio2", "systolic_bp", "diastolic_bp", "mean_arterial_pressure", "heart_rate",
        "temperature", "consciousness", "gcs", "respiratory_support", "norepinephrine", "epinephrine", "dopamine", "dobutamine",
    ]
    public static let bloodGasCodes: Set<String> = ["pao2", "paco2", "lactate"]

    public func window(for code: String) -> TimeInterval {
        if let slot = ObservationSlots.slot(of: code) { return slotWindows[slot] }
        return computedWindow(for: code)
    }

    /// The window of the code in `slot` (`ObservationSlots.codes`).
    public func window(forSlot slot: Int) -> TimeInterval { slotWindows[slot] }

    private func computedWindow(for code: String) -> TimeInterval {
        if let override = overrides[code] { return override }
        if Self.vitalCodes.contains(code) { return vitals }
        if Self.bloodGasCodes.contains(code) { return bloodGas }
        return labs
    }

    private mutating func fillSlots() {
        slotWindows = ObservationSlots.codes.map(computedWindow)
    }
}

/// The newest value of each observation code, one slot per canonical code (`codes`): evaluation
/// builds one at every moment of every subject and reads it many times, and an array is copied and
/// filled without hashing or allocating a table per moment. A code outside the canonical table
/// (tests and rows written by older versions may have one) is kept aside.
public struct ObservationSlots: Sendable, Equatable {
    /// The slots' codes, in slot order.
    public static let codes: [String] = CanonicalCodes.all.keys.sorted()
    static let slotOfCode: [String: Int] = Dictionary(uniqueKeysWithValues: codes.enumerated().map { ($1, $0) })

    /// The slot of a canonical code.
    public static func slot(of code: String) -> Int? { slotOfCode[code] }

    private var values: [TimedValue?]
    private var others: [String: TimedValue] = [:]

    public init() {
        values = Array(repeating: nil, count: Self.codes.count)
    }

    public init(_ dictionary: [String: TimedValue]) {
        self.init()
        for (code, value) in dictionary { self[code] = value }
    }

    public subscript(code: String) -> TimedValue? {
        get {
            if let slot = Self.slotOfCode[code] { return values[slot] }
            return others[code]
        }
        set {
            if let slot = Self.slotOfCode[code] { values[slot] = newValue } else { others[code] = newValue }
        }
    }

    public subscript(slot slot: Int) -> TimedValue? {
        get { values[slot] }
        set { values[slot] = newValue }
    }

    public var isEmpty: Bool { count == 0 }

    /// How many codes have a value.
    public var count: Int { values.reduce(0) { $0 + ($1 == nil ? 0 : 1) } + others.count }

    /// Every value held, with its code.
    public var all: [(code: String, value: TimedValue)] {
        values.indices.compactMap { slot in values[slot].map { (Self.codes[slot], $0) } } + others.map { ($0.key, $0.value) }
    }
}

/// A subject as of one moment: the newest value of each code, with the subject's fixed facts (age,
/// malignancy, infusion time), ready for the scores. Values older than their freshness window at
/// `asOf`, or later than `asOf`, are not current.
public struct SubjectSnapshot: Sendable, Equatable {
    public var subject: String
    public var asOf: Date
    public var latest: ObservationSlots
    public var freshness: Freshness
    /// From the enrolment event: `age`, `malignancy` ("true"/"false"), `index_date`.
    public var enrolment: [String: String]
    public var infusionTime: Date?
    /// The subject is known to be hypercapnic (NEWS2 SpO2 scale 2).
    public var hypercapnic: Bool

    public init(subject: String, asOf: Date, latest: ObservationSlots, freshness: Freshness = Freshness(),
                enrolment: [String: String] = [:], infusionTime: Date? = nil, hypercapnic: Bool = false) {
        self.subject = subject
        self.asOf = asOf
        self.latest = latest
        self.freshness = freshness
        self.enrolment = enrolment
        self.infusionTime = infusionTime
        self.hypercapnic = hypercapnic
    }

    /// A snapshot from a table of newest values (tests, and the control socket's queries).
    public init(subject: String, asOf: Date, latest: [String: TimedValue], freshness: Freshness = Freshness(),
                enrolment: [String: String] = [:], infusionTime: Date? = nil, hypercapnic: Bool = false) {
        self.init(subject: subject, asOf: asOf, latest: ObservationSlots(latest), freshness: freshness, enrolment: enrolment,
                  infusionTime: infusionTime, hypercapnic: hypercapnic)
    }

    /// The current value of `code`, or nil when it is missing or stale.
    public func current(_ code: String) -> TimedValue? {
        guard let slot = ObservationSlots.slot(of: code) else {
            guard let value = latest[code], value.time <= asOf, asOf.timeIntervalSince(value.time) <= freshness.window(for: code) else { return nil }
            return value
        }
        guard let value = latest[slot: slot], value.time <= asOf, asOf.timeIntervalSince(value.time) <= freshness.window(forSlot: slot) else { return nil }
        return value
    }

    /// The current numeric value of `code`.
    public func number(_ code: String) -> Double? { current(code)?.value.number }

    /// Whether a value exists but is too old to use (reported as "stale", not merely "missing").
    public func isStale(_ code: String) -> Bool { latest[code] != nil && current(code) == nil }
}

/// One input of a score: its value, the points it earned, and where it came from.
public struct ScoreComponent: Sendable, Equatable, Codable {
    public var name: String
    public var value: String
    public var points: Int
    public var time: Date?
    public var record: String?

    public init(name: String, value: String, points: Int, time: Date?, record: String?) {
        self.name = name
        self.value = value
        self.points = points
        self.time = time
        self.record = record
    }

    /// A component from a timeline value.
    public init(name: String, _ timed: TimedValue, unit: String? = nil, points: Int) {
        self.init(name: name, value: timed.value.description + (unit.map { " \($0)" } ?? ""), points: points, time: timed.time, record: timed.record)
    }
}

/// A clinical score as of one moment. A score with missing components keeps its partial total, which
/// is a lower bound: it may raise a signal but never counts as normal.
public struct ScoreResult: Sendable, Equatable, Codable {
    public var name: String
    public var total: Int
    public var components: [ScoreComponent]
    /// Inputs that are absent or stale, by name ("heart_rate (stale)").
    public var missing: [String]

    public init(name: String, total: Int, components: [ScoreComponent], missing: [String]) {
        self.name = name
        self.total = total
        self.components = components
        self.missing = missing
    }

    public var isComplete: Bool { missing.isEmpty }

    /// Builds a result from components, summing their points.
    public init(name: String, components: [ScoreComponent], missing: [String]) {
        self.init(name: name, total: components.reduce(0) { $0 + $1.points }, components: components, missing: missing)
    }
}

extension SubjectSnapshot {
    /// "code" or "code (stale)", for a missing input.
    public func missingName(_ code: String) -> String { isStale(code) ? "\(code) (stale)" : code }
}
