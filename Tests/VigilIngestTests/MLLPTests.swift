import Foundation
import XCTest
@testable import VigilIngest

/// MLLP framing (HL7 v2.5 appendix C.4, minimal lower layer protocol: <VT> message <FS><CR>) and the
/// general acknowledgement (HL7 v2.5 §2.14.1 ACK; MSA-1 from table 0008, ERR-3 from table 0357).
final class MLLPTests: XCTestCase {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    func testFramesArriveWholeWhateverThePieces() {
        var reader = MLLPFrameReader(maxMessageBytes: 1024)
        let stream = bytes("noise") + MLLPFrameReader.frame(bytes("MSH|one")) + bytes("\n") + MLLPFrameReader.frame(bytes("MSH|two"))
        var events: [MLLPFrameReader.Event] = []
        for byte in stream {
            events += reader.feed([byte])
        }
        XCTAssertEqual(events, [.message(bytes("MSH|one")), .message(bytes("MSH|two"))], "bytes outside a frame are ignored")
        XCTAssertFalse(reader.isInsideFrame)
        XCTAssertEqual(reader.feed([0x0B] + bytes("MSH|half")), [])
        XCTAssertTrue(reader.isInsideFrame, "a frame begun and not ended")
        XCTAssertEqual(reader.feed([0x1C]), [.message(bytes("MSH|half"))], "an end block without its CR ends the frame")
    }

    func testAFrameOverTheLimitIsReportedNotBuffered() {
        var reader = MLLPFrameReader(maxMessageBytes: 8)
        let events = reader.feed(MLLPFrameReader.frame(bytes("MSH|0123456789")) + MLLPFrameReader.frame(bytes("MSH|ok")))
        XCTAssertEqual(events, [.tooLarge(prefix: bytes("MSH|0123")), .message(bytes("MSH|ok"))], "the rest of the long frame is skipped")
    }

    func testANewStartBlockRestartsACutOffFrame() {
        var reader = MLLPFrameReader(maxMessageBytes: 64)
        XCTAssertEqual(reader.feed([0x0B] + bytes("MSH|cut") + MLLPFrameReader.frame(bytes("MSH|whole"))), [.message(bytes("MSH|whole"))])
    }

    func testAcknowledgementSwapsSenderAndReceiverAndEscapesText() throws {
        let message = bytes("MSH|^~\\&|LAB|HSL|VIGIL|LYSYME|20261123074500+0100||ORU^R01^ORU_R01|M-42|P|2.5\rPID|1\r")
        let header = try XCTUnwrap(HL7Acknowledgement.Header(message: message))
        XCTAssertEqual(header.controlID, "M-42")
        let time = Date(timeIntervalSince1970: 1_795_412_400)
        let accept = String(decoding: HL7Acknowledgement.message(.accept, answering: header, controlID: "V1", time: time), as: UTF8.self)
        XCTAssertEqual(accept, "MSH|^~\\&|VIGIL|LYSYME|LAB|HSL|20261123054000+0000||ACK^R01|V1|P|2.5\rMSA|AA|M-42\r")
        let error = String(decoding: HL7Acknowledgement.message(.error, answering: header, controlID: "V2", time: time,
                                                                text: "segment 3, field OBX-6: unknown unit | a^b\r\nBcc: x"), as: UTF8.self)
        let segments = error.split(separator: "\r").map(String.init)
        XCTAssertEqual(segments.count, 3, "MSH, MSA, ERR and nothing forged by the text")
        XCTAssertTrue(segments[1].hasPrefix("MSA|AE|M-42|segment 3, field OBX-6: unknown unit \\F\\ a\\S\\b<CR><LF>Bcc: x"), segments[1])
        XCTAssertTrue(segments[2].hasPrefix("ERR|||102^Data type error^HL70357|E||||"), segments[2])
        XCTAssertNil(HL7Acknowledgement.Header(message: bytes("PID|1|no header")))
    }
}
