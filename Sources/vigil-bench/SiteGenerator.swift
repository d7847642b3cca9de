import Foundation
import VigilCore

/// The site's random draws, on VigilCore's seeded generator.
extension SplitMix64 {
    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Normal(mean, sd) by Box-Muller.
    mutating func normal(_ mean: Double, _ sd: Double) -> Double {
        let u1 = max(unit(), 1e-12)
        let u2 = unit()
        return mean + sd * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }

    mutating func chance(_ p: Double) -> Bool { unit() < p }
}

/// One inbox file produced by the synthetic site.
struct GeneratedFile {
    var name: String
    var content: [UInt8]
    var records: Int
}

/// UTC time formatting without Foundation formatters (fast and locale-free).
enum UTC {
    /// (year, month, day, hour, minute, second) of a Unix time.
    static func components(_ t: Int) -> (Int, Int, Int, Int, Int, Int) {
        let c = ISO8601Coding.utcComponents(secondsSince1970: Int64(t))
        return (Int(c.year), Int(c.month), Int(c.day), Int(c.hour), Int(c.minute), Int(c.second))
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// 2026-01-05T06:00:00Z
    static func iso(_ t: Int) -> String {
        let (y, mo, d, h, mi, s) = components(t)
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2))Z"
    }

    /// 2026-01-05T06:00+00:00 (SDTM --DTC with an offset, so no "read in site time zone" note)
    static func sdtm(_ t: Int) -> String {
        let (y, mo, d, h, mi, _) = components(t)
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2))+00:00"
    }

    /// 2026-01-05
    static func date(_ t: Int) -> String {
        let (y, mo, d, _, _, _) = components(t)
        return "\(pad(y, 4))-\(pad(mo, 2))-\(pad(d, 2))"
    }

    /// 20260105060000+0000 (HL7 DTM)
    static func hl7(_ t: Int) -> String {
        let (y, mo, d, h, mi, s) = components(t)
        return "\(pad(y, 4))\(pad(mo, 2))\(pad(d, 2))\(pad(h, 2))\(pad(mi, 2))\(pad(s, 2))+0000"
    }
}

/// A synthetic trial site, deterministic for a seed: `subjects` subjects enrolled and infused over the
/// first day, vital signs every 4 h from a bedside monitor (HL7 ORU^R01), nurses' charting every 4 h
/// (NDJSON: supplemental oxygen, consciousness, daily detached BSA), a daily lab panel (SDTM LB CSV,
/// alternately `,` and `;` with decimal commas), and eCRF exports (JSON arrays: enrolment, infusion,
/// adverse events). Roughly 2 % of subject-days are a deterioration episode (tachycardia, fever,
/// tachypnoea, raised lactate...) so the rules raise and resolve a realistic trickle of alerts.
///
/// Each producer fills its own file up to `recordsPerFile` records (an HL7 message is never split),
/// so the file count is about records / recordsPerFile. Records come in time order, slot by slot;
/// calling `generate` again continues the same site's timeline (new days, same subjects).
struct SiteGenerator {
    static let epoch = 1_767_571_200  // 2026-01-05T00:00:00Z: fixed, so the files are reproducible
    static let slotSeconds = 4 * 3600

    let subjects: [String]
    var rng: SplitMix64
    /// Next 4-hour slot to generate (0 = epoch).
    var slot = 0
    var aeCount: [Int]
    var labSeq: [Int]
    var episodeDay: [Int]
    var fileSeq = 0
    var hl7Control = 0

    init(subjects: Int, seed: UInt64) {
        precondition(subjects >= 1 && subjects <= 89_000, "1 to 89000 subjects")
        // LYS-01-001 … : sites 01–89 (90–99 are kept for the latency probes' fresh subjects).
        self.subjects = (0..<subjects).map { i in "LYS-\(UTC.pad(1 + i / 1000, 2))-\(UTC.pad(1 + i % 1000, 3))" }
        rng = SplitMix64(seed: seed)
        aeCount = Array(repeating: 0, count: subjects)
        labSeq = Array(repeating: 0, count: subjects)
        episodeDay = Array(repeating: -10, count: subjects)
    }

    /// Time (Unix seconds) the generated data has reached.
    var clinicalTime: Int { Self.epoch + slot * Self.slotSeconds }

    // MARK: producers

    /// One producer's file being filled.
    struct Pending {
        var lines: [String] = []
        var records = 0
    }

    var monitor = Pending()  // HL7
    var nurse = Pending()    // NDJSON
    var lab = Pending()      // SDTM LB CSV
    var ecrf = Pending()     // JSON array

