import Foundation
import VigilCore

/// Reads CDISC SDTM-style CSV exports of the LB, VS, AE, EX and DS domains (domain detected from the
/// header) into Vigil records. Record ids are `DOMAIN-SUBJECT-SEQ`, so a re-export of the same row
/// is recognised, and a changed row is an amendment. Every bad row is reported with its line and column.
public struct SDTMParser: Sendable {
    public let options: IngestOptions

    public init(options: IngestOptions) {
        self.options = options
    }

    /// The domains read, and the column that identifies each in a header.
    public static let domainMarkers: [(domain: String, column: String)] = [
        ("LB", "LBTESTCD"), ("VS", "VSTESTCD"), ("AE", "AETERM"), ("EX", "EXTRT"), ("DS", "DSDECOD"),
    ]

    public func parse(_ data: Data) -> ParseResult {
        let reader: CSVReader
        do {
            reader = try CSVReader(bytes: [UInt8](data))
        } catch {
            return ParseResult(errors: [error])
        }
        guard let header = reader.rows.first else {
            return ParseResult(errors: [RecordError(line: 1, error: "file holds no header", expected: "an SDTM header row")])
        }
        let columns = header.fields.map { $0.trimmingSpaces().uppercased() }
        let domain: String
        if let declared = Self.domainMarkers.first(where: { columns.contains($0.column) })?.domain {
            domain = declared
        } else {
            return ParseResult(errors: [RecordError(
                line: header.line, field: "header", error: "cannot tell the SDTM domain from the header",
                expected: "a column " + Self.domainMarkers.map(\.column).joined(separator: ", "))])
        }
        var result = ParseResult()
        for row in reader.rows.dropFirst() {
            var reader = SDTMRow(domain: domain, columns: columns, row: row, options: options)
            if let record = reader.record() {
                result.records.append(LocatedRecord(record: record, line: row.line))
            }
            result.errors += reader.errors
            result.notes += reader.notes
        }
        if reader.rows.count == 1 {
            result.errors.append(RecordError(line: header.line, error: "file holds a header but no row", expected: "at least one data row"))
        }
        return result
    }
}

/// One data row of an SDTM export, read against its header.
struct SDTMRow {
    let domain: String
    let columns: [String]
    let row: CSVReader.Row
    let options: IngestOptions
    private(set) var errors: [RecordError] = []
    private(set) var notes: [String] = []

    init(domain: String, columns: [String], row: CSVReader.Row, options: IngestOptions) {
        self.domain = domain
        self.columns = columns
        self.row = row
        self.options = options
    }

    mutating func fail(_ column: String, _ value: String?, withheld: Bool = false, _ error: String, expected: String?) {
        errors.append(RecordError(line: row.line, field: column, value: value, withheld: withheld, error: error, expected: expected))
    }

    /// The trimmed value of a column, nil when the column is absent or the cell empty.
    func value(_ column: String) -> String? {
        guard let index = columns.firstIndex(of: column), index < row.fields.count else { return nil }
        let text = row.fields[index].trimmingSpacesAndNewlines()
        return text.isEmpty ? nil : text
    }

    mutating func required(_ column: String) -> String? {
        if let text = value(column) { return text }
        fail(column, nil, columns.contains(column) ? "empty \(column)" : "missing column \(column)", expected: "a value")
        return nil
    }

    mutating func subject() -> String? {
        for column in ["SUBJID", "USUBJID"] {
            if let candidate = value(column), options.isValidSubject(candidate) { return candidate }
        }
        // A USUBJID is often STUDYID-SUBJID; accept the trailing part that is a trial subject id.
        if let usubjid = value("USUBJID"), let match = Self.suffixes(of: usubjid).first(where: options.isValidSubject) {
            return match
        }
        let column = value("USUBJID") != nil ? "USUBJID" : "SUBJID"
        fail(column, value(column), withheld: true, "no trial subject id in SUBJID or USUBJID", expected: "an id matching \(options.subjectPattern)")
        return nil
    }

    static func suffixes(of text: String) -> [String] {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        return (1..<max(parts.count, 1)).map { parts[$0...].joined(separator: "-") }
    }

    mutating func dateTime(_ column: String, requireTime: Bool) -> (text: String, date: Date)? {
        guard let text = required(column) else { return nil }
        if requireTime {
            guard text.contains("T"), let parsed = ISO8601.parse(text, zone: options.siteTimeZone) else {
                fail(column, text, "not an ISO 8601 date and time", expected: "e.g. 2026-11-23T06:40 or 2026-11-23T06:40:00+01:00")
                return nil
            }
            if !parsed.hadOffset { notes.append("line \(row.line): \(column) has no UTC offset; read in site time zone \(options.siteTimeZone.identifier)") }
            return (text, parsed.date)
        }
        guard let date = ISO8601.parsePartialDate(text, zone: options.siteTimeZone) else {
            fail(column, text, "not an ISO 8601 date", expected: "e.g. 2026-11-23, 2026-11 or 2026-11-23T06:40")
            return nil
        }
        return (text, date)
    }

