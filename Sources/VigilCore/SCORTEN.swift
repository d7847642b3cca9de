import Foundation

/// Severity-of-illness score for toxic epidermal necrolysis (Bastuji-Garin S, Fouchard N, Bertocchi M,
/// Roujeau JC, Revuz J, Wolkenstein P. SCORTEN: a severity-of-illness score for toxic epidermal
/// necrolysis. J Invest Dermatol 2000;115:149-153). Seven risk factors, one point each; the paper
/// scores them within 24 h of admission, so the caller picks the snapshot time. A missing factor scores
/// 0 and is listed in `missing`, so a partial total is a lower bound.
public enum SCORTEN {
    public static let name = "SCORTEN"

    public static func evaluate(_ s: SubjectSnapshot) -> ScoreResult {
        var components: [ScoreComponent] = []
        var missing: [String] = []

        if let text = s.enrolment["age"], let age = CanonicalCodes.parseNumber(text) {
            components.append(ScoreComponent(name: "age ≥ 40", value: "\(ObservationValue.format(age)) years",
                                             points: age >= 40 ? 1 : 0, time: nil, record: nil))
        } else {
            missing.append("age")
        }
        if let text = s.enrolment["malignancy"], let malignancy = flag(text) {
            components.append(ScoreComponent(name: "malignancy", value: malignancy ? "yes" : "no",
                                             points: malignancy ? 1 : 0, time: nil, record: nil))
        } else {
            missing.append("malignancy")
        }

        func factor(_ code: String, _ name: String, unit: String, _ met: (Double) -> Bool) {
            guard let timed = s.current(code), let value = timed.value.number else {
                missing.append(s.missingName(code))
                return
            }
            components.append(ScoreComponent(name: name, timed, unit: unit, points: met(value) ? 1 : 0))
        }
        factor("heart_rate", "heart rate ≥ 120", unit: "/min") { $0 >= 120 }
        factor("bsa_detached", "detached BSA > 10 %", unit: "%") { $0 > 10 }
        factor("urea", "serum urea > 10", unit: "mmol/L") { $0 > 10 }
        factor("bicarbonate", "serum bicarbonate < 20", unit: "mmol/L") { $0 < 20 }
        factor("glucose", "serum glucose > 14", unit: "mmol/L") { $0 > 14 }

        return ScoreResult(name: name, components: components, missing: missing)
    }

    /// Probability of hospital death for a SCORTEN total (0–7), from the paper's logistic model:
    /// logit = −4.448 + 1.237 × score.
    public static func predictedMortality(score: Int) -> Double {
        let logit = -4.448 + 1.237 * Double(score)
        return 1 / (1 + exp(-logit))
    }

    // Enrolment facts come from free-text forms; an unrecognised answer is unknown, never "no".
    static func flag(_ text: String) -> Bool? {
        // Asked at every evaluation: an answer that is plain ASCII without spaces skips Foundation's trim.
        let plain = text.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        return switch (plain ? text : text.trimmingCharacters(in: .whitespaces)).lowercased() {
        case "true", "yes", "1": true
        case "false", "no", "0": false
        default: nil
        }
    }
}
