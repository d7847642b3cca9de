import Foundation

/// Sequential (Sepsis-related) Organ Failure Assessment (Vincent JL, Moreno R, Takala J, et al. The SOFA
/// (Sepsis-related Organ Failure Assessment) score to describe organ dysfunction/failure. Intensive Care
/// Med 1996;22:707-710, table 1; reproduced as table 1 of Singer M et al., JAMA 2016;315(8):801-810).
/// Six organ systems scored 0–4. An organ whose inputs are missing or stale contributes no component and
/// 0 points, and its inputs are listed in `missing`, so a partial total is a lower bound.
public enum SOFAScore {
    public static let name = "SOFA"

    public static func evaluate(_ s: SubjectSnapshot) -> ScoreResult {
        var components: [ScoreComponent] = []
        var missing: [String] = []
        for organ in [respiration, coagulation, liver, cardiovascular, cns, renal] {
            let (component, absent) = organ(s)
            if let component { components.append(component) }
            missing += absent
        }
        return ScoreResult(name: name, components: components, missing: missing)
    }

    // MARK: Organ scores from a snapshot

    typealias Organ = (component: ScoreComponent?, missing: [String])

    static func respiration(_ s: SubjectSnapshot) -> Organ {
        let pao2 = s.current("pao2")
        let fio2 = s.current("fio2")
        guard let pao2, let paO2 = pao2.value.number, let fio2, let fiO2 = fio2.value.number, fiO2 > 0 else {
            var absent: [String] = []
            if pao2?.value.number == nil { absent.append(s.missingName("pao2")) }
            if (fio2?.value.number ?? 0) <= 0 { absent.append(s.missingName("fio2")) }
            return (nil, absent)
        }
        // An absent or stale support flag is read as "no support": that can only lower the points
        // (the cap at 2), so the score stays a lower bound.
        let supported: Bool
        if let flag = s.current("respiratory_support"), case .flag(true) = flag.value { supported = true } else { supported = false }
        let ratio = paO2 / fiO2
        let points = respirationPoints(pfRatio: ratio, respiratorySupport: supported)
        var text = "PaO2/FiO2 \(ObservationValue.format(ratio)) mmHg (PaO2 \(ObservationValue.format(paO2)) mmHg, FiO2 \(ObservationValue.format(fiO2))), "
        text += supported ? "respiratory support" : "no respiratory support"
        if !supported && ratio < 200 { text += " (capped at 2)" }
        // The blood gas is the measurement the points rest on, so it is the one cited.
        return (ScoreComponent(name: "respiration", value: text, points: points, time: pao2.time, record: pao2.record), [])
    }

    static func coagulation(_ s: SubjectSnapshot) -> Organ {
        guard let timed = s.current("platelets"), let value = timed.value.number else { return (nil, [s.missingName("platelets")]) }
        return (ScoreComponent(name: "coagulation", value: "platelets \(ObservationValue.format(value)) ×10^9/L",
                               points: coagulationPoints(platelets: value), time: timed.time, record: timed.record), [])
    }

    static func liver(_ s: SubjectSnapshot) -> Organ {
        guard let timed = s.current("bilirubin"), let value = timed.value.number else { return (nil, [s.missingName("bilirubin")]) }
        let text = "bilirubin \(ObservationValue.format(value)) µmol/L (\(ObservationValue.format(bilirubinMgPerDL(value))) mg/dL)"
        return (ScoreComponent(name: "liver", value: text, points: liverPoints(bilirubinMicromolPerL: value),
                               time: timed.time, record: timed.record), [])
    }

    static let vasopressorCodes = ["dopamine", "dobutamine", "epinephrine", "norepinephrine"]