    mutating func record() -> Record? {
        switch domain {
        case "LB", "VS": observation()
        case "AE": adverseEvent()
        case "EX": infusion()
        default: disposition()
        }
    }

    mutating func observation() -> Record? {
        let p = domain
        if let status = value("\(p)STAT"), status.uppercased() == "NOT DONE" {
            notes.append("line \(row.line): \(p)STAT NOT DONE; row skipped")
            return nil
        }
        let before = errors.count
        let subject = subject()
        let seq = required("\(p)SEQ")
        let testCode = required("\(p)TESTCD")
        let time = dateTime("\(p)DTC", requireTime: true)
        guard errors.count == before, let subject, let seq, let testCode, let time else { return nil }

        let code: String
        let loinc = value("\(p)LOINC")
        switch (loinc.map { options.mapping.lookup($0, in: .loinc) }, options.mapping.lookup(testCode, in: .sdtm)) {
        case (.code(let mapped)?, _), (_, .code(let mapped)): code = mapped
        case (.ignored?, _), (_, .ignored):
            notes.append("line \(row.line): \(p)TESTCD \(testCode) is not monitored (mapping ignore list); row skipped")
            return nil
        default:
            fail("\(p)TESTCD", testCode, "unknown test code" + (loinc == nil ? "" : " and \(p)LOINC code"),
                 expected: "a code listed in mapping.sdtm or mapping.loinc of the configuration")
            return nil
        }

        // The standardised result when the export has one, else the original result.
        let useStandard = value("\(p)STRESN") != nil || (value("\(p)STRESC") != nil && value("\(p)ORRES") == nil)
        let resultColumn = useStandard ? (value("\(p)STRESN") != nil ? "\(p)STRESN" : "\(p)STRESC") : "\(p)ORRES"
        let unitColumn = useStandard ? "\(p)STRESU" : "\(p)ORRESU"
        let lowColumn = useStandard ? "\(p)STNRLO" : "\(p)ORNRLO"
        let highColumn = useStandard ? "\(p)STNRHI" : "\(p)ORNRHI"
        guard let raw = required(resultColumn) else { return nil }
        let unit = value(unitColumn)
        var comparator: String?
        var rawValue = raw
        if let first = raw.first, "<>".contains(first) {
            comparator = String(raw.prefix { "<>=".contains($0) })
            rawValue = String(raw.dropFirst(comparator!.count)).trimmingSpaces()
        }
        let observed: ObservationValue = CanonicalCodes.parseNumber(rawValue).map(ObservationValue.number) ?? .text(rawValue)
        do {
            let normal = try CanonicalCodes.normalise(code: code, raw: observed, unit: unit)
            var bounds: [Double?] = []
            for column in [lowColumn, highColumn] {
                guard let text = value(column) else {
                    bounds.append(nil)
                    continue
                }
                guard let number = CanonicalCodes.parseNumber(text) else {
                    fail(column, text, "reference limit is not a number", expected: "a number such as 0.5 or 0,5")
                    return nil
                }
                let converted = normal.conversion.apply(number)
                guard converted.isFinite else {
                    fail(column, text, ReferenceLimit.outOfRange(unit: normal.unit), expected: ReferenceLimit.expected)
                    return nil
                }
                bounds.append(converted)
            }
            return .observation(Observation(
                id: "\(p)-\(subject)-\(seq)", subject: subject, time: time.date, code: normal.code, value: normal.value,
                unit: normal.unit, originalValue: raw, originalUnit: unit, loinc: loinc, low: bounds[0], high: bounds[1],
                comparator: comparator))
        } catch {
            let column = error.field == "unit" ? unitColumn : error.field == "code" ? "\(p)TESTCD" : resultColumn
            fail(column, error.field == "unit" ? (unit ?? "") : raw, error.message, expected: error.expected)
            return nil
        }
    }

    static let seriousnessColumns: [(column: String, criterion: String)] = [
        ("AESDTH", "death"), ("AESLIFE", "life_threatening"), ("AESHOSP", "hospitalisation"),
        ("AESDISAB", "disability"), ("AESCONG", "congenital_anomaly"), ("AESMIE", "medically_important"),
    ]

    /// AEREL as written in CRFs and SDTM exports → Vigil's causality vocabulary.
    static let relatedness: [String: String] = [
        "NOT RELATED": "not_related", "NONE": "not_related", "N": "not_related", "NO": "not_related",
        "UNLIKELY RELATED": "unlikely", "UNLIKELY": "unlikely",
        "POSSIBLY RELATED": "possible", "POSSIBLE": "possible",
        "PROBABLY RELATED": "probable", "PROBABLE": "probable",
        "DEFINITELY RELATED": "definite", "DEFINITE": "definite", "CERTAIN": "definite",
        "RELATED": "related", "Y": "related", "YES": "related",
    ]

