import Foundation
import FuzzSupport
import VigilCore
import VigilIngest

/// HL7 v2 files (ORU^R01, ADT^A02/A03, MLLP framing, batches) through `HL7Parser`; and the same
/// bytes as an MLLP stream (`MLLPFrameReader`, fed in three pieces) with each framed message
/// acknowledged (`HL7Acknowledgement`), as the MLLP listener does.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHL7(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = FuzzSupport.bytes(data, size)
    let result = HL7Parser(options: FuzzSupport.options).parse(Data(bytes))
    FuzzSupport.check(result, locatedBy: \.segment)

    let limit = 512
    var reader = MLLPFrameReader(maxMessageBytes: limit)
    let cuts = [0, bytes.count / 3, 2 * bytes.count / 3, bytes.count]
    var events: [MLLPFrameReader.Event] = []
    for index in 0..<3 { events += reader.feed(bytes[cuts[index]..<cuts[index + 1]]) }
    for event in events {
        let message: [UInt8]
        switch event {
        case .message(let whole):
            FuzzSupport.require(whole.count <= limit, "a message over the limit came out whole")
            FuzzSupport.require(!whole.contains(MLLPFrameReader.endBlock), "a message holds an end block")
            message = whole
        case .tooLarge(let prefix):
            FuzzSupport.require(prefix.count == limit, "an oversize frame's prefix is \(prefix.count) bytes")
            message = prefix
        }
        let header = HL7Acknowledgement.Header(message: message) ?? HL7Acknowledgement.Header()
        let text = result.errors.first?.summary
        for code in [HL7Acknowledgement.Code.accept, .error, .reject] {
            let ack = String(decoding: HL7Acknowledgement.message(code, answering: header, controlID: "V1", time: Date(timeIntervalSince1970: 0), text: text), as: UTF8.self)
            let segments = ack.split(separator: "\r", omittingEmptySubsequences: false)
            FuzzSupport.require(segments.last == "" && segments.dropLast().allSatisfy { !$0.isEmpty }, "ACK segments: \(ack.debugDescription)")
            FuzzSupport.require(segments.count == (code == .accept || text == nil ? 3 : 4), "ACK forged or lost a segment: \(ack.debugDescription)")
            FuzzSupport.require(segments[0].hasPrefix("MSH|^~\\&|") && segments[1].hasPrefix("MSA|\(code.rawValue)|"), "ACK header: \(ack.debugDescription)")
            for segment in segments { FuzzSupport.require(ProducerText.isVisible(String(segment), limit: Int.max / 2), "ACK text not rendered: \(ack.debugDescription)") }
        }
    }
    return 0
}
