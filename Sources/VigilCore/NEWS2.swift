import Foundation

/// National Early Warning Score 2 (Royal College of Physicians. National Early Warning Score (NEWS) 2:
/// Standardising the assessment of acute-illness severity in the NHS. London: RCP, 2017; chart 1).
/// Seven parameters; SpO2 scale 2 for subjects with confirmed hypercapnic respiratory failure.
public enum NEWS2 {
    public static func evaluate(_ s: SubjectSnapshot) -> ScoreResult {
        var components: [ScoreComponent] = []
        var missing: [String] = []
        func score(_ code: String, name: String, unit: String?, _ points: (Double) -> Int) {
            guard let timed = s.current(code), let value = timed.value.number else {
                missing.append(s.missingName(code))
                return
            }
            components.append(ScoreComponent(name: name, timed, unit: unit, points: points(value)))
        }
        score("respiratory_rate", name: "respiration rate", unit: "/min", respirationPoints)
        let onOxygen = oxygen(s)
        if let timed = s.current("spo2"), let spo2 = timed.value.number {
            if s.hypercapnic {
                if let onOxygen {
                    components.append(ScoreComponent(name: "SpO2 (scale 2)", timed, unit: "%", points: spo2Scale2Points(spo2, onOxygen: onOxygen.value)))
                } else {
                    missing.append("oxygen (needed for SpO2 scale 2)")
                }
            } else {
                components.append(ScoreComponent(name: "SpO2 (scale 1)", timed, unit: "%", points: spo2Scale1Points(spo2)))
            }
        } else {
            missing.append(s.missingName("spo2"))
        }
        if let onOxygen {
            components.append(ScoreComponent(name: "air or oxygen", value: onOxygen.value ? "oxygen" : "air", points: onOxygen.value ? 2 : 0,
                                             time: onOxygen.time, record: onOxygen.record))
        } else {
            missing.append(s.missingName("oxygen"))
        }
        score("systolic_bp", name: "systolic blood pressure", unit: "mmHg", systolicPoints)
        score("heart_rate", name: "pulse", unit: "/min", pulsePoints)
        if let timed = s.current("consciousness"), case .text(let level) = timed.value {
            components.append(ScoreComponent(name: "consciousness", timed, points: level == "A" ? 0 : 3))
        } else {
            missing.append(s.missingName("consciousness"))
        }
        score("temperature", name: "temperature", unit: "°C", temperaturePoints)
        return ScoreResult(name: "NEWS2", components: components, missing: missing)
    }

    /// Supplemental oxygen: the `oxygen` flag, or else an FiO2 above room air (0.21).
    static func oxygen(_ s: SubjectSnapshot) -> (value: Bool, time: Date, record: String)? {
        if let timed = s.current("oxygen"), case .flag(let flag) = timed.value { return (flag, timed.time, timed.record) }
        if let timed = s.current("fio2"), let fio2 = timed.value.number { return (fio2 > 0.21, timed.time, timed.record) }
        return nil
    }

    // Bands are closed on the published integer limits and continuous between them, so 20.5 /min
    // scores like 21 (the chart's bands leave no gaps for integer readings).
    public static func respirationPoints(_ rr: Double) -> Int {
        rr <= 8 ? 3 : rr <= 11 ? 1 : rr <= 20 ? 0 : rr <= 24 ? 2 : 3
    }

    public static func spo2Scale1Points(_ spo2: Double) -> Int {
        spo2 <= 91 ? 3 : spo2 <= 93 ? 2 : spo2 <= 95 ? 1 : 0
    }

    public static func spo2Scale2Points(_ spo2: Double, onOxygen: Bool) -> Int {
        if spo2 <= 83 { return 3 }
        if spo2 <= 85 { return 2 }
        if spo2 <= 87 { return 1 }
        if spo2 <= 92 || !onOxygen { return 0 }
        return spo2 <= 94 ? 1 : spo2 <= 96 ? 2 : 3
    }

    public static func systolicPoints(_ sbp: Double) -> Int {
        sbp <= 90 ? 3 : sbp <= 100 ? 2 : sbp <= 110 ? 1 : sbp < 220 ? 0 : 3
    }

    public static func pulsePoints(_ pulse: Double) -> Int {
        pulse <= 40 ? 3 : pulse <= 50 ? 1 : pulse <= 90 ? 0 : pulse <= 110 ? 1 : pulse <= 130 ? 2 : 3
    }

