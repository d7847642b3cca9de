import XCTest
import VigilCore
@testable import VigilIngest

/// Thrown (and so recorded as a test failure) when a record is not of the expected type.
struct UnexpectedRecord: Error {}

/// CDISC SDTM-style CSV as real exports write it (SDTM IG 3.x variable names).
final class SDTMParserTests: XCTestCase {
    let parser = SDTMParser(options: TestOptions.options())

    func parse(_ text: String, bom: Bool = false) -> ParseResult {
        parser.parse(Data(((bom ? "\u{FEFF}" : "") + text).utf8))
    }

    func observation(_ result: ParseResult, _ index: Int = 0) throws -> Observation {
        guard case .observation(let o) = try XCTUnwrap(result.records.dropFirst(index).first).record else {
            throw UnexpectedRecord()
        }
        return o
    }

    func testFrenchExportWithSemicolonDecimalCommaBOMCRLFAndQuotedNewline() throws {
        let text = "STUDYID;DOMAIN;USUBJID;LBSEQ;LBTESTCD;LBTEST;LBORRES;LBORRESU;LBORNRLO;LBORNRHI;LBDTC\r\n"
            + "LYSYME;LB;LYSYME-LYS-01-006;1;LACTICAC;\"Lactic acid; arterial\r\nsample\";31,5;mg/dL;4,5;19,8;2026-11-23T07:30\r\n"
            + "LYSYME;LB;LYSYME-LYS-01-006;2;PLAT;Platelets;142;10^9/L;150;400;2026-11-23T07:30:00+01:00\r\n"
        let result = parse(text, bom: true)
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.records.map(\.line), [2, 4], "the quoted newline makes row 1 span lines 2-3")
        let lactate = try observation(result)
        XCTAssertEqual(lactate.id, "LB-LYS-01-006-1")
        XCTAssertEqual(lactate.subject, "LYS-01-006", "subject id taken from USUBJID STUDYID-SUBJID")
        XCTAssertEqual(lactate.value.number!, 31.5 / 9.008, accuracy: 1e-9)
        XCTAssertEqual(lactate.low!, 4.5 / 9.008, accuracy: 1e-9)
        XCTAssertEqual(lactate.high!, 19.8 / 9.008, accuracy: 1e-9)
        XCTAssertEqual(lactate.time, ISO8601.parse("2026-11-23T06:30:00Z", zone: .gmt)?.date)
        XCTAssertEqual(result.notes.count, 1, "the time without offset is noted")
    }

    func testStandardResultColumnsArePreferred() throws {
        let text = "USUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBORNRLO,LBORNRHI,LBSTRESN,LBSTRESU,LBSTNRLO,LBSTNRHI,LBDTC\n"
            + "LYS-01-006,2,CREAT,1.4,mg/dL,0.6,1.2,123.8,umol/L,53,106,2026-11-23T07:30:00Z\n"
            + "LYS-01-006,3,CREAT,1.5,mg/dL,0.6,1.2,,,,,2026-11-24T07:30:00Z\n"
        let result = parse(text)
        XCTAssertEqual(result.errors, [])
        let standard = try observation(result)
        XCTAssertEqual(standard.value, .number(123.8))
        XCTAssertEqual(standard.low, 53)
        let original = try observation(result, 1)
        XCTAssertEqual(original.value.number!, 1.5 * 88.4, accuracy: 1e-9, "original result converted when no standard result")
        XCTAssertEqual(original.high!, 1.2 * 88.4, accuracy: 1e-9)
    }

    func testBadRowsAreLocatedAndGoodRowsKept() {
        let text = "USUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBDTC,LBSTAT\n"
            + "LYS-01-006,1,LACTICAC,3.1,mg%,2026-11-23T07:30:00Z,\n"
            + "LYS-01-006,2,GGT,45,U/L,2026-11-23T07:30:00Z,\n"
            + "LYS-01-006,3,LACTICAC,3.1,mmol/L,2026-11,\n"
            + "DUPONT JEAN,4,LACTICAC,3.1,mmol/L,2026-11-23T07:30:00Z,\n"
            + "LYS-01-006,5,LACTICAC,,mmol/L,2026-11-23T07:30:00Z,NOT DONE\n"
            + "LYS-01-006,6,WEIGHT,seventy,kg,yesterday,\n"
            + "LYS-01-006,7,LACTICAC,1.9,mmol/L,2026-11-23T07:30:00Z,\n"
        let result = parse(text)
        XCTAssertEqual(result.records.map(\.record.id), ["LB-LYS-01-006-7"])
        XCTAssertEqual(result.errors.map { "\($0.line!):\($0.field!)" }, ["2:LBORRESU", "3:LBTESTCD", "4:LBDTC", "5:USUBJID"],
                       "a result needs its day: a month is refused")
        XCTAssertEqual(result.errors[0].valueShape, "text of 3 characters: letters, punctuation or symbols")
        XCTAssertNil(result.errors[3].rejectedValue, "a name is never echoed")
        XCTAssertFalse(result.errors.contains { $0.summary.contains("DUPONT") || $0.summary.contains("mg%") })
        XCTAssertEqual(result.notes.count, 2, "NOT DONE and the ignored WEIGHT are noted, not errors, however bad the ignored row")
    }

    func testDomainIsDetectedFromTheHeader() {
        XCTAssertEqual(parse("USUBJID,FOO\nLYS-01-001,1\n").errors.first?.error, "cannot tell the SDTM domain from the header")
    }

    func testAdverseEventExport() throws {
        let text = "STUDYID;DOMAIN;USUBJID;AESEQ;AETERM;AEDECOD;AEPTCD;AESTDTC;AETOXGR;AESER;AESHOSP;AESLIFE;AESDTH;AEREL;AEOUT;AEEXPECT;AEAWARDTC\n"
            + "LYSYME;AE;LYSYME-LYS-01-006;1;Embolie pulmonaire;Pulmonary embolism;10037377;2026-11-22;3;Y;Y;N;N;PROBABLY RELATED;RECOVERING/RESOLVING;N;2026-11-23T08:00+01:00\n"
            + "LYSYME;AE;LYSYME-LYS-01-006;2;\"Fièvre; frissons\";Pyrexia;10037660;2026-11;Grade 2;N;N;N;N;NOT RELATED;RECOVERED/RESOLVED;Y;\n"
            + "LYSYME;AE;LYSYME-LYS-01-006;3;Rash;Rash;;2026-11-23;2;Y;N;N;N;MAYBE;;;\n"
            + "LYSYME;AE;LYSYME-LYS-01-006;4;Rash;Rash;;2026-11-23;G3;N;N;N;N;REMOTE;;;\n"
        let result = parse(text)
        guard case .adverseEvent(let pe) = try XCTUnwrap(result.records.first).record,
              case .adverseEvent(let fever) = try XCTUnwrap(result.records.dropFirst().first).record
        else { return XCTFail("expected adverse events") }
        XCTAssertEqual(pe.id, "AE-LYS-01-006-1")
        XCTAssertEqual(pe.term, "Pulmonary embolism")
        XCTAssertEqual(pe.meddraPT, "10037377")
        XCTAssertEqual(pe.grade, 3)
        XCTAssertEqual(pe.serious, ["hospitalisation"])
        XCTAssertEqual(pe.related, "probable")
        XCTAssertEqual(pe.expected, false)
        XCTAssertEqual(pe.aware, ISO8601.parse("2026-11-23T07:00:00Z", zone: .gmt)?.date)
        XCTAssertEqual(fever.onset, "2026-11", "partial date kept as sent")
        XCTAssertEqual(fever.grade, 2)
        XCTAssertEqual(fever.related, "not_related")
        // An unmapped causality never drops the event: counted as related, with a warning.
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.records.count, 4)
        guard case .adverseEvent(let maybe) = result.records[2].record, case .adverseEvent(let remote) = result.records[3].record else {
            return XCTFail("expected adverse events")
        }
        XCTAssertEqual(maybe.related, "related")
        XCTAssertTrue(Relatedness.atLeast(maybe.related, "probable"), "an unmapped causality counts at every floor short of definite")
        XCTAssertEqual(remote.related, "unlikely", "REMOTE (CDISC pilot) is in the built-in vocabulary")
        XCTAssertNil(remote.grade, "G3 is not a grade Vigil reads, and there is no AESEV")
        XCTAssertEqual(result.warnings.map { "\($0.line!):\($0.field!)" }, ["4:AEREL", "5:AETOXGR"])
        XCTAssertFalse(result.warnings.contains { $0.summary.contains("MAYBE") }, "the term is described by its shape")
    }

    /// AESEV gives the grade when AETOXGR is absent, by the CTCAE v5.0 grade descriptions (NCI 2017:
    /// 1 mild, 2 moderate, 3 severe); an unlisted severity leaves the event ungraded with a warning.
    func testSeverityIsTheGradeWhenThereIsNoToxicityGrade() throws {
        let text = "USUBJID,AESEQ,AETERM,AESTDTC,AESEV,AETOXGR\n"
            + "LYS-01-006,1,Rash,2026-11-23,MILD,\n"
            + "LYS-01-006,2,Rash,2026-11-23,moderate,\n"
            + "LYS-01-006,3,Rash,2026-11-23,SEVERE,\n"
            + "LYS-01-006,4,Rash,2026-11-23,SEVERE,2\n"
            + "LYS-01-006,5,Rash,2026-11-23,HORRIBLE,\n"
        let result = parse(text)
        let grades = result.records.map { record -> Int? in
            guard case .adverseEvent(let ae) = record.record else { return -1 }
            return ae.grade
        }
        XCTAssertEqual(grades, [1, 2, 3, 2, nil], "AETOXGR, when given, wins")
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(result.warnings.map { "\($0.line!):\($0.field!)" }, ["6:AESEV"])
        let site = try IngestOptions(subjectPattern: "LYS-[0-9]{2}-[0-9]{3}", siteTimeZone: .gmt,
                                     vocabularies: Vocabularies.standard.merging(Vocabularies(severityGrade: ["horrible": 4])))
        guard case .adverseEvent(let mapped) = SDTMParser(options: site).parse(Data(text.utf8)).records[4].record else { return XCTFail() }
        XCTAssertEqual(mapped.grade, 4, "a site's vocabulary maps its own terms")
    }

    /// An infusion needs its day; one known to its day only is kept with its text, so the windows it
    /// opens cover the whole day (docs/ARCHITECTURE.md §4, "Windows and reported precision").
    func testInfusionNeedsItsDayAndDispositionMapsToEvents() throws {
        let ex = parse("USUBJID,EXSEQ,EXTRT,EXSTDTC\nLYS-01-006,1,ADSC,2026-11-20T10:00:00+01:00\nLYS-01-007,1,ADSC,2026-11-20\nLYS-01-008,1,ADSC,2026-11\n")
        XCTAssertEqual(ex.records.count, 2)
        guard case .event(let infusion) = ex.records[0].record, case .event(let dayOnly) = ex.records[1].record else { return XCTFail("expected events") }
        XCTAssertEqual(infusion.kind, "infusion")
        XCTAssertNil(infusion.attributes[ClinicalEvent.reportedTimeAttribute])
        XCTAssertEqual(dayOnly.attributes[ClinicalEvent.reportedTimeAttribute], "2026-11-20")
        let period = dayOnly.period(zone: .gmt)
        XCTAssertEqual(period.end.timeIntervalSince(period.start), 86400)
        XCTAssertEqual(ex.errors.map(\.field), ["EXSTDTC"], "a month is not enough for D0")
        let ds = parse("USUBJID,DSSEQ,DSTERM,DSDECOD,DSCAT,DSSTDTC\n"
            + "LYS-01-007,1,Died,DEATH,DISPOSITION EVENT,2026-11-25\n"
            + "LYS-01-008,1,x,COMPLETED,DISPOSITION EVENT,2026-12-01\n"
            + "LYS-01-009,1,x,ABDUCTED,DISPOSITION EVENT,2026-12-01\n"
            + "LYS-01-010,1,x,FIRST DOSE,PROTOCOL MILESTONE,2026-12-01\n"
            + "LYS-01-011,1,x,SOMETHING,,2026-12\n")
        XCTAssertEqual(ds.errors, [])
        let kinds = ds.records.map { record -> String in
            guard case .event(let event) = record.record else { return "?" }
            return "\(event.subject):\(event.kind)"
        }
        XCTAssertEqual(kinds, ["LYS-01-007:death", "LYS-01-009:withdrawal", "LYS-01-011:withdrawal"],
                       "completion and an unlisted milestone are not safety events; unlisted exits are kept as withdrawals")
        XCTAssertEqual(ds.warnings.map { "\($0.line!):\($0.field!)" }, ["4:DSDECOD", "6:DSDECOD"])
    }

    /// SDTM --DTC with reduced precision (ISO 8601, as SDTM allows): a result dated to its day or
    /// hour is read at the period's first instant in the site zone, with the text kept.
    func testDateOnlyVitalSignsAndLabsAreReadWithTheirPrecision() throws {
        let vs = parse("USUBJID,VSSEQ,VSTESTCD,VSORRES,VSORRESU,VSSTRESN,VSSTRESU,VSDTC\n"
            + "LYS-01-006,1,PULSE,72,BEATS/MIN,72,BEATS/MIN,2014-01-02\n"
            + "LYS-01-006,2,PULSE,80,BEATS/MIN,80,BEATS/MIN,2014-01-02T08\n"
            + "LYS-01-006,3,SYSBP,120,mmHg,120,mmHg,2014-01-02T08:15\n")
        XCTAssertEqual(vs.errors, [])
        let pulse = try observation(vs)
        XCTAssertEqual(pulse.reportedTime, "2014-01-02")
        XCTAssertEqual(pulse.time, ISO8601.parse("2014-01-01T23:00:00Z", zone: .gmt)?.date, "midnight in the site zone (Paris)")
        XCTAssertEqual(try observation(vs, 1).reportedTime, "2014-01-02T08")
        XCTAssertNil(try observation(vs, 2).reportedTime, "a time to the minute is read as it is")
    }

    /// --STRESU missing: the original result and unit are read instead of a unitless standard result.
    func testMissingStandardUnitFallsBackToTheOriginalResult() throws {
        let result = parse("USUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBSTRESN,LBSTRESU,LBDTC\n"
            + "LYS-01-006,1,CREAT,1.5,mg/dL,1.5,,2026-11-24T07:30:00Z\n")
        XCTAssertEqual(result.errors, [])
        XCTAssertEqual(try observation(result).value.number!, 1.5 * 88.4, accuracy: 1e-9)
    }

    /// A reference range that cannot be read leaves the result accepted without it, with a warning.
    func testUnreadableReferenceLimitKeepsTheResult() throws {
        let result = parse("USUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBORNRLO,LBORNRHI,LBDTC\n"
            + "LYS-01-006,1,PLAT,150,GI/L,1.5 to 7.0,450,2026-11-24T07:30:00Z\n")
        XCTAssertEqual(result.errors, [])
        let platelets = try observation(result)
        XCTAssertEqual(platelets.value, .number(150))
        XCTAssertNil(platelets.low)
        XCTAssertEqual(platelets.high, 450)
        XCTAssertEqual(result.warnings.map(\.field), ["LBORNRLO"])
    }

    func testUnterminatedQuoteIsLocated() {
        let result = parse("USUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBDTC\nLYS-01-006,1,LACTICAC,\"3.1,mmol/L,2026-11-23T07:30:00Z\n")
        XCTAssertEqual(result.errors.first?.line, 2)
        XCTAssertEqual(result.errors.first?.error, "quoted field is never closed")
    }
}