    static func cardiovascular(_ s: SubjectSnapshot) -> Organ {
        var absent: [String] = []
        var running: [(code: String, timed: TimedValue, dose: Double)] = []
        for code in vasopressorCodes {
            if let timed = s.current(code), let dose = timed.value.number {
                if dose > 0 { running.append((code, timed, dose)) }
            } else if let old = s.latest[code], (old.value.number ?? 0) > 0 {
                // A stale dose that was running may still be running: unknown, not "off". An old
                // zero (infusion stopped) or no record at all is read as not running.
                absent.append(s.missingName(code))
            }
        }
        let mapTimed = s.current("mean_arterial_pressure")
        let map = mapTimed?.value.number
        let dose = { (code: String) in running.first { $0.code == code }?.dose }
        let points = cardiovascularPoints(map: map, dopamine: dose("dopamine"), dobutamine: dose("dobutamine"),
                                          epinephrine: dose("epinephrine"), norepinephrine: dose("norepinephrine"))
        // Any running vasopressor scores at least 2, more than MAP alone can (1), so MAP is only
        // missing when no vasopressor is running.
        if map == nil && running.isEmpty { absent.insert(s.missingName("mean_arterial_pressure"), at: 0) }
        guard map != nil || !running.isEmpty else { return (nil, absent) }

        var parts: [String] = []
        if let map { parts.append("MAP \(ObservationValue.format(map)) mmHg") } else { parts.append("MAP not available") }
        parts += running.map { "\($0.code) \(ObservationValue.format($0.dose)) µg/kg/min" }
        // Cite the input that set the points: the strongest vasopressor, or MAP when none runs.
        let cited: TimedValue? = running.max { vasopressorPoints($0.code, $0.dose) < vasopressorPoints($1.code, $1.dose) }?.timed ?? mapTimed
        return (ScoreComponent(name: "cardiovascular", value: parts.joined(separator: ", "), points: points,
                               time: cited?.time, record: cited?.record), absent)
    }

    static func cns(_ s: SubjectSnapshot) -> Organ {
        guard let timed = s.current("gcs"), let value = timed.value.number else { return (nil, [s.missingName("gcs")]) }
        return (ScoreComponent(name: "cns", value: "GCS \(ObservationValue.format(value))", points: cnsPoints(gcs: value),
                               time: timed.time, record: timed.record), [])
    }

    static func renal(_ s: SubjectSnapshot) -> Organ {
        let creatinine = s.current("creatinine").flatMap { t in t.value.number.map { (t, $0) } }
        let urine = s.current("urine_output").flatMap { t in t.value.number.map { (t, $0) } }
        guard creatinine != nil || urine != nil else {
            return (nil, [s.missingName("creatinine"), s.missingName("urine_output")])
        }
        let creatininePoints = creatinine.map { renalPoints(creatinineMicromolPerL: $0.1) } ?? 0
        let urinePoints = urine.map { renalPoints(urineOutputMLPerDay: $0.1) } ?? 0
        var parts: [String] = []
        if case let (_, value)? = creatinine {
            parts.append("creatinine \(ObservationValue.format(value)) µmol/L (\(ObservationValue.format(creatinineMgPerDL(value))) mg/dL)")
        }
        if case let (_, value)? = urine { parts.append("urine output \(ObservationValue.format(value)) mL/24 h") }
        // Without creatinine only a urine output < 200 mL/day (already the maximum, 4) is final.
        let absent = creatinine == nil && urinePoints < 4 ? [s.missingName("creatinine")] : []
        let cited = (urinePoints > creatininePoints ? urine?.0 : creatinine?.0) ?? urine?.0
        return (ScoreComponent(name: "renal", value: parts.joined(separator: ", "), points: max(creatininePoints, urinePoints),
                               time: cited?.time, record: cited?.record), absent)
    }

    // MARK: Points per organ (Vincent 1996, table 1)

    /// PaO2/FiO2 in mmHg. Points 3 and 4 require respiratory support; without it the score stops at 2.
    public static func respirationPoints(pfRatio: Double, respiratorySupport: Bool) -> Int {
        let points = pfRatio < 100 ? 4 : pfRatio < 200 ? 3 : pfRatio < 300 ? 2 : pfRatio < 400 ? 1 : 0
        return respiratorySupport ? points : min(points, 2)
    }

