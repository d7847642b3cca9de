import Foundation

/// The thresholds of the clinical signals (docs/ARCHITECTURE.md §4). Each default is the published value named
/// beside it; a site changes them in `vigil.yaml`, never in code.
public struct ClinicalRules: Sendable, Equatable {
    /// A signal that ends and starts again within this time continues the same episode (no new mail);
    /// 0 turns the hold-down off. Site choice, default 2 h (`rules.hold_down_minutes`).
    public var holdDown: TimeInterval = 2 * 3600
    public var lactate = LactateRule()
    /// NEWS2 (RCP 2017): aggregate 5–6 or any single parameter scoring 3 → urgent response (`warning`);
    /// ≥ 7 → emergency response (`critical`).
    public var news2Warning = 5
    public var news2Critical = 7
    /// qSOFA ≥ 2 (Seymour 2016) → `warning`.
    public var qsofaWarning = 2
    /// SIRS ≥ 2 criteria (Bone 1992) → `info` only: fever and tachycardia are near-universal in TEN.
    public var sirsInfo = 2
    /// Sepsis-3 (Singer 2016): an acute SOFA rise ≥ 2 with suspected infection → `critical`.
    public var sofaRise = 2
    /// Procalcitonin above which infection is suspected, µg/L. Default 0.5 µg/L, the antibiotic
    /// threshold of the PRORATA trial (Bouadma L et al., Lancet 2010;375:463-474); nil disables.
    public var procalcitoninAbove: Double? = 0.5
    /// CRP above which infection is suspected, mg/L. No published cut-off separates infection from
    /// the inflammation of SJS/TEN, so the default is off; a site may set one.
    public var crpAbove: Double?
    /// An adverse event whose term matches this pattern, not yet recovered, is a suspected infection.
    public var infectionTermPattern = "(?i)(sepsis|septic|infection|bacteraemia|bacteremia|cellulitis|pneumonia)"
    /// Septic shock (Sepsis-3): vasopressor to keep MAP ≥ 65 mmHg and lactate > 2 mmol/L despite it.
    public var septicShockMAPBelow = 65.0
    public var septicShockLactateAbove = 2.0
    /// SCORTEN ≥ 3 → `critical` (ICU or burn-unit level care; Bastuji-Garin 2000).
    public var scortenCritical = 3
    /// Detached body surface ≥ 30 % (TEN by the Bastuji-Garin 1993 classification) → `critical`.
    public var bsaCritical = 30.0
    /// SpO2 below this while on supplemental oxygen → `critical` (NEWS2 scale 1 scores ≤ 91 % as 3).
    public var spo2OnOxygenBelow = 92.0
    public var freshness = Freshness()

    public init() {}
}

/// Computes every snapshot-based signal of docs/ARCHITECTURE.md §4 for one subject at one moment. Pure: the
/// caller supplies the snapshot, the SOFA baseline and the infection evidence.
public struct ClinicalSignals: Sendable {
    public var rules: ClinicalRules
    public var ctcae: CTCAEGrading

    public init(rules: ClinicalRules, ctcae: CTCAEGrading = CTCAEGrading()) {
        self.rules = rules
        self.ctcae = ctcae
    }

    /// Codes graded against CTCAE v5.0.
    public static let gradedCodes = ["platelets", "neutrophils", "wbc", "hemoglobin", "alt", "ast", "bilirubin", "creatinine", "potassium", "sodium"]
    /// Their rule ids, made once.
    static let ctcaeRules = Dictionary(uniqueKeysWithValues: gradedCodes.map { ($0, "ctcae-\($0)") })

