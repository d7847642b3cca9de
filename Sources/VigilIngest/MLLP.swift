import Foundation
import VigilCore

/// The HL7 minimal lower layer protocol's framing (HL7 v2.5, appendix C.4; MLLP release 1): a
/// message is `<VT>` (0x0B), its bytes, then `<FS>` (0x1C) `<CR>` (0x0D). Bytes fed in any pieces
/// come out as whole messages; a message longer than `maxMessageBytes` is reported as such instead
/// of being buffered further, so a peer cannot make Vigil hold an unbounded frame.
public struct MLLPFrameReader: Sendable {
    public static let startBlock: UInt8 = 0x0B
    public static let endBlock: UInt8 = 0x1C
    public static let carriageReturn: UInt8 = 0x0D

    /// What the bytes so far amount to.
    public enum Event: Equatable, Sendable {
        /// A whole message, without its frame bytes.
        case message([UInt8])
        /// A frame grew past the limit; the bytes up to the limit are given (for its MSH), the rest
        /// of the frame is skipped up to its end block.
        case tooLarge(prefix: [UInt8])
    }

    public let maxMessageBytes: Int
    private var buffer: [UInt8] = []
    private var inFrame = false
    private var skipping = false
    private var pendingEnd = false

    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// True while a frame has begun and not ended: a connection closed or timed out now loses it
    /// (and the sender, with no acknowledgement, sends it again).
    public var isInsideFrame: Bool { inFrame || pendingEnd }

    /// Feeds `bytes`; returns the messages (and oversize frames) they complete, in order. Bytes
    /// outside a frame are ignored, as receivers do; an `<FS>` not followed by `<CR>` ends the frame
    /// all the same.
    public mutating func feed(_ bytes: some Collection<UInt8>) -> [Event] {
        var events: [Event] = []
        for byte in bytes {
            if pendingEnd {
                pendingEnd = false
                if byte == Self.carriageReturn { continue }
            }
            if !inFrame {
                if byte == Self.startBlock {
                    inFrame = true
                    skipping = false
                    buffer.removeAll(keepingCapacity: true)
                }
                continue
            }
            switch byte {
            case Self.endBlock:
                inFrame = false
                pendingEnd = true
                if !skipping { events.append(.message(buffer)) }
                buffer.removeAll(keepingCapacity: false)
            case Self.startBlock where !skipping:
                // A new start block inside a frame: the previous frame was cut off; start again.
                buffer.removeAll(keepingCapacity: true)
            default:
                guard !skipping else { continue }
                if buffer.count >= maxMessageBytes {
                    events.append(.tooLarge(prefix: buffer))
                    buffer.removeAll(keepingCapacity: false)
                    skipping = true
                } else {
                    buffer.append(byte)
                }
            }
        }
        return events
    }

    /// `message` framed for the wire.
    public static func frame(_ message: [UInt8]) -> [UInt8] {
        [startBlock] + message + [endBlock, carriageReturn]
    }
}

/// An HL7 v2 general acknowledgement (ACK, HL7 v2.5 §2.14.1, original acknowledgement mode):
/// MSH with sender and receiver swapped, MSA with the acknowledgement code and the control id of
/// the message acknowledged, and for an error an ERR segment. No text from the acknowledged message
/// is copied into it beyond the identifiers the protocol requires, each rendered by the producer-text
/// rule and escaped.
public enum HL7Acknowledgement {
    /// MSA-1 (HL7 table 0008).
    public enum Code: String, Sendable {
        /// Application accept: stored, and every record read.
        case accept = "AA"
        /// Application error: stored, and some records refused (they are in `rejected/`).
        case error = "AE"
        /// Application reject: not stored; the sender must not send it again as it is.
        case reject = "AR"
    }

    /// What Vigil reads of the incoming MSH to answer it.
    public struct Header: Sendable, Equatable {
        public var sendingApplication = ""
        public var sendingFacility = ""
        public var receivingApplication = ""
        public var receivingFacility = ""
        public var controlID = ""
        public var trigger = ""
        public var processingID = "P"
        public var version = "2.5"

        public init() {}

        /// Reads MSH-3 to MSH-12 of the message's first segment; nil when it does not begin with MSH.
        public init?(message: [UInt8]) {
            let firstSegment = message.prefix { $0 != 0x0D && $0 != 0x0A }
            guard let text = String(validating: firstSegment, as: UTF8.self) ?? String(bytes: firstSegment, encoding: .isoLatin1),
                  text.hasPrefix("MSH"), let encoding = HL7Encoding(mshLine: text) else { return nil }
            let segment = HL7Segment(index: 1, line: text, encoding: encoding)
            func field(_ n: Int) -> String { segment.component(n) ?? "" }
            sendingApplication = field(3)
            sendingFacility = field(4)
            receivingApplication = field(5)
            receivingFacility = field(6)
            controlID = field(10)
            trigger = segment.component(9, 2) ?? ""
            processingID = segment.component(11) ?? "P"
            version = segment.component(12) ?? "2.5"
        }
    }

    /// The acknowledgement, segments ended by `<CR>`. `controlID` is the acknowledgement's own MSH-10;
    /// `text` (an error summary, already free of the refused values) goes to MSA-3 and ERR-8.
    public static func message(_ code: Code, answering header: Header, controlID: String, time: Date, text: String? = nil) -> [UInt8] {
        // The acknowledgement's own delimiters (its MSH-2 is ^~\&).
        func escaped(_ value: String, limit: Int = 200) -> String {
            HL7Encoding().escape(ProducerText.visible(value, limit: limit))
        }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .gmt
        formatter.dateFormat = "yyyyMMddHHmmss"
        let trigger = header.trigger.isEmpty ? "" : "^" + escaped(header.trigger, limit: 8)
        var segments = [
            "MSH|^~\\&|\(escaped(header.receivingApplication))|\(escaped(header.receivingFacility))|\(escaped(header.sendingApplication))|"
                + "\(escaped(header.sendingFacility))|\(formatter.string(from: time))+0000||ACK\(trigger)|\(escaped(controlID))|"
                + "\(escaped(header.processingID, limit: 3))|\(escaped(header.version, limit: 12))",
            "MSA|\(code.rawValue)|\(escaped(header.controlID))" + (text.map { "|\(escaped($0))" } ?? ""),
        ]
        if code != .accept, let text {
            // ERR-3 (table 0357): 207 application internal error for a refusal, 102 data type error
            // for records refused; ERR-4 severity E.
            let errorCode = code == .reject ? "207^Application internal error^HL70357" : "102^Data type error^HL70357"
            segments.append("ERR|||\(errorCode)|E||||\(escaped(text))")
        }
        return Array((segments.joined(separator: "\r") + "\r").utf8)
    }
}