    mutating func flag(_ column: String) -> Bool? {
        guard let text = value(column)?.uppercased() else { return nil }
        switch text {
        case "Y", "YES": return true
        case "N", "NO": return false
        default:
            fail(column, text, "\(column) must be Y or N", expected: "Y or N")
            return nil
        }
    }

    mutating func adverseEvent() -> Record? {
        let before = errors.count
        let subject = subject()
        let seq = required("AESEQ")
        let term = required("AETERM")
        let onset = dateTime("AESTDTC", requireTime: false)
        var grade: Int?
        if let text = value("AETOXGR") {
            let digits = text.uppercased().replacingOccurrences(of: "GRADE", with: "").trimmingSpaces()
            if let g = Int(digits), (1...5).contains(g) { grade = g } else { fail("AETOXGR", text, "not a CTCAE grade", expected: "1 to 5") }
        }
        var serious = Self.seriousnessColumns.compactMap { flag($0.column) == true ? $0.criterion : nil }
        if flag("AESER") == true, serious.isEmpty {
            serious = ["unspecified"]
            notes.append("line \(row.line): AESER is Y but no seriousness criterion column is Y; recorded as serious (criterion unspecified)")
        }
        var related: String?
        if let text = value("AEREL") {
            related = Self.relatedness[text.uppercased()]
            if related == nil {
                fail("AEREL", text, "unknown causality", expected: "one of " + Self.relatedness.keys.sorted().joined(separator: ", "))
            }
        }
        let expected = flag("AEEXPECT")
        var aware: Date?
        if value("AEAWARDTC") != nil { aware = dateTime("AEAWARDTC", requireTime: false)?.date }
        guard errors.count == before, let subject, let seq, let term, let onset else { return nil }
        return .adverseEvent(AdverseEvent(
            id: "AE-\(subject)-\(seq)", subject: subject, onset: onset.text, onsetTime: onset.date, term: value("AEDECOD") ?? term,
            meddraPT: value("AEPTCD"), grade: grade, serious: serious, related: related, expected: expected,
            outcome: value("AEOUT")?.lowercased(), aware: aware))
    }

    mutating func infusion() -> Record? {
        let before = errors.count
        let subject = subject()
        let seq = required("EXSEQ")
        // The 24-hour and 30-day rules count from D0: the infusion needs its time, not only its date.
        let time = dateTime("EXSTDTC", requireTime: true)
        guard errors.count == before, let subject, let seq, let time else { return nil }
        var attributes: [String: String] = [:]
        if let treatment = value("EXTRT") { attributes["treatment"] = treatment }
        if let dose = value("EXDOSE") { attributes["dose"] = dose + (value("EXDOSU").map { " \($0)" } ?? "") }
        return .event(ClinicalEvent(id: "EX-\(subject)-\(seq)", subject: subject, time: time.date, kind: "infusion", attributes: attributes))
    }

    /// DSDECOD → event kind; other dispositions (completed, consent…) are not safety events.
    static let dispositions: [String: String] = [
        "DEATH": "death",
        "WITHDRAWAL BY SUBJECT": "withdrawal", "WITHDRAWAL BY PARENT/GUARDIAN": "withdrawal",
        "PHYSICIAN DECISION": "withdrawal", "LOST TO FOLLOW-UP": "withdrawal", "ADVERSE EVENT": "withdrawal",
        "WITHDRAWN": "withdrawal", "STUDY TERMINATED BY SPONSOR": "withdrawal",
        "ENROLLED": "enrolment", "RANDOMIZED": "enrolment",
    ]
    static let nonSafetyDispositions: Set<String> = ["COMPLETED", "INFORMED CONSENT OBTAINED", "SCREEN FAILURE", "ELIGIBILITY CRITERIA MET"]

    mutating func disposition() -> Record? {
        let before = errors.count
        let subject = subject()
        let seq = required("DSSEQ")
        let decode = required("DSDECOD")
        guard errors.count == before, let subject, let seq, let decode else { return nil }
        let term = decode.uppercased()
        if Self.nonSafetyDispositions.contains(term) {
            notes.append("line \(row.line): disposition \(term) is not a safety event; row skipped")
            return nil
        }
        guard let kind = Self.dispositions[term] else {
            fail("DSDECOD", decode, "unknown disposition", expected: "one of " + (Array(Self.dispositions.keys) + Self.nonSafetyDispositions).sorted().joined(separator: ", "))
            return nil
        }
        guard let time = dateTime("DSSTDTC", requireTime: false) else { return nil }
        var attributes = ["disposition": term]
        if let reason = value("DSTERM") { attributes["reason"] = reason }
        return .event(ClinicalEvent(id: "DS-\(subject)-\(seq)", subject: subject, time: time.date, kind: kind, attributes: attributes))
    }
}