    /// `sofa`: the snapshot's SOFA when the caller has computed it already (for the baseline).
    /// `only`: the signals to read besides SOFA and SCORTEN (`SignalDependencies.due`); nil reads all.
    public func readings(_ s: SubjectSnapshot, sofaBaseline: Int, infection: [Evidence], sofa precomputed: ScoreResult? = nil,
                         only: Set<SignalDependencies.Signal>? = nil) -> [SignalReading] {
        func wanted(_ signal: SignalDependencies.Signal) -> Bool { only?.contains(signal) ?? true }
        var out: [SignalReading] = []
        if wanted(.lactate), let lactate = rules.lactate.reading(s) { out.append(lactate) }
        if wanted(.news2) { out.append(news2(s)) }
        if wanted(.qsofa) {
            out.append(scoreReading(QSOFA.evaluate(s), s, rule: "qsofa", severity: { $0 >= rules.qsofaWarning ? .warning : nil },
                                    reason: "qSOFA ≥ \(rules.qsofaWarning) (Seymour et al., JAMA 2016): risk of poor outcome if infected.",
                                    action: "Assess for infection and organ dysfunction (full SOFA, lactate, cultures); review within the hour."))
        }
        if wanted(.sirs) {
            out.append(scoreReading(SIRS.evaluate(s), s, rule: "sirs", severity: { $0 >= rules.sirsInfo ? .info : nil },
                                    reason: "SIRS ≥ \(rules.sirsInfo) criteria (ACCP/SCCM 1992); informational, since fever and tachycardia are common in TEN.",
                                    action: "No action from this alone; read with SOFA, lactate and cultures."))
        }
        // The culture before the sepsis it makes suspected, so a reader of the journal sees cause first.
        if wanted(.bloodCulture), let culture = bloodCulture(s) { out.append(culture) }
        out.append(sofa(s, baseline: sofaBaseline, infection: infection, result: precomputed ?? SOFAScore.evaluate(s)))
        if wanted(.septicShock), let shock = septicShock(s) { out.append(shock) }
        out.append(scoreReading(SCORTEN.evaluate(s), s, rule: "scorten", severity: { $0 >= rules.scortenCritical ? .critical : nil },
                                reason: "SCORTEN ≥ \(rules.scortenCritical) (Bastuji-Garin et al., J Invest Dermatol 2000).",
                                action: "Discuss transfer to an intensive-care or burn unit.") { total in
            " (predicted mortality \(Int((SCORTEN.predictedMortality(score: total) * 100).rounded())) %)"
        })
        if wanted(.bsaDetached), let bsa = threshold(s, code: "bsa_detached", rule: "bsa-detached", unit: "%", test: { $0 >= rules.bsaCritical },
                                                     reason: "Detached body surface ≥ \(ObservationValue.format(rules.bsaCritical)) % (TEN range).",
                                                     action: "Discuss transfer to an intensive-care or burn unit.") { out.append(bsa) }
        if wanted(.spo2OnOxygen), let desaturation = spo2OnOxygen(s) { out.append(desaturation) }
        for code in Self.gradedCodes where wanted(.ctcae(code)) { if let reading = ctcaeReading(s, code: code) { out.append(reading) } }
        return out
    }

    func evidence(_ result: ScoreResult) -> [Evidence] {
        result.components.map { Evidence(label: "\($0.name) (\($0.points))", value: $0.value, time: $0.time, record: $0.record) }
            + result.missing.map { Evidence(label: "missing", value: $0, time: nil, record: nil) }
    }

    /// The distinct records behind a score, sorted (a handful: sorting and dropping repeats costs
    /// less than a set).
    func records(_ result: ScoreResult) -> [String] {
        var ids = result.components.compactMap(\.record)
        ids.sort()
        var previous: String?
        ids.removeAll { id in
            defer { previous = id }
            return id == previous
        }
        return ids
    }

    func newestTime(_ result: ScoreResult, _ s: SubjectSnapshot) -> Date {
        result.components.compactMap(\.time).max() ?? s.asOf
    }

    /// A reading from a total score; an incomplete score below the threshold is inconclusive.
    /// The texts (`reason`, the title's `suffix`) are made only when an alert is: most readings raise none.
    func scoreReading(_ result: ScoreResult, _ s: SubjectSnapshot, rule: String, severity: (Int) -> Severity?,
                      reason: @autoclosure @escaping @Sendable () -> String, action: String,
                      suffix: @escaping @Sendable (Int) -> String = { _ in "" }) -> SignalReading {
        let level = severity(result.total)
        let subject = s.subject
        return SignalReading(rule: rule, subject: subject, severity: level, conclusive: level != nil || result.isComplete,
                             evidenceTime: newestTime(result, s), records: records(result)) { [self] in
            .init(value: "\(result.total)" + (result.isComplete ? "" : " (partial: \(result.missing.count) missing)"),
                  title: "\(subject) \(result.name) \(result.total)\(suffix(result.total))", reason: reason(), action: action,
                  evidence: evidence(result))
        }
    }

    func news2(_ s: SubjectSnapshot) -> SignalReading {
        let result = NEWS2.evaluate(s)
        let single = result.components.first { $0.points == 3 }
        let severity: Severity? = result.total >= rules.news2Critical ? .critical
            : result.total >= rules.news2Warning || single != nil ? .warning : nil
        return SignalReading(rule: "news2", subject: s.subject, severity: severity, conclusive: severity != nil || result.isComplete,
                             evidenceTime: newestTime(result, s), records: records(result)) { [self] in
            var reason = "NEWS2 \(result.total) (RCP 2017)."
            var action = "Continue routine monitoring."
            if severity == .critical {
                reason = "NEWS2 \(result.total) ≥ \(rules.news2Critical): emergency response threshold (RCP 2017)."
                action = "Emergency assessment by a team with critical-care competencies; consider transfer to intensive care."
            } else if severity == .warning {
                reason = result.total >= rules.news2Warning
                    ? "NEWS2 \(result.total) ≥ \(rules.news2Warning): urgent response threshold (RCP 2017)."
                    : "NEWS2 \(result.total) with a single parameter scoring 3 (\(single!.name)): urgent ward-based response (RCP 2017)."
                action = "Urgent review by a clinician competent in acute illness; increase observations to at least hourly."
            }
            return .init(value: "\(result.total)" + (result.isComplete ? "" : " (partial)"), title: "\(s.subject) NEWS2 \(result.total)",
                         reason: reason, action: action, evidence: evidence(result))
        }
    }

