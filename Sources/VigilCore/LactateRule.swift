import Foundation

/// Lactate signal (docs/ARCHITECTURE.md §4, Sepsis-3: Singer M et al., JAMA 2016;315(8):801-810): blood lactate
/// ≥ 2 mmol/L is `warning` (hypoperfusion criterion of septic shock), ≥ 4 mmol/L is `critical`.
/// Thresholds are configuration; these are the defaults.
public struct LactateRule: Sendable, Equatable {
    public static let ruleID = "lactate"

    public var warningAtOrAbove: Double
    public var criticalAtOrAbove: Double

    public init(warningAtOrAbove: Double = 2.0, criticalAtOrAbove: Double = 4.0) {
        self.warningAtOrAbove = warningAtOrAbove
        self.criticalAtOrAbove = criticalAtOrAbove
    }

    /// Severity of one lactate value in mmol/L, nil below the warning threshold.
    public func severity(mmolPerL value: Double) -> Severity? {
        if value >= criticalAtOrAbove { return .critical }
        if value >= warningAtOrAbove { return .warning }
        return nil
    }

    /// The reading for a subject's current lactate (nil when there is none: no signal can change).
    public func reading(_ snapshot: SubjectSnapshot) -> SignalReading? {
        guard let lactate = snapshot.current("lactate"), let value = lactate.value.number else { return nil }
        return reading(subject: snapshot.subject, value: value, time: lactate.time, record: lactate.record)
    }

    func reading(subject: String, value: Double, time: Date, record: String, asSent: String? = nil) -> SignalReading {
        let severity = severity(mmolPerL: value)
        return SignalReading(rule: Self.ruleID, subject: subject, severity: severity, evidenceTime: time, records: [record]) { [self] in
            let shown = "\(ObservationValue.format(value)) mmol/L"
            var evidence = [Evidence(label: "lactate", value: shown, time: time, record: record)]
            if let asSent { evidence.append(Evidence(label: "lactate as sent", value: asSent, time: time, record: record)) }
            let threshold = severity == .critical ? criticalAtOrAbove : warningAtOrAbove
            return .init(
                value: shown, title: "\(subject) lactate \(shown)",
                reason: severity == nil
                    ? "Lactate \(shown) is below \(ObservationValue.format(warningAtOrAbove)) mmol/L."
                    : "Lactate \(shown) ≥ \(ObservationValue.format(threshold)) mmol/L (\(severity!.rawValue) threshold; Sepsis-3, Singer et al. JAMA 2016).",
                action: severity == .critical
                    ? "Review the subject now: assess perfusion, mean arterial pressure and vasopressor need, and the infection work-up; repeat lactate."
                    : "Review the subject: look for hypoperfusion or infection and repeat lactate.",
                evidence: evidence)
        }
    }

    /// Evaluates one lactate observation against the subject's signal state (see `SignalEngine`).
    public func evaluate(_ observation: Observation, previous: SignalState?, trial: String, now: Date) -> SignalOutcome? {
        guard observation.code == "lactate", let value = observation.value.number else { return nil }
        let asSent = observation.originalUnit.flatMap { unit in
            unit.lowercased() == "mmol/l" ? nil : observation.originalValue.map { "\($0) \(unit)" }
        }
        let reading = reading(subject: observation.subject, value: value, time: observation.time, record: observation.id, asSent: asSent)
        return SignalEngine.advance(reading, previous: previous, trial: trial, now: now)
    }
}