    /// Platelets in 10^9/L (numerically the paper's ×10^3/µL).
    public static func coagulationPoints(platelets: Double) -> Int {
        platelets < 20 ? 4 : platelets < 50 ? 3 : platelets < 100 ? 2 : platelets < 150 ? 1 : 0
    }

    /// Bilirubin in µmol/L, scored on the paper's mg/dL bands (<1.2, 1.2–1.9, 2.0–5.9, 6.0–11.9, ≥12.0).
    /// The paper's rounded µmol/L column (20, 33, 102, 204) does not match its mg/dL column exactly, so the
    /// mg/dL limits are taken as authoritative and the gaps between bands (1.9–2.0) close upward.
    public static func liverPoints(bilirubinMicromolPerL value: Double) -> Int {
        let mg = bilirubinMgPerDL(value)
        return mg < 1.2 ? 0 : mg < 2.0 ? 1 : mg < 6.0 ? 2 : mg < 12.0 ? 3 : 4
    }

    /// Highest of MAP < 70 mmHg (1) and the vasopressor tiers (µg/kg/min; nil or 0 = not running):
    /// dopamine ≤ 5 or any dobutamine (2); dopamine > 5, epinephrine ≤ 0.1 or norepinephrine ≤ 0.1 (3);
    /// dopamine > 15, epinephrine > 0.1 or norepinephrine > 0.1 (4).
    public static func cardiovascularPoints(map: Double?, dopamine: Double? = nil, dobutamine: Double? = nil,
                                            epinephrine: Double? = nil, norepinephrine: Double? = nil) -> Int {
        var points = (map ?? .infinity) < 70 ? 1 : 0
        for (code, dose) in [("dopamine", dopamine), ("dobutamine", dobutamine), ("epinephrine", epinephrine), ("norepinephrine", norepinephrine)] {
            if let dose { points = max(points, vasopressorPoints(code, dose)) }
        }
        return points
    }

    static func vasopressorPoints(_ code: String, _ dose: Double) -> Int {
        guard dose > 0 else { return 0 }
        switch code {
        case "dopamine": return dose > 15 ? 4 : dose > 5 ? 3 : 2
        case "dobutamine": return 2
        case "epinephrine", "norepinephrine": return dose > 0.1 ? 4 : 3
        default: return 0
        }
    }

    /// Glasgow Coma Scale 3–15.
    public static func cnsPoints(gcs: Double) -> Int {
        gcs >= 15 ? 0 : gcs >= 13 ? 1 : gcs >= 10 ? 2 : gcs >= 6 ? 3 : 4
    }

    /// Creatinine in µmol/L, scored on the paper's mg/dL bands (<1.2, 1.2–1.9, 2.0–3.4, 3.5–4.9, ≥5.0).
    public static func renalPoints(creatinineMicromolPerL value: Double) -> Int {
        let mg = creatinineMgPerDL(value)
        return mg < 1.2 ? 0 : mg < 2.0 ? 1 : mg < 3.5 ? 2 : mg < 5.0 ? 3 : 4
    }

    /// Urine output in mL per 24 h: < 500 scores 3, < 200 scores 4.
    public static func renalPoints(urineOutputMLPerDay value: Double) -> Int {
        value < 200 ? 4 : value < 500 ? 3 : 0
    }

    // Rounding to 1e-6 mg/dL (far below reporting precision) undoes the floating-point error of
    // mg/dL → µmol/L → mg/dL, so a laboratory's 1.2 mg/dL (stored as 106.08 µmol/L) lands on the
    // published boundary instead of 1.1999999.
    static func bilirubinMgPerDL(_ micromolPerL: Double) -> Double { roundMicro(micromolPerL / 17.1) }
    static func creatinineMgPerDL(_ micromolPerL: Double) -> Double { roundMicro(micromolPerL / 88.4) }
    static func roundMicro(_ value: Double) -> Double { (value * 1e6).rounded() / 1e6 }
}