    func sofa(_ s: SubjectSnapshot, baseline: Int, infection: [Evidence], result: ScoreResult) -> SignalReading {
        let rise = result.total - baseline
        let suspected = !infection.isEmpty
        let met = rise >= rules.sofaRise && suspected
        return SignalReading(
            rule: "sofa-sepsis", subject: s.subject, severity: met ? .critical : nil,
            // Only a complete SOFA without the rise ends the signal: evidence of infection going stale
            // (a culture older than its window) says nothing about the organ dysfunction.
            conclusive: met || (result.isComplete && rise < rules.sofaRise),
            evidenceTime: newestTime(result, s), records: records(result) + infection.compactMap(\.record)) { [self] in
            var evidence = evidence(result)
            evidence.insert(Evidence(label: "SOFA rise", value: "\(result.total) − baseline \(baseline) = \(rise)", time: nil, record: nil), at: 0)
            evidence += infection
            return .init(
                value: "SOFA +\(rise)", title: "\(s.subject) possible sepsis: SOFA +\(rise)",
                reason: "SOFA rose by \(rise) (≥ \(rules.sofaRise)) over the subject's baseline of \(baseline) with suspected infection (Sepsis-3, Singer et al. JAMA 2016).",
                action: "Treat as sepsis until proven otherwise: senior review now, cultures, lactate, antimicrobials per local protocol; consider intensive care.",
                evidence: evidence)
        }
    }

    func septicShock(_ s: SubjectSnapshot) -> SignalReading? {
        guard let map = s.current("mean_arterial_pressure"), let lactate = s.current("lactate"),
              let mapValue = map.value.number, let lactateValue = lactate.value.number else { return nil }
        let pressors = ["norepinephrine", "epinephrine", "dopamine", "dobutamine"].compactMap { code in
            s.current(code).flatMap { timed in (timed.value.number ?? 0) > 0 ? (code, timed) : nil }
        }
        let met = mapValue < rules.septicShockMAPBelow && !pressors.isEmpty && lactateValue > rules.septicShockLactateAbove
        let evidence = [Evidence(label: "MAP", value: "\(map.value) mmHg", time: map.time, record: map.record),
                        Evidence(label: "lactate", value: "\(lactate.value) mmol/L", time: lactate.time, record: lactate.record)]
            + pressors.map { Evidence(label: $0.0, value: "\($0.1.value) µg/kg/min", time: $0.1.time, record: $0.1.record) }
        return SignalReading(
            rule: "septic-shock", subject: s.subject, severity: met ? .critical : nil, value: "MAP \(map.value), lactate \(lactate.value)",
            title: "\(s.subject) septic shock: MAP \(map.value) mmHg on vasopressor, lactate \(lactate.value) mmol/L",
            reason: "MAP < \(ObservationValue.format(rules.septicShockMAPBelow)) mmHg despite vasopressor and lactate > \(ObservationValue.format(rules.septicShockLactateAbove)) mmol/L (Sepsis-3 septic shock).",
            action: "Emergency: intensive-care team now.", evidence: evidence,
            evidenceTime: max(map.time, lactate.time), records: [map.record, lactate.record] + pressors.map(\.1.record))
    }

    func bloodCulture(_ s: SubjectSnapshot) -> SignalReading? {
        guard let culture = s.current("blood_culture"), case .text(let result) = culture.value else { return nil }
        let positive = result == "positive"
        return SignalReading(
            rule: "blood-culture", subject: s.subject, severity: positive ? .critical : nil, value: result,
            title: "\(s.subject) positive blood culture", reason: "A blood culture is positive.",
            action: "Review now: source, antimicrobials per local protocol, repeat cultures; check SOFA and lactate.",
            evidence: [Evidence(label: "blood culture", value: result, time: culture.time, record: culture.record)],
            evidenceTime: culture.time, records: [culture.record])
    }