    /// Generates `records` records or a few more (a subject's slot is never split) in files of about
    /// `recordsPerFile`, named `PREFIX-NNNNNNN-producer.ext`, handing each file to `emit` as soon as it
    /// is complete; the last, partial file of each producer is flushed at the end. Returns the number
    /// of records generated.
    @discardableResult
    mutating func generate(records target: Int, recordsPerFile: Int, prefix: String, emit: (GeneratedFile) throws -> Void) rethrows -> Int {
        var total = 0
        let perFile = max(recordsPerFile, 1)
        while total < target {
            total += step()
            for kind in Producer.allCases where self[kind].records >= perFile { try emit(flush(kind, prefix: prefix)) }
        }
        for kind in Producer.allCases where self[kind].records > 0 { try emit(flush(kind, prefix: prefix)) }
        return total
    }

    enum Producer: CaseIterable {
        case monitor, nurse, lab, ecrf
    }

    subscript(kind: Producer) -> Pending {
        get {
            switch kind {
            case .monitor: monitor
            case .nurse: nurse
            case .lab: lab
            case .ecrf: ecrf
            }
        }
        set {
            switch kind {
            case .monitor: monitor = newValue
            case .nurse: nurse = newValue
            case .lab: lab = newValue
            case .ecrf: ecrf = newValue
            }
        }
    }

    /// Renders and empties one producer's pending file.
    mutating func flush(_ kind: Producer, prefix: String) -> GeneratedFile {
        let pending = self[kind]
        self[kind] = Pending()
        fileSeq += 1
        let body: String
        let suffix: String
        switch kind {
        case .monitor:
            suffix = "monitor.hl7"
            body = pending.lines.joined()
        case .nurse:
            suffix = "nurse.ndjson"
            body = pending.lines.joined(separator: "\n") + "\n"
        case .ecrf:
            suffix = "ecrf.json"
            body = "[\n" + pending.lines.joined(separator: ",\n") + "\n]\n"
        case .lab:
            // Alternate comma + point and semicolon + decimal-comma exports (both occur in the wild).
            suffix = "lab.csv"
            let semicolon = fileSeq % 2 == 0
            let header = "STUDYID|DOMAIN|USUBJID|SUBJID|LBSEQ|LBTESTCD|LBTEST|LBORRES|LBORRESU|LBORNRLO|LBORNRHI|LBDTC"
            body = ([header] + pending.lines).map { row in
                semicolon ? row.replacingOccurrences(of: ".", with: ",").replacingOccurrences(of: "|", with: ";")
                    : row.replacingOccurrences(of: "|", with: ",")
            }.joined(separator: "\r\n") + "\r\n"
        }
        return GeneratedFile(name: "\(prefix)-\(UTC.pad(fileSeq, 7))-\(suffix)", content: Array(body.utf8), records: pending.records)
    }

    static func f1(_ v: Double) -> String { String(format: "%.1f", v) }
    static func f0(_ v: Double) -> String { String(Int(v.rounded())) }

    /// Next subject to generate within the current slot.
    var cursor = 0

