import Foundation
import Glibc
import VigilTestSupport
import XCTest

/// A realistic 72-hour SJS/TEN course for one subject, sent the way a site sends it: vital signs every
/// 4 h and blood gases as HL7 ORU^R01, daily labs as an SDTM LB export, the infusion as SDTM EX, a
/// positive blood culture (HL7, CWE value) and an ICU transfer (ADT^A02). Files are dropped in clinical
/// order into the real vigild, and the exact sequence of alerts in the journal is checked.
final class ClinicalCourseTests: XCTestCase {
    static let subject = "LYS-01-010"
    static let d0 = ISO8601DateFormatter().date(from: "2026-11-20T07:00:00Z")!  // 08:00 Paris

    static func hl7Time(_ hours: Double) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(secondsFromGMT: 3600)
        formatter.dateFormat = "yyyyMMddHHmm'00+0100'"
        return formatter.string(from: d0.addingTimeInterval(hours * 3600))
    }

    static func isoTime(_ hours: Double) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(secondsFromGMT: 3600)
        return formatter.string(from: d0.addingTimeInterval(hours * 3600))
    }

    /// One ORU^R01 message: OBX rows of (code^text^system, type, value, unit).
    static func oru(_ id: String, hours: Double, _ results: [(String, String, String, String)]) -> String {
        var segments = ["MSH|^~\\&|MONITOR|HSL|VIGIL|LYSYME|\(hl7Time(hours))||ORU^R01^ORU_R01|\(id)|P|2.5",
                        "PID|1||\(subject)^^^LYSYME^RI", "OBR|1|\(id)|\(id)|85353-1^Vital signs^LN|||\(hl7Time(hours))"]
        for (index, result) in results.enumerated() {
            segments.append("OBX|\(index + 1)|\(result.1)|\(result.0)|1|\(result.2)|\(result.3)|||||F")
        }
        return segments.joined(separator: "\r") + "\r"
    }

    /// Vital signs: HR, RR, SBP, MAP, temperature, SpO2, oxygen (Y/N), ACVPU, norepinephrine µg/kg/min.
    static func vitals(_ hours: Double, hr: Int, rr: Int, sbp: Int, map: Int, t: Double, spo2: Int, oxygen: Bool, norepinephrine: Double) -> (String, String) {
        let id = "VS-\(Int(hours))"
        return ("vitals-h\(String(format: "%02d", Int(hours))).hl7", oru(id, hours: hours, [
            ("8867-4^Heart rate^LN", "NM", "\(hr)", "/min"), ("9279-1^Respiratory rate^LN", "NM", "\(rr)", "/min"),
            ("8480-6^Systolic BP^LN", "NM", "\(sbp)", "mm[Hg]"), ("8478-0^Mean BP^LN", "NM", "\(map)", "mm[Hg]"),
            ("8310-5^Body temperature^LN", "NM", "\(t)", "Cel"), ("59408-5^SpO2^LN", "NM", "\(spo2)", "%"),
            ("O2^On oxygen^L", "ST", oxygen ? "Y" : "N", ""), ("ACVPU^Consciousness^L", "ST", "A", ""),
            ("NORAD^Norepinephrine^L", "NM", "\(norepinephrine)", "ug/kg/min"),
        ]))
    }

    static func labs(day: Int, platelets: Int, creatinine: Int, bilirubin: Int, wbc: Double) -> (String, String) {
        let time = isoTime(Double(day) * 24 - 1)  // 07:00 local
        var rows = ["STUDYID;DOMAIN;USUBJID;LBSEQ;LBTESTCD;LBORRES;LBORRESU;LBORNRLO;LBORNRHI;LBDTC"]
        let tests: [(String, String, String, String, String)] = [
            ("PLAT", "\(platelets)", "10^9/L", "150", "400"), ("CREAT", "\(creatinine)", "umol/L", "60", "110"),
            ("BILI", "\(bilirubin)", "umol/L", "3", "20"), ("WBC", String(wbc).replacingOccurrences(of: ".", with: ","), "10^9/L", "4", "10"),
        ]
        for (index, test) in tests.enumerated() {
            rows.append("LYSYME;LB;LYSYME-\(subject);\(day * 10 + index);\(test.0);\(test.1);\(test.2);\(test.3);\(test.4);\(time)")
        }
        return ("labs-day\(day).csv", rows.joined(separator: "\r\n") + "\r\n")
    }

    static func bloodGas(_ hours: Double, lactate: Double) -> (String, String) {
        ("gas-h\(Int(hours)).hl7", oru("BG-\(Int(hours))", hours: hours, [("2518-9^Lactate BldA^LN", "NM", "\(lactate)", "mmol/L")]))
    }

    /// The course, in clinical order.
    static func course() -> [(String, String)] {
        var files: [(String, String)] = []
        files.append(("enrol.ndjson", #"{"type":"event","id":"EV-010-ENROL","subject":"\#(subject)","time":"\#(isoTime(-2))","kind":"enrolment","age":52,"malignancy":false}"# + "\n"
            + #"{"type":"observation","id":"BSA-010-0","subject":"\#(subject)","time":"\#(isoTime(-2))","code":"bsa_detached","value":15,"unit":"%"}"# + "\n"))
        files.append(labs(day: 0, platelets: 210, creatinine: 80, bilirubin: 12, wbc: 9.0))
        files.append(("ex.csv", "USUBJID,EXSEQ,EXTRT,EXSTDTC\nLYSYME-\(subject),1,ADSC,\(isoTime(0))\n"))
        for hours in stride(from: 0.0, through: 20.0, by: 4.0) {
            files.append(vitals(hours, hr: 105, rr: 18, sbp: 125, map: 88, t: 37.8, spo2: 97, oxygen: false, norepinephrine: 0))
        }
        files.append(labs(day: 1, platelets: 140, creatinine: 150, bilirubin: 25, wbc: 14.2))
        files.append(vitals(24, hr: 108, rr: 19, sbp: 122, map: 86, t: 37.9, spo2: 97, oxygen: false, norepinephrine: 0))
        files.append(vitals(28, hr: 118, rr: 22, sbp: 104, map: 74, t: 38.6, spo2: 95, oxygen: false, norepinephrine: 0))
        files.append(("culture-h30.hl7", oru("BC-30", hours: 30, [("600-7^Bacteria identified in Blood by Culture^LN", "CWE", "POS^Positive^L", "")])))
        files.append(vitals(32, hr: 128, rr: 26, sbp: 88, map: 62, t: 39.2, spo2: 93, oxygen: true, norepinephrine: 0))
        files.append(bloodGas(32, lactate: 3.1))
        files.append(vitals(36, hr: 124, rr: 24, sbp: 92, map: 63, t: 38.9, spo2: 94, oxygen: true, norepinephrine: 0.15))
        files.append(bloodGas(36, lactate: 4.4))
        files.append(vitals(40, hr: 112, rr: 21, sbp: 104, map: 72, t: 38.2, spo2: 95, oxygen: true, norepinephrine: 0.08))
        files.append(("adt-h46.hl7", ["MSH|^~\\&|ADT|HSL|VIGIL|LYSYME|\(hl7Time(46))||ADT^A02^ADT_A02|ADT-010|P|2.5",
                                      "EVN|A02|\(hl7Time(46))", "PID|1||\(subject)^^^LYSYME^RI", "PV1|1|I|REA^3^1^HSL|||DERM^4^2^HSL"].joined(separator: "\r") + "\r"))
        files.append(labs(day: 2, platelets: 45, creatinine: 140, bilirubin: 22, wbc: 11.5))
        files.append(bloodGas(48, lactate: 1.6))
        for hours in stride(from: 48.0, through: 72.0, by: 4.0) {
            files.append(vitals(hours, hr: 92, rr: 18, sbp: 118, map: 80, t: 37.4, spo2: 96, oxygen: hours < 60, norepinephrine: 0))
        }
        files.append(labs(day: 3, platelets: 62, creatinine: 105, bilirubin: 18, wbc: 9.8))
        return files
    }

    func testSeventyTwoHourCourseRaisesTheExpectedAlertsInOrder() throws {
        try TestSupport.ensureJournald()
        let harness = try DaemonHarness(label: "course")
        defer { harness.cleanUp() }
        try harness.writeConfiguration(lactate: (2.0, 4.0), extra: """
            mapping:
              loinc: {"8867-4": heart_rate, "9279-1": respiratory_rate, "8480-6": systolic_bp, "8478-0": mean_arterial_pressure,
                      "8310-5": temperature, "59408-5": spo2, "2518-9": lactate, "600-7": blood_culture}
              sdtm: {PLAT: platelets, CREAT: creatinine, BILI: bilirubin, WBC: wbc}
              local: {O2: oxygen, ACVPU: consciousness, NORAD: norepinephrine}
              ignore:
                loinc: ["85353-1"]
            hl7:
              subject_authority: LYSYME
              icu_location_pattern: '^(REA|ICU)'
            """)
        try harness.start()
        for (name, content) in Self.course() {
            try harness.drop(name, content)
            XCTAssertTrue(TestSupport.waitUntil(timeout: 10) { harness.archivedFiles().contains { $0.hasSuffix("/\(name)") } },
                          "\(name) processed; rejected: \(harness.files(in: harness.rejected)); stderr tail:\n\(harness.stderr.suffix(1500))")
        }
        XCTAssertEqual(harness.files(in: harness.rejected), [], "every course file is valid")
        var entries: [[String: Any]] = []
        TestSupport.waitUntil(timeout: 5) {
            entries = (try? harness.journalEntries()) ?? []
            return entries.count >= 18
        }
        let sequence = entries
            .sorted { Int($0["__MONOTONIC_TIMESTAMP"] as? String ?? "0")! < Int($1["__MONOTONIC_TIMESTAMP"] as? String ?? "0")! }
            .map { "\($0["VIGIL_RULE"] as? String ?? "?") \($0["VIGIL_PHASE"] as? String ?? "?") \($0["VIGIL_SEVERITY"] as? String ?? "?")" }
        print("72-hour course journal sequence:\n" + sequence.joined(separator: "\n"))
        XCTAssertEqual(sequence, Self.expected)

        // The on-call view: scores with components and what is missing; active signals.
        let subject = try harness.vigilctl(["subject", Self.subject, "--json"])
        XCTAssertEqual(subject.status, 0, subject.stderr)
        let reply = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(subject.stdout.utf8)) as? [String: Any])
        let scores = try XCTUnwrap(reply["scores"] as? [[String: Any]])
        XCTAssertEqual(scores.map { $0["name"] as? String }, ["NEWS2", "qSOFA", "SIRS", "SOFA", "SCORTEN"])
        let sofa = try XCTUnwrap(scores.first { $0["name"] as? String == "SOFA" })
        XCTAssertEqual(sofa["complete"] as? Bool, false)
        XCTAssertTrue((sofa["missing"] as? [String] ?? []).contains("gcs"), "\(sofa)")
        let signals = (reply["signals"] as? [[String: Any]] ?? []).compactMap { $0["rule"] as? String }
        XCTAssertEqual(Set(signals), ["blood-culture", "sofa-sepsis"], "what is still open after 72 h")
        let human = try harness.vigilctl(["subject", Self.subject])
        XCTAssertTrue(human.stdout.contains("SOFA") && human.stdout.contains("missing:"), human.stdout)
        let status = try harness.statusJSON()
        XCTAssertEqual(status["subjects_with_active_signals"] as? [String], [Self.subject])
        XCTAssertEqual(harness.terminate().status, 0)
    }

    /// What a clinician would expect, with the reason for each entry.
    static let expected = [
        "sirs raised info",                 // day-1 labs: WBC 14.2 with HR 108 > 90 (SIRS 2)
        "news2 raised critical",            // H28: RR 22 (2) SpO2 95 (1) SBP 104 (1) HR 118 (2) T 38.6 (1) = 7
        "blood-culture raised critical",    // H30: positive culture
        "sofa-sepsis raised critical",      // H30: SOFA 3 (platelets 140, creatinine 150, bilirubin 25) over baseline 0, infection suspected
        "qsofa raised warning",             // H32: RR 26, SBP 88
        "lactate raised warning",           // H32: 3.1 mmol/L
        "septic-shock raised critical",     // H36 vitals: MAP 63 on norepinephrine 0.15, lactate 3.1 from H32 still current (6 h)
        "lactate raised critical",          // H36 blood gas: 4.4 mmol/L
        "qsofa resolved warning",           // H40: RR 21, SBP 104
        "septic-shock resolved critical",   // H40: MAP 72
        "icu-transfer raised info",         // H46: ADT^A02 to REA
        "ctcae-platelets raised warning",   // day-2 labs: platelets 45 (grade 3)
        "lactate resolved critical",        // H48: lactate 1.6
        "news2 resolved critical",          // H48: HR 92 (1), SpO2 96, O2 (2), SBP 118, T 37.4 = 3
        "sirs resolved info",               // H48 vitals: only HR 92 > 90 (T 37.4, RR 18, WBC 11.5 ≤ 12): SIRS 1
        "ctcae-platelets resolved warning", // day-3 labs: platelets 62 (grade 2)
        // No "sofa-sepsis resolved": without GCS and PaO2/FiO2 the SOFA is never complete, so the
        // possible-sepsis signal stays open until a person acknowledges it; a stale culture does not end it.
    ]
}
