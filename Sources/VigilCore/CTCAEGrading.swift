import Foundation

/// A CTCAE adverse-event term and its grade (1–4).
public struct CTCAEGrade: Sendable, Equatable {
    /// The CTCAE v5.0 term, e.g. "Platelet count decreased".
    public var term: String
    public var grade: Int

    public init(term: String, grade: Int) {
        self.term = term
        self.grade = grade
    }
}

/// Laboratory grading by the National Cancer Institute's Common Terminology Criteria for Adverse Events
/// v5.0 (U.S. Department of Health and Human Services, NIH/NCI, published November 27, 2017;
/// https://ctep.cancer.gov/protocoldevelopment/electronic_applications/ctc.htm#ctc_50).
///
/// Only the numeric laboratory criteria are applied. Where CTCAE needs clinical context the laboratory
/// value cannot give, the grade is the lowest the value alone supports: hypokalaemia <LLN–3.0 mmol/L is
/// grade 1 (grade 2 needs symptoms), hyponatraemia 125–129 mmol/L is grade 2 (grade 3 if symptomatic),
/// anaemia never reaches grade 4 (no laboratory criterion). ALT, AST and bilirubin use the
/// "baseline was normal" (×ULN) criteria and creatinine the ×ULN criteria; the ×baseline alternatives
/// need a baseline this function is not given.
public struct CTCAEGrading: Sendable {
    /// Reference limits used when a result carries none, by canonical code, in canonical units.
    public var defaultLimits: [String: (low: Double?, high: Double?)]

    public init(defaultLimits: [String: (low: Double?, high: Double?)] = CTCAEGrading.defaultReferenceLimits) {
        self.defaultLimits = defaultLimits
    }

    /// Defaults for `clinical.reference_limits` in vigil.yaml: typical adult reference intervals, used only when the laboratory
    /// sends no range of its own. They are not part of CTCAE (which defers to each laboratory's
    /// LLN/ULN); sites should replace them with their own laboratory's intervals.
    /// - platelets LLN 150 ×10^9/L; white cells LLN 4.0 ×10^9/L; neutrophils LLN 2.0 ×10^9/L.
    /// - hemoglobin LLN 12.0 g/dL: a common lower adult limit (the lower, female one, so men are not
    ///   over-graded).
    /// - ALT and AST ULN 40 U/L; bilirubin ULN 21 µmol/L (≈ 1.2 mg/dL).
    /// - creatinine ULN 106 µmol/L (1.2 mg/dL, a typical adult male limit; women's limits are lower,
    ///   so a site without sex-specific ranges under-grades women rather than over-grades men).
    /// - potassium 3.5–5.0 mmol/L; sodium 135–145 mmol/L.
    public static let defaultReferenceLimits: [String: (low: Double?, high: Double?)] = [
        "platelets": (150, nil),
        "wbc": (4.0, nil),
        "neutrophils": (2.0, nil),
        "hemoglobin": (12.0, nil),
        "alt": (nil, 40),
        "ast": (nil, 40),
        "bilirubin": (nil, 21),
        "creatinine": (nil, 106),
        "potassium": (3.5, 5.0),
        "sodium": (135, 145),
    ]

    /// The CTCAE grade of one result in Vigil's canonical unit for `code`, using the result's own
    /// limits where given and the default limits otherwise. Nil when within range (grade 0), when the
    /// code has no laboratory grading here, or when a ×ULN grade is needed and no ULN is known.
    public func grade(code: String, value: Double, low: Double?, high: Double?) -> CTCAEGrade? {
        guard value.isFinite else { return nil }
        let lln = low ?? defaultLimits[code]?.low
        let uln = high ?? defaultLimits[code]?.high
        switch code {
        case "platelets":
            return decrease("Platelet count decreased", value, lln: lln, grade2Below: 75, grade3Below: 50, grade4Below: 25)
        case "neutrophils":
            return decrease("Neutrophil count decreased", value, lln: lln, grade2Below: 1.5, grade3Below: 1.0, grade4Below: 0.5)
        case "wbc":
            return decrease("White blood cell decreased", value, lln: lln, grade2Below: 3.0, grade3Below: 2.0, grade4Below: 1.0)
        case "hemoglobin":
            return decrease("Anemia", value, lln: lln, grade2Below: 10.0, grade3Below: 8.0, grade4Below: nil)
        case "alt":
            return multipleOfULN("Alanine aminotransferase increased", value, uln: uln, above: [1, 3, 5, 20])
        case "ast":
            return multipleOfULN("Aspartate aminotransferase increased", value, uln: uln, above: [1, 3, 5, 20])
        case "bilirubin":
            return multipleOfULN("Blood bilirubin increased", value, uln: uln, above: [1, 1.5, 3, 10])
        case "creatinine":
            return multipleOfULN("Creatinine increased", value, uln: uln, above: [1, 1.5, 3, 6])
        case "potassium":
            if let high = increase("Hyperkalemia", value, uln: uln, grade2Above: 5.5, grade3Above: 6.0, grade4Above: 7.0) { return high }
            // Grade 2 hypokalaemia is "symptomatic with <LLN–3.0", so a value alone stays grade 1.
            return decrease("Hypokalemia", value, lln: lln, grade2Below: nil, grade3Below: 3.0, grade4Below: 2.5)
        case "sodium":
            if let high = increase("Hypernatremia", value, uln: uln, grade2Above: 150, grade3Above: 155, grade4Above: 160) { return high }
            // v5.0 writes 125–129 (grade 2 if asymptomatic) and 120–124 (grade 3 regardless); values
            // between the integers close downward (<130 is grade 2, <125 grade 3), the higher grade.
            return decrease("Hyponatremia", value, lln: lln, grade2Below: 130, grade3Below: 125, grade4Below: 120)
        default:
            return nil
        }
    }

    /// Grades for "<LLN – a" (1), "<a – b" (2), "<b – c" (3), "<c" (4). The absolute bands apply even
    /// when a laboratory's LLN is unusually low; only grade 1 depends on the LLN.
    func decrease(_ term: String, _ value: Double, lln: Double?, grade2Below: Double?, grade3Below: Double?, grade4Below: Double?) -> CTCAEGrade? {
        let grade: Int
        if let limit = grade4Below, value < limit { grade = 4 }
        else if let limit = grade3Below, value < limit { grade = 3 }
        else if let limit = grade2Below, value < limit { grade = 2 }
        else if let lln, value < lln { grade = 1 }
        else { return nil }
        return CTCAEGrade(term: term, grade: grade)
    }

    func increase(_ term: String, _ value: Double, uln: Double?, grade2Above: Double, grade3Above: Double, grade4Above: Double) -> CTCAEGrade? {
        let grade: Int
        if value > grade4Above { grade = 4 }
        else if value > grade3Above { grade = 3 }
        else if value > grade2Above { grade = 2 }
        else if let uln, value > uln { grade = 1 }
        else { return nil }
        return CTCAEGrade(term: term, grade: grade)
    }

    /// `above` holds the ×ULN multiples that grades 1–4 must exceed.
    func multipleOfULN(_ term: String, _ value: Double, uln: Double?, above: [Double]) -> CTCAEGrade? {
        guard let uln, uln > 0 else { return nil }
        // Rounded so that a value exactly on a multiple (e.g. 3.0 × ULN) is not pushed over it by
        // floating-point error in the division.
        let ratio = ((value / uln) * 1e9).rounded() / 1e9
        guard let index = above.lastIndex(where: { ratio > $0 }) else { return nil }
        return CTCAEGrade(term: term, grade: index + 1)
    }
}