    /// Generates one subject's records for the current 4-hour slot (its enrolment and infusion first,
    /// at slot 0), then moves to the next subject, or the next slot. Returns the number of records.
    mutating func step() -> Int {
        let t0 = clinicalTime
        let day = slot / 6
        let slotOfDay = slot % 6
        let i = cursor
        let subject = subjects[i]
        var count = 0
        if slot == 0 {
            let enrolAt = t0 + (i % 12) * 600
            let age = 20 + Int(rng.unit() * 55)
            let malignancy = rng.chance(0.1)
            ecrf.lines.append(#"{"type":"event","id":"EV-\#(subject)-ENR","subject":"\#(subject)","time":"\#(UTC.iso(enrolAt))","kind":"enrolment","age":\#(age),"malignancy":\#(malignancy)}"#)
            ecrf.lines.append(#"{"type":"event","id":"EV-\#(subject)-INF","subject":"\#(subject)","time":"\#(UTC.iso(enrolAt + 1800))","kind":"infusion"}"#)
            ecrf.records += 2
            count += 2
        }
        if slotOfDay == 0, episodeDay[i] != day, rng.chance(0.02) { episodeDay[i] = day }
        let sick = episodeDay[i] == day || (episodeDay[i] == day - 1 && slotOfDay < 2)
        let t = t0 + (i % 12) * 60 + 300  // staggered within the slot
        count += vitals(subject: subject, index: i, time: t, sick: sick)
        count += charting(subject: subject, time: t + 120, sick: sick, daily: slotOfDay == 1)
        if slotOfDay == 1 { count += labs(subject: subject, index: i, time: t + 1800, sick: sick) }
        if slotOfDay == 3, rng.chance(0.04) { count += adverseEvent(subject: subject, index: i, time: t) }
        cursor += 1
        if cursor == subjects.count {
            cursor = 0
            slot += 1
        }
        return count
    }

    /// Bedside monitor: one ORU^R01 message with six OBX results.
    mutating func vitals(subject: String, index: Int, time: Int, sick: Bool) -> Int {
        hl7Control += 1
        let ts = UTC.hl7(time)
        let order = "VS-\(subject.dropFirst(4).replacingOccurrences(of: "-", with: ""))-\(UTC.pad(slot, 6))"
        let hr = sick ? rng.normal(118, 6) : rng.normal(84, 8)
        let rr = sick ? rng.normal(23, 1.5) : rng.normal(16, 2)
        let sbp = sick ? rng.normal(102, 6) : rng.normal(124, 10)
        let dbp = sick ? rng.normal(62, 5) : rng.normal(74, 7)
        let temp = sick ? rng.normal(38.6, 0.3) : rng.normal(37.0, 0.3)
        let spo2 = min(100, sick ? rng.normal(93, 1) : rng.normal(97, 1))
        let obx: [(String, String, String, String, String, String)] = [
            ("8867-4", "Heart rate", Self.f0(hr), "/min", "per minute", "60-100"),
            ("9279-1", "Respiratory rate", Self.f0(rr), "/min", "per minute", "12-20"),
            ("8480-6", "Systolic blood pressure", Self.f0(sbp), "mm[Hg]", "millimeter of mercury", "100-140"),
            ("8462-4", "Diastolic blood pressure", Self.f0(dbp), "mm[Hg]", "millimeter of mercury", "60-90"),
            ("8310-5", "Body temperature", Self.f1(temp), "Cel", "degree Celsius", "36.1-38.0"),
            ("59408-5", "Oxygen saturation by Pulse oximetry", Self.f0(spo2), "%", "percent", "94-100"),
        ]
        var message = "MSH|^~\\&|MONITOR|HOPITAL-ST-LOUIS|VIGIL|LYSYME|\(ts)||ORU^R01^ORU_R01|MON-\(UTC.pad(hl7Control, 9))|P|2.5\r"
        message += "PID|1||\(subject)^^^LYSYME^RI\r"
        message += "OBR|1|\(order)||85353-1^Vital signs panel^LN|||\(ts)\r"
        for (n, o) in obx.enumerated() {
            message += "OBX|\(n + 1)|NM|\(o.0)^\(o.1)^LN||\(o.2)|\(o.3)^\(o.4)^UCUM|\(o.5)||||F\r"
        }
        monitor.lines.append(message)
        monitor.records += obx.count
        return obx.count
    }

    /// Nurses' charting: supplemental oxygen, consciousness, and once a day the detached body surface.
    mutating func charting(subject: String, time: Int, sick: Bool, daily: Bool) -> Int {
        let ts = UTC.iso(time)
        let key = "\(subject)-\(UTC.pad(slot, 6))"
        let oxygen = sick ? rng.chance(0.7) : rng.chance(0.05)
        let avpu = sick && rng.chance(0.1) ? "C" : "A"
        nurse.lines.append(#"{"type":"observation","id":"NRS-\#(key)-O2","subject":"\#(subject)","time":"\#(ts)","code":"oxygen","value":\#(oxygen)}"#)
        nurse.lines.append(#"{"type":"observation","id":"NRS-\#(key)-AVPU","subject":"\#(subject)","time":"\#(ts)","code":"consciousness","value":"\#(avpu)"}"#)
        var n = 2
        if daily {
            let bsa = max(0, rng.normal(6, 3))
            nurse.lines.append(#"{"type":"observation","id":"NRS-\#(key)-BSA","subject":"\#(subject)","time":"\#(ts)","code":"bsa_detached","value":\#(Self.f1(bsa)),"unit":"%"}"#)
            n += 1
        }
        nurse.records += n
        return n
    }

    /// Daily laboratory panel as an SDTM LB export (`|` is replaced by the file's delimiter).
    mutating func labs(subject: String, index: Int, time: Int, sick: Bool) -> Int {
        let panel: [(String, String, Double, String, String, String)] = [
            ("LACTICAC", "Lactic Acid", sick ? rng.normal(2.9, 0.4) : rng.normal(1.2, 0.3), "mmol/L", "0.5", "2.2"),
            ("CREAT", "Creatinine", rng.normal(80, 12), "umol/L", "53", "106"),
            ("BILI", "Bilirubin", max(2, rng.normal(10, 3)), "umol/L", "3", "21"),
            ("PLAT", "Platelets", rng.normal(250, 40), "10^9/L", "150", "400"),
            ("NEUT", "Neutrophils", max(2.1, rng.normal(4.5, 1)), "10^9/L", "2", "7.5"),
            ("WBC", "Leukocytes", sick ? rng.normal(14, 1.5) : rng.normal(7, 1.2), "10^9/L", "4", "10"),
            ("HGB", "Hemoglobin", rng.normal(13.5, 0.8), "g/dL", "12", "17"),
            ("K", "Potassium", rng.normal(4.2, 0.25), "mmol/L", "3.5", "5"),
            ("SODIUM", "Sodium", rng.normal(140, 2), "mmol/L", "135", "145"),
            ("BICARB", "Bicarbonate", rng.normal(25, 1.5), "mmol/L", "22", "29"),
            ("GLUC", "Glucose", rng.normal(5.5, 0.6), "mmol/L", "3.9", "7.8"),
            ("UREA", "Urea", max(1.5, rng.normal(5, 1.2)), "mmol/L", "2.5", "7.5"),
            ("ALT", "Alanine Aminotransferase", max(5, rng.normal(25, 7)), "U/L", "7", "40"),
            ("AST", "Aspartate Aminotransferase", max(5, rng.normal(24, 6)), "U/L", "8", "40"),
            ("CRP", "C Reactive Protein", sick ? rng.normal(150, 20) : max(0.5, rng.normal(8, 4)), "mg/L", "0", "5"),
        ]
        let dtc = UTC.sdtm(time)
        for test in panel {
            labSeq[index] += 1
            let value = test.0 == "PLAT" || test.0 == "CREAT" || test.0 == "SODIUM" ? Self.f0(test.2) : String(format: "%.2f", test.2)
            lab.lines.append("LYSYME|LB|LYSYME-\(subject)|\(subject)|\(labSeq[index])|\(test.0)|\(test.1)|\(value)|\(test.3)|\(test.4)|\(test.5)|\(dtc)")
        }
        lab.records += panel.count
        return panel.count
    }

    static let aeTerms: [(String, String)] = [
        ("Pyrexia", "10037660"), ("Pruritus", "10037087"), ("Nausea", "10028813"), ("Headache", "10019211"),
        ("Hypokalaemia", "10021015"), ("Insomnia", "10022437"), ("Oral pain", "10031009"),
    ]

    /// A non-serious, unrelated or unlikely-related, expected adverse event from the eCRF.
    mutating func adverseEvent(subject: String, index: Int, time: Int) -> Int {
        aeCount[index] += 1
        let term = Self.aeTerms[Int(rng.unit() * Double(Self.aeTerms.count))]
        let grade = rng.chance(0.7) ? 1 : 2
        let related = rng.chance(0.6) ? "not_related" : "unlikely"
        ecrf.lines.append(#"{"type":"adverse_event","id":"AE-\#(subject)-\#(aeCount[index])","subject":"\#(subject)","onset":"\#(UTC.date(time))","term":"\#(term.0)","meddra_pt":"\#(term.1)","grade":\#(grade),"serious":[],"related":"\#(related)","expected":true,"outcome":"recovering","aware":"\#(UTC.iso(time + 3600))"}"#)
        ecrf.records += 1
        return 1
    }

    /// Records in a generated file, by its producer (for resuming on files already written).
    static func countRecords(name: String, content: Data) -> Int {
        let text = String(decoding: content, as: UTF8.self)
        if name.hasSuffix(".hl7") { return text.components(separatedBy: "\rOBX|").count - 1 }
        if name.hasSuffix(".csv") { return max(0, text.split(separator: "\r\n").filter { !$0.isEmpty }.count - 1) }
        if name.hasSuffix(".json") { return text.components(separatedBy: #""type":"#).count - 1 }
        return text.split(separator: "\n").filter { !$0.isEmpty }.count
    }

    /// A latency probe: one fresh critical lactate (5.2 mmol/L) for a subject never seen before, so the
    /// file raises exactly one alert, and that alert is mailed.
    static func latencyProbe(index: Int, now: Date) -> (subject: String, content: [UInt8]) {
        let subject = "LYS-\(UTC.pad(90 + index / 1000, 2))-\(UTC.pad(index % 1000 + 1, 3))"
        let t = Int(now.timeIntervalSince1970)
        let line = #"{"type":"observation","id":"LAT-\#(subject)","subject":"\#(subject)","time":"\#(UTC.iso(t))","code":"lactate","value":5.2,"unit":"mmol/L","loinc":"2524-7","low":0.5,"high":2.2}"# + "\n"
        return (subject, Array(line.utf8))
    }
}