    public static func temperaturePoints(_ celsius: Double) -> Int {
        celsius <= 35.0 ? 3 : celsius <= 36.0 ? 1 : celsius <= 38.0 ? 0 : celsius <= 39.0 ? 1 : 2
    }
}

/// Quick SOFA (Seymour CW et al., JAMA 2016;315(8):762-774): respiratory rate ≥ 22 /min, altered
/// mentation (GCS < 15), systolic blood pressure ≤ 100 mmHg; one point each.
public enum QSOFA {
    public static func evaluate(_ s: SubjectSnapshot) -> ScoreResult {
        var components: [ScoreComponent] = []
        var missing: [String] = []
        if let rr = s.current("respiratory_rate"), let value = rr.value.number {
            components.append(ScoreComponent(name: "respiratory rate ≥ 22", rr, unit: "/min", points: value >= 22 ? 1 : 0))
        } else {
            missing.append(s.missingName("respiratory_rate"))
        }
        // Altered mentation: GCS < 15 (Seymour 2016); an ACVPU level other than A is altered too.
        if let gcs = s.current("gcs"), let value = gcs.value.number {
            components.append(ScoreComponent(name: "altered mentation (GCS < 15)", gcs, points: value < 15 ? 1 : 0))
        } else if let level = s.current("consciousness"), case .text(let text) = level.value {
            components.append(ScoreComponent(name: "altered mentation (ACVPU)", level, points: text == "A" ? 0 : 1))
        } else {
            missing.append(s.missingName("gcs"))
        }
        if let sbp = s.current("systolic_bp"), let value = sbp.value.number {
            components.append(ScoreComponent(name: "systolic BP ≤ 100", sbp, unit: "mmHg", points: value <= 100 ? 1 : 0))
        } else {
            missing.append(s.missingName("systolic_bp"))
        }
        return ScoreResult(name: "qSOFA", components: components, missing: missing)
    }
}

/// Systemic inflammatory response syndrome criteria (Bone RC et al., ACCP/SCCM Consensus Conference,
/// Chest 1992;101:1644-1655): temperature > 38 or < 36 °C; heart rate > 90 /min; respiratory rate
/// > 20 /min or PaCO2 < 32 mmHg; WBC > 12 or < 4 ×10^9/L or > 10 % bands. One point each.
public enum SIRS {
    public static func evaluate(_ s: SubjectSnapshot) -> ScoreResult {
        var components: [ScoreComponent] = []
        var missing: [String] = []
        if let t = s.current("temperature"), let value = t.value.number {
            components.append(ScoreComponent(name: "temperature > 38 or < 36", t, unit: "°C", points: value > 38 || value < 36 ? 1 : 0))
        } else {
            missing.append(s.missingName("temperature"))
        }
        if let hr = s.current("heart_rate"), let value = hr.value.number {
            components.append(ScoreComponent(name: "heart rate > 90", hr, unit: "/min", points: value > 90 ? 1 : 0))
        } else {
            missing.append(s.missingName("heart_rate"))
        }
        let rr = s.current("respiratory_rate")
        let paco2 = s.current("paco2")
        if rr != nil || paco2 != nil {
            let met = (rr?.value.number).map { $0 > 20 } == true || (paco2?.value.number).map { $0 < 32 } == true
            let source = met ? ((rr?.value.number ?? 0) > 20 ? rr! : paco2!) : (rr ?? paco2!)
            components.append(ScoreComponent(name: "respiratory rate > 20 or PaCO2 < 32", value: [rr.map { "RR \($0.value)" }, paco2.map { "PaCO2 \($0.value)" }].compactMap { $0 }.joined(separator: ", "),
                                             points: met ? 1 : 0, time: source.time, record: source.record))
        } else {
            missing.append(s.missingName("respiratory_rate"))
        }
        let wbc = s.current("wbc")
        let bands = s.current("bands")
        if wbc != nil || bands != nil {
            let met = (wbc?.value.number).map { $0 > 12 || $0 < 4 } == true || (bands?.value.number).map { $0 > 10 } == true
            let source = wbc ?? bands!
            components.append(ScoreComponent(name: "WBC > 12 or < 4, or bands > 10 %", value: [wbc.map { "WBC \($0.value)" }, bands.map { "bands \($0.value) %" }].compactMap { $0 }.joined(separator: ", "),
                                             points: met ? 1 : 0, time: source.time, record: source.record))
        } else {
            missing.append(s.missingName("wbc"))
        }
        return ScoreResult(name: "SIRS", components: components, missing: missing)
    }
}
