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
            result.warnings += reader.warnings
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
    /// Records kept without an auxiliary field, or with a term read conservatively.
    private(set) var warnings: [RecordError] = []
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

    /// The record is kept; `column` was left out or read conservatively, as `error` says.
    mutating func warn(_ column: String, _ value: String?, _ error: String, expected: String?) {
        warnings.append(RecordError(line: row.line, field: column, value: value, error: error, expected: expected))
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

    /// A --DTC value. `requireDay`: a result or an infusion needs at least its day (ISO 8601 reduced
    /// precision to the day or the hour is read, with the text kept in `reduced`); an adverse
    /// event's onset or a disposition may be a month or a year.
    mutating func dateTime(_ column: String, requireDay: Bool) -> (text: String, date: Date, reduced: String?)? {
        guard let text = required(column) else { return nil }
        if requireDay {
            let precision = ReportedPeriod.precision(of: text)
            guard precision != .year, precision != .month, let parsed = ISO8601.parse(text, zone: options.siteTimeZone) else {
                fail(column, text, "not an ISO 8601 date or date and time to the day", expected: "e.g. 2026-11-23, 2026-11-23T06:40 or 2026-11-23T06:40:00+01:00")
                return nil
            }
            let reduced = precision == .day || precision == .hour ? text : nil
            if let reduced {
                notes.append("line \(row.line): \(column) has no \(precision == .day ? "time of day" : "minutes"); read as the start of that \(precision == .day ? "day" : "hour") in site time zone \(options.siteTimeZone.identifier)")
                return (text, parsed.date, reduced)
            }
            if !parsed.hadOffset { notes.append("line \(row.line): \(column) has no UTC offset; read in site time zone \(options.siteTimeZone.identifier)") }
            return (text, parsed.date, nil)
        }
        guard let date = ISO8601.parsePartialDate(text, zone: options.siteTimeZone) else {
            fail(column, text, "not an ISO 8601 date", expected: "e.g. 2026-11-23, 2026-11 or 2026-11-23T06:40")
            return nil
        }
        let precision = ReportedPeriod.precision(of: text)
        return (text, date, precision == nil || precision == .minute ? nil : text)
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
        // A test the trial does not monitor is skipped before anything else is checked: its row
        // raises no error, whatever else it holds.
        let loinc = value("\(p)LOINC")
        let testCode = value("\(p)TESTCD")
        let lookup = (loinc.map { options.mapping.lookup($0, in: .loinc) }, testCode.map { options.mapping.lookup($0, in: .sdtm) })
        switch lookup {
        case (.code?, _), (_, .code?): break
        case (.ignored?, _), (_, .ignored?):
            notes.append("line \(row.line): \(p)TESTCD \(testCode ?? "-") is not monitored (mapping ignore list); row skipped")
            return nil
        default: break
        }
        if let status = value("\(p)STAT"), status.uppercased() == "NOT DONE" {
            notes.append("line \(row.line): \(p)STAT NOT DONE; row skipped")
            return nil
        }
        let before = errors.count
        let subject = subject()
        let seq = required("\(p)SEQ")
        _ = required("\(p)TESTCD")
        let time = dateTime("\(p)DTC", requireDay: true)
        guard errors.count == before, let subject, let seq, let testCode, let time else { return nil }

        let code: String
        switch lookup {
        case (.code(let mapped)?, _), (_, .code(let mapped)?): code = mapped
        default:
            fail("\(p)TESTCD", testCode, "unknown test code" + (loinc == nil ? "" : " and \(p)LOINC code"),
                 expected: "a code listed in mapping.sdtm or mapping.loinc of the configuration")
            return nil
        }

        // The standardised result when the export has one with its unit, else the original result
        // (a standard result without --STRESU falls back to --ORRES/--ORRESU when those are there).
        let hasStandard = value("\(p)STRESN") != nil || (value("\(p)STRESC") != nil && value("\(p)ORRES") == nil)
        let originalHasUnit = value("\(p)ORRES") != nil && value("\(p)ORRESU") != nil
        let useStandard = hasStandard && (value("\(p)STRESU") != nil || !originalHasUnit)
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
            let normal = try CanonicalCodes.normalise(code: code, raw: observed, unit: unit, units: options.units)
            // A reference limit that cannot be read never drops the result: it is kept without that
            // limit, with a warning.
            var bounds: [Double?] = []
            for column in [lowColumn, highColumn] {
                guard let text = value(column) else {
                    bounds.append(nil)
                    continue
                }
                guard let number = CanonicalCodes.parseNumber(text) else {
                    warn(column, text, "reference limit is not a number; result kept without it", expected: "a number such as 0.5 or 0,5")
                    bounds.append(nil)
                    continue
                }
                let converted = normal.conversion.apply(number)
                guard converted.isFinite else {
                    warn(column, text, ReferenceLimit.outOfRange(unit: normal.unit) + "; result kept without it", expected: ReferenceLimit.expected)
                    bounds.append(nil)
                    continue
                }
                bounds.append(converted)
            }
            return .observation(Observation(
                id: "\(p)-\(subject)-\(seq)", subject: subject, time: time.date, code: normal.code, value: normal.value,
                unit: normal.unit, originalValue: raw, originalUnit: unit, loinc: loinc, low: bounds[0], high: bounds[1],
                comparator: comparator, reportedTime: time.reduced))
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
        let onset = dateTime("AESTDTC", requireDay: false)
        let grade = grade()
        var serious = Self.seriousnessColumns.compactMap { flag($0.column) == true ? $0.criterion : nil }
        if flag("AESER") == true, serious.isEmpty {
            serious = ["unspecified"]
            notes.append("line \(row.line): AESER is Y but no seriousness criterion column is Y; recorded as serious (criterion unspecified)")
        }
        var related: String?
        if let text = value("AEREL") {
            related = options.vocabularies.causality(of: text)
            if related == nil {
                // Counted, never dropped: read as related, which every relatedness floor short of
                // definite counts, until the term is mapped.
                related = Vocabularies.unlistedCausality
                warn("AEREL", text, "causality term not in vocabularies.causality; the event is counted as related",
                     expected: "a term listed in vocabularies.causality of the configuration")
            }
        }
        let expected = flag("AEEXPECT")
        var aware: Date?
        if value("AEAWARDTC") != nil { aware = dateTime("AEAWARDTC", requireDay: false)?.date }
        guard errors.count == before, let subject, let seq, let term, let onset else { return nil }
        return .adverseEvent(AdverseEvent(
            id: "AE-\(subject)-\(seq)", subject: subject, onset: onset.text, onsetTime: onset.date, term: value("AEDECOD") ?? term,
            meddraPT: value("AEPTCD"), grade: grade, serious: serious, related: related, expected: expected,
            outcome: value("AEOUT")?.lowercased(), aware: aware))
    }

    /// The CTCAE grade: AETOXGR ("3", "GRADE 3"), else AESEV through `vocabularies.severity_grade`.
    /// Neither read leaves the event ungraded with a warning; the event itself is always kept.
    mutating func grade() -> Int? {
        if let text = value("AETOXGR") {
            let digits = text.uppercased().replacingOccurrences(of: "GRADE", with: "").trimmingSpaces()
            if let g = Int(digits), (1...5).contains(g) { return g }
            warn("AETOXGR", text, "not a CTCAE grade; " + (value("AESEV") == nil ? "the event is kept ungraded" : "AESEV is used instead"),
                 expected: "1 to 5")
        }
        guard let severity = value("AESEV") else { return nil }
        if let g = options.vocabularies.grade(ofSeverity: severity) { return g }
        warn("AESEV", severity, "severity term not in vocabularies.severity_grade; the event is kept ungraded",
             expected: "a term listed in vocabularies.severity_grade (MILD, MODERATE, SEVERE by default)")
        return nil
    }

    mutating func infusion() -> Record? {
        let before = errors.count
        let subject = subject()
        let seq = required("EXSEQ")
        // The 24-hour and 30-day rules count from D0. An infusion known to its day only is kept with
        // its text, and the windows it opens run from that day's start to their length after its end.
        let time = dateTime("EXSTDTC", requireDay: true)
        guard errors.count == before, let subject, let seq, let time else { return nil }
        var attributes: [String: String] = [:]
        if let reduced = time.reduced { attributes[ClinicalEvent.reportedTimeAttribute] = reduced }
        if let treatment = value("EXTRT") { attributes["treatment"] = treatment }
        if let dose = value("EXDOSE") { attributes["dose"] = dose + (value("EXDOSU").map { " \($0)" } ?? "") }
        return .event(ClinicalEvent(id: "EX-\(subject)-\(seq)", subject: subject, time: time.date, kind: "infusion", attributes: attributes))
    }

    mutating func disposition() -> Record? {
        let before = errors.count
        let subject = subject()
        let seq = required("DSSEQ")
        let decode = required("DSDECOD")
        guard errors.count == before, let subject, let seq, let decode else { return nil }
        let term = decode.uppercased()
        let kind: String
        if let listed = options.vocabularies.disposition(of: term) {
            kind = listed
        } else if let category = value("DSCAT"), let byCategory = options.vocabularies.disposition(ofCategory: category) {
            kind = byCategory
            if kind != "none" {
                warn("DSDECOD", decode, "disposition term not in vocabularies.disposition; recorded as \(kind) by its category (DSCAT)",
                     expected: "a term listed in vocabularies.disposition of the configuration")
            }
        } else {
            // An exit no table explains is kept as a withdrawal, never dropped, until it is mapped.
            kind = "withdrawal"
            warn("DSDECOD", decode, "disposition term not in vocabularies.disposition and no known DSCAT; recorded as withdrawal",
                 expected: "a term listed in vocabularies.disposition of the configuration")
        }
        if kind == "none" {
            notes.append("line \(row.line): disposition \(ProducerText.visible(term, limit: 80)) is not a safety event; row skipped")
            return nil
        }
        guard let time = dateTime("DSSTDTC", requireDay: false) else { return nil }
        var attributes = ["disposition": term]
        if let reduced = time.reduced { attributes[ClinicalEvent.reportedTimeAttribute] = reduced }
        if let reason = value("DSTERM") { attributes["reason"] = reason }
        return .event(ClinicalEvent(id: "DS-\(subject)-\(seq)", subject: subject, time: time.date, kind: kind, attributes: attributes))
    }
}
