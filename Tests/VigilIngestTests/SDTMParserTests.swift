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
            + "LYS-01-006,3,LACTICAC,3.1,mmol/L,2026-11-23,\n"
            + "DUPONT JEAN,4,LACTICAC,3.1,mmol/L,2026-11-23T07:30:00Z,\n"
            + "LYS-01-006,5,LACTICAC,,mmol/L,2026-11-23T07:30:00Z,NOT DONE\n"
            + "LYS-01-006,6,WEIGHT,70,kg,2026-11-23T07:30:00Z,\n"
            + "LYS-01-006,7,LACTICAC,1.9,mmol/L,2026-11-23T07:30:00Z,\n"
        let result = parse(text)
        XCTAssertEqual(result.records.map(\.record.id), ["LB-LYS-01-006-7"])
        XCTAssertEqual(result.errors.map { "\($0.line!):\($0.field!)" }, ["2:LBORRESU", "3:LBTESTCD", "4:LBDTC", "5:USUBJID"])
        XCTAssertEqual(result.errors[0].valueShape, "text of 3 characters: letters, punctuation or symbols")
        XCTAssertNil(result.errors[3].rejectedValue, "a name is never echoed")
        XCTAssertFalse(result.errors.contains { $0.summary.contains("DUPONT") || $0.summary.contains("mg%") })
        XCTAssertEqual(result.notes.count, 2, "NOT DONE and the ignored WEIGHT are noted, not errors")
    }

    func testDomainIsDetectedFromTheHeader() {
        XCTAssertEqual(parse("USUBJID,FOO\nLYS-01-001,1\n").errors.first?.error, "cannot tell the SDTM domain from the header")
    }

    func testAdverseEventExport() throws {
        let text = "STUDYID;DOMAIN;USUBJID;AESEQ;AETERM;AEDECOD;AEPTCD;AESTDTC;AETOXGR;AESER;AESHOSP;AESLIFE;AESDTH;AEREL;AEOUT;AEEXPECT;AEAWARDTC\n"
            + "LYSYME;AE;LYSYME-LYS-01-006;1;Embolie pulmonaire;Pulmonary embolism;10037377;2026-11-22;3;Y;Y;N;N;PROBABLY RELATED;RECOVERING/RESOLVING;N;2026-11-23T08:00+01:00\n"
            + "LYSYME;AE;LYSYME-LYS-01-006;2;\"Fièvre; frissons\";Pyrexia;10037660;2026-11;Grade 2;N;N;N;N;NOT RELATED;RECOVERED/RESOLVED;Y;\n"
            + "LYSYME;AE;LYSYME-LYS-01-006;3;Rash;Rash;;2026-11-23;2;Y;N;N;N;MAYBE;;;\n"
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
        XCTAssertEqual(result.errors.map(\.field), ["AEREL"])
        XCTAssertEqual(result.errors.first?.line, 4)
    }

    func testInfusionNeedsATimeAndDispositionMapsToEvents() throws {
        let ex = parse("USUBJID,EXSEQ,EXTRT,EXSTDTC\nLYS-01-006,1,ADSC,2026-11-20T10:00:00+01:00\nLYS-01-007,1,ADSC,2026-11-20\n")
        guard case .event(let infusion) = try XCTUnwrap(ex.records.first).record else { return XCTFail("expected an event") }
        XCTAssertEqual(infusion.kind, "infusion")
        XCTAssertEqual(ex.errors.map(\.field), ["EXSTDTC"])
        let ds = parse("USUBJID,DSSEQ,DSTERM,DSDECOD,DSSTDTC\nLYS-01-007,1,Died,DEATH,2026-11-25\nLYS-01-008,1,x,COMPLETED,2026-12-01\nLYS-01-009,1,x,ABDUCTED,2026-12-01\n")
        guard case .event(let death) = try XCTUnwrap(ds.records.first).record else { return XCTFail("expected an event") }
        XCTAssertEqual(death.kind, "death")
        XCTAssertEqual(ds.records.count, 1)
        XCTAssertEqual(ds.errors.map(\.field), ["DSDECOD"])
    }

    func testUnterminatedQuoteIsLocated() {
        let result = parse("USUBJID,LBSEQ,LBTESTCD,LBORRES,LBORRESU,LBDTC\nLYS-01-006,1,LACTICAC,\"3.1,mmol/L,2026-11-23T07:30:00Z\n")
        XCTAssertEqual(result.errors.first?.line, 2)
        XCTAssertEqual(result.errors.first?.error, "quoted field is never closed")
    }
}
