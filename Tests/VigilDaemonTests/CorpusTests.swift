import Foundation
import VigilConfig
import VigilCore
@testable import VigilIngest
import XCTest

/// Real exports and feeds that nobody on the team wrote (Tests/Corpus; sources and licences in each
/// SOURCE.md): the CDISC SDTM pilot study as CDISC and the PhUSE Test Data Factory publish it, the
/// PhUSE statin test data, and ORU messages from the test suites of HAPI, nHapi, HL7-dotnetcore,
/// python-hl7, LinuxForHealth and Microsoft's FHIR-Converter. The expected values were written by an
/// independent reader (Tests/Corpus/reader.py, Python standard library only), not by Vigil.
///
/// Vigil reads them with a site-extended configuration (Tests/Corpus/vigil-corpus.yaml). The test
/// counts, per source and domain, the must-read rows (README there) that Vigil read with the
/// expected subject, code, time and value, and fails on any value read differently (a misread), on a
/// share under 95 % overall or under 90 % in any SDTM domain. It prints the table that README
/// "Reading real exports" reports.
final class CorpusTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Corpus").standardizedFileURL.path

    struct Tally {
        var mustRead = 0
        var read = 0
        var unreadable: [String] = []
        /// Must-read rows left unread without a located error: silently dropped.
        var silent: [String] = []
        var misread: [String] = []
    }

    /// CTCAE v5.0 grade descriptions (NCI 2017): AESEV as a grade when AETOXGR is absent.
    static let severityGrade = ["MILD": 1, "MODERATE": 2, "SEVERE": 3]
    /// AEREL terms of the corpus as the protocol scales mean them.
    static let causality = [
        "NONE": "not_related", "NOT RELATED": "not_related", "REMOTE": "unlikely", "UNLIKELY RELATED": "unlikely",
        "POSSIBLE": "possible", "POSSIBLY RELATED": "possible", "PROBABLE": "probable", "RELATED": "related",
    ]

    func testPublicExportsAndFeedsAreReadWithoutMisreadingAValue() throws {
        let options = try VigilConfiguration.load(path: "\(Self.corpus)/vigil-corpus.yaml").ingestOptions()
        let expectedRoot = "\(Self.corpus)/expected"
        var tallies: [String: Tally] = [:]  // "source domain"
        var domains: [String: Tally] = [:]
        for source in try FileManager.default.contentsOfDirectory(atPath: expectedRoot).sorted() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: "\(expectedRoot)/\(source)", isDirectory: &isDirectory), isDirectory.boolValue else { continue }
            for expectedFile in try FileManager.default.contentsOfDirectory(atPath: "\(expectedRoot)/\(source)").sorted() {
                let name = String(expectedFile.dropLast(".expected.json".count))
                let isHL7 = name.hasSuffix(".hl7")
                let path = "\(Self.corpus)/\(isHL7 ? "hl7" : "sdtm")/\(source)/\(name)"
                let data = try Data(contentsOf: URL(fileURLWithPath: path))
                let expected = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(expectedRoot)/\(source)/\(expectedFile)"))) as? [[String: Any]])
                let result = isHL7 ? HL7Parser(options: options).parse(data) : SDTMParser(options: options).parse(data)
                let domain = isHL7 ? "HL7 OBX" : String(name.prefix(2)).uppercased()
                var tally = Tally()
                for row in expected {
                    check(row, in: result, file: "\(source)/\(name)", domain: domain, zone: options.siteTimeZone, into: &tally)
                }
                tallies["\(source) \(domain)", default: Tally()].merge(tally)
                domains[domain, default: Tally()].merge(tally)
            }
        }
        var total = Tally()
        for tally in domains.values { total.merge(tally) }
        var table = "| source | domain | must read | read | share | misread |\n|---|---|---:|---:|---:|---:|\n"
        for key in tallies.keys.sorted() {
            let t = tallies[key]!
            let parts = key.split(separator: " ", maxSplits: 1)
            table += "| \(parts[0]) | \(parts[1]) | \(t.mustRead) | \(t.read) | \(Self.percent(t)) | \(t.misread.count) |\n"
        }
        for key in domains.keys.sorted() {
            let t = domains[key]!
            table += "| all | \(key) | \(t.mustRead) | \(t.read) | \(Self.percent(t)) | \(t.misread.count) |\n"
        }
        table += "| all | all | \(total.mustRead) | \(total.read) | \(Self.percent(total)) | \(total.misread.count) |\n"
        print("Corpus coverage (CorpusTests):\n" + table)
        print("Not read:\n" + domains.values.flatMap(\.unreadable).sorted().joined(separator: "\n"))

        XCTAssertGreaterThan(total.mustRead, 3000, "the corpus is all there")
        XCTAssertEqual(total.misread, [], "a value read differently from the independent reader")
        XCTAssertEqual(total.silent, [], "a must-read value left unread without a located error")
        XCTAssertGreaterThanOrEqual(Double(total.read) / Double(total.mustRead), 0.95, "overall share")
        for (domain, tally) in domains where domain != "HL7 OBX" {
            XCTAssertGreaterThanOrEqual(Double(tally.read) / Double(tally.mustRead), 0.90, "\(domain) share")
        }
    }

    static func percent(_ tally: Tally) -> String {
        tally.mustRead == 0 ? "-" : String(format: "%.1f %%", 100 * Double(tally.read) / Double(tally.mustRead))
    }

    func check(_ row: [String: Any], in result: ParseResult, file: String, domain: String, zone: TimeZone, into tally: inout Tally) {
        let place = row["line"] as? Int ?? row["segment"] as? Int ?? 0
        let subject = (row["subject"] as? String ?? "").trimmingCharacters(in: .whitespaces)
        // A row with no identifier at all cannot be attributed to any subject by any reader.
        guard !subject.isEmpty else { return }
        tally.mustRead += 1
        let records = result.records.filter { ($0.line ?? $0.segment) == place }.map(\.record)
        let here = "\(file) \(domain == "HL7 OBX" ? "segment" : "line") \(place)"
        let wantedSubject = domain == "HL7 OBX" ? "HL7-\(subject)" : subject
        func misread(_ what: String) { tally.misread.append("\(here): \(what)") }
        func notRead() {
            let error = result.errors.filter { ($0.line ?? $0.segment) == place }.map(\.summary).first
            let why = error ?? result.notes.first { $0.hasPrefix("line \(place):") || $0.hasPrefix("segment \(place):") } ?? "no record, error or note"
            tally.unreadable.append("\(here): \(why)")
            if error == nil { tally.silent.append("\(here): \(why)") }
        }
        switch domain {
        case "LB", "VS", "HL7 OBX":
            guard case .observation(let o)? = records.first else { return notRead() }
            let code = row["code"] as? String ?? ""
            let stored = CanonicalCodes.all[code]?.storedAs ?? code
            guard o.subject == wantedSubject else { return misread("subject \(o.subject), expected \(wantedSubject)") }
            guard o.code == stored else { return misread("code \(o.code), expected \(stored)") }
            if let time = row["time"] as? String {
                let parsed = domain == "HL7 OBX" ? HL7Time.parse(time, zone: zone)?.date : ISO8601.parse(time, zone: zone)?.date
                guard parsed == o.time else { return misread("time \(o.time), expected \(time)") }
            }
            if let value = row["value"] as? Double {
                guard let got = o.value.number, abs(got - value) <= 1e-6 * max(1, abs(value)) else { return misread("value \(o.value), expected \(value)") }
            }
            tally.read += 1
        case "AE":
            guard case .adverseEvent(let ae)? = records.first else { return notRead() }
            guard ae.subject == subject, ae.id == "AE-\(subject)-\(row["seq"] as? String ?? "")" else { return misread("id \(ae.id)") }
            guard ae.onset == row["onset"] as? String else { return misread("onset \(ae.onset)") }
            guard ae.term == row["term"] as? String else { return misread("term") }
            let grade = (row["grade"] as? Int) ?? (row["severity"] as? String).flatMap { Self.severityGrade[$0.uppercased()] }
            guard ae.grade == grade else { return misread("grade \(ae.grade.map(String.init) ?? "none"), expected \(grade.map(String.init) ?? "none")") }
            if let related = row["related"] as? String {
                guard ae.related == Self.causality[related.uppercased()] else { return misread("causality \(ae.related ?? "none") for \(related)") }
            }
            let serious = (row["serious"] as? String)?.uppercased() == "Y"
            guard ae.isSerious == serious else { return misread("seriousness \(ae.isSerious)") }
            tally.read += 1
        case "EX":
            guard case .event(let event)? = records.first, event.kind == "infusion" else { return notRead() }
            guard event.subject == subject, event.time == ISO8601.parsePartialDate(row["start"] as? String ?? "", zone: zone) else {
                return misread("infusion \(event.subject) at \(event.time)")
            }
            tally.read += 1
        default:  // DS: read when recorded with the right kind, or skipped as not a safety event
            let decode = (row["decod"] as? String ?? "").uppercased()
            let category = (row["category"] as? String ?? "").uppercased()
            let expectedKind: String? = decode == "DEATH" ? "death"
                : category == "DISPOSITION EVENT" && !["COMPLETED", "SCREEN FAILURE"].contains(decode) ? "withdrawal" : nil
            if case .event(let event)? = records.first {
                guard event.subject == subject, expectedKind == nil || event.kind == expectedKind, expectedKind != nil || event.kind != "death" && event.kind != "withdrawal" else {
                    return misread("disposition \(decode) recorded as \(event.kind)")
                }
                tally.read += 1
            } else if expectedKind == nil, !(result.errors + result.warnings).contains(where: { $0.line == place }) {
                tally.read += 1  // a completion or a milestone: read, and deliberately not stored
            } else {
                notRead()
            }
        }
    }
}

extension CorpusTests.Tally {
    mutating func merge(_ other: Self) {
        mustRead += other.mustRead
        read += other.read
        unreadable += other.unreadable
        silent += other.silent
        misread += other.misread
    }
}