    func threshold(_ s: SubjectSnapshot, code: String, rule: String, unit: String, test: (Double) -> Bool,
                   reason: @autoclosure @escaping @Sendable () -> String, action: String) -> SignalReading? {
        guard let timed = s.current(code), let value = timed.value.number else { return nil }
        return SignalReading(rule: rule, subject: s.subject, severity: test(value) ? .critical : nil, evidenceTime: timed.time, records: [timed.record]) {
            .init(value: "\(timed.value) \(unit)", title: "\(s.subject) \(code.replacingOccurrences(of: "_", with: " ")) \(timed.value) \(unit)",
                  reason: reason(), action: action, evidence: [Evidence(label: code, value: "\(timed.value) \(unit)", time: timed.time, record: timed.record)])
        }
    }

    func spo2OnOxygen(_ s: SubjectSnapshot) -> SignalReading? {
        guard let spo2 = s.current("spo2"), let value = spo2.value.number, let oxygen = NEWS2.oxygen(s) else { return nil }
        let met = oxygen.value && value < rules.spo2OnOxygenBelow
        return SignalReading(rule: "spo2-on-oxygen", subject: s.subject, severity: met ? .critical : nil,
                             evidenceTime: max(spo2.time, oxygen.time), records: [spo2.record]) { [rules] in
            .init(value: "\(spo2.value) %", title: "\(s.subject) SpO2 \(spo2.value) % on oxygen",
                  reason: "SpO2 < \(ObservationValue.format(rules.spo2OnOxygenBelow)) % despite supplemental oxygen.",
                  action: "Assess airway and breathing now; consider intensive care.",
                  evidence: [Evidence(label: "SpO2", value: "\(spo2.value) %", time: spo2.time, record: spo2.record),
                             Evidence(label: "oxygen", value: oxygen.value ? "yes" : "no", time: oxygen.time, record: oxygen.record)])
        }
    }

    func ctcaeReading(_ s: SubjectSnapshot, code: String) -> SignalReading? {
        guard let timed = s.current(code), let value = timed.value.number else { return nil }
        let graded = ctcae.grade(code: code, value: value, low: timed.low, high: timed.high)
        let severity: Severity? = graded.map { $0.grade >= 4 ? .critical : $0.grade >= 3 ? .warning : nil } ?? nil
        return SignalReading(rule: Self.ctcaeRules[code] ?? "ctcae-\(code)", subject: s.subject, severity: severity,
                             evidenceTime: timed.time, records: [timed.record]) {
            let unit = (CanonicalCodes.all[code].flatMap { if case .numeric(let u) = $0.kind { u } else { nil } }) ?? ""
            let term = graded?.term ?? code
            return .init(
                value: "\(timed.value) \(unit)", title: "\(s.subject) \(term) grade \(graded?.grade ?? 0): \(code) \(timed.value) \(unit)",
                reason: "\(term), CTCAE v5.0 grade \(graded?.grade ?? 0)" + (timed.high.map { " (record's upper limit \(ObservationValue.format($0)))" } ?? "") + ".",
                action: (graded?.grade ?? 0) >= 4 ? "Review the subject now; report as an adverse event per protocol." : "Review the subject; report as an adverse event per protocol.",
                evidence: [Evidence(label: code, value: "\(timed.value) \(unit)", time: timed.time, record: timed.record)])
        }
    }

    /// Evidence that infection is suspected (Sepsis-3 requires it for "possible sepsis"): a positive
    /// blood culture, procalcitonin or CRP above the cut-offs, or an unresolved infection AE.
    public func suspectedInfection(_ s: SubjectSnapshot, adverseEvents: [AdverseEvent]) -> [Evidence] {
        var found: [Evidence] = []
        if let culture = s.current("blood_culture"), culture.value == .text("positive") {
            found.append(Evidence(label: "blood culture", value: "positive", time: culture.time, record: culture.record))
        }
        if let cutoff = rules.procalcitoninAbove, let pct = s.current("procalcitonin"), let value = pct.value.number, value > cutoff {
            found.append(Evidence(label: "procalcitonin", value: "\(pct.value) µg/L (> \(ObservationValue.format(cutoff)))", time: pct.time, record: pct.record))
        }
        if let cutoff = rules.crpAbove, let crp = s.current("crp"), let value = crp.value.number, value > cutoff {
            found.append(Evidence(label: "CRP", value: "\(crp.value) mg/L (> \(ObservationValue.format(cutoff)))", time: crp.time, record: crp.record))
        }
        if let pattern = CompiledPatterns.pattern(rules.infectionTermPattern) {
            for ae in adverseEvents where pattern.matches(in: ae.term) {
                let outcome = ae.outcome?.lowercased() ?? ""
                guard !outcome.hasPrefix("recovered") && !outcome.hasPrefix("resolved"), (ae.onsetTime ?? s.asOf) <= s.asOf else { continue }
                found.append(Evidence(label: "adverse event", value: ae.term, time: ae.onsetTime, record: ae.id))
            }
        }
        return found
    }
}
