import Foundation
import FuzzSupport
import VigilConfig
import VigilControl
import VigilCore

/// Control-socket requests: the bytes a client sends through `ControlRequest.decode(bytes:)` (what
/// the server does before handling a line), then `ControlRequest.parse`, and the error reply encoded.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControl(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = FuzzSupport.bytes(data, size)
    switch ControlRequest.decode(bytes: bytes) {
    case .failure(let failure):
        checkReply(failure.message)
    case .success(let line):
        check(line, ControlRequest.parse(line))
    }
    // The handler takes any String: parse the raw text too, newlines, tabs and all.
    let raw = String(decoding: bytes, as: UTF8.self)
    check(raw, ControlRequest.parse(raw))
    return 0
}

func check(_ line: String, _ parsed: Result<ControlRequest, ControlRequestError>) {
    FuzzSupport.require(parsed == ControlRequest.parse(line), "parse is not deterministic for \(line.debugDescription)")
    switch parsed {
    case .failure(let failure):
        if let command = failure.command {
            FuzzSupport.require(ControlRequest.commands.contains(command), "error names unknown command \(command.debugDescription)")
        }
        checkReply(failure.message)
    case .success(let request):
        FuzzSupport.require(line.split(separator: " ").first.map(String.init) == request.command, "\(request) parsed from \(line.debugDescription)")
        switch request {
        case .alerts(_, let limit):
            FuzzSupport.require((1...10_000).contains(limit), "alerts limit \(limit)")
        case .acknowledge(let id, _, _):
            FuzzSupport.require(id.count == 16 && id.allSatisfy(\.isHexDigit), "ack id \(id.debugDescription)")
        case .silence(_, let minutes, _):
            FuzzSupport.require(minutes > 0 && minutes <= ControlRequest.maxSilenceMinutes, "silence minutes \(minutes)")
        default:
            break
        }
    }
}

/// The error reply is one JSON line that `vigilctl` decodes back to the message as the producer-text
/// rule renders it (docs/ARCHITECTURE.md §3.5): a request's control characters come back visible, never as-is.
func checkReply(_ message: String) {
    FuzzSupport.require(!message.isEmpty, "empty error message")
    let reply = ControlReply.error(message)
    FuzzSupport.require(!reply.contains("\n"), "reply spans lines: \(reply.debugDescription)")
    let decoded = try? ControlReply.decoder.decode(ErrorReply.self, from: Data(reply.utf8))
    let expected = ProducerText.visible(message, limit: ControlReply.textLimit)
    FuzzSupport.require(decoded?.error == expected && decoded?.ok == false, "reply \(reply.debugDescription) does not decode to \(expected.debugDescription)")
    FuzzSupport.require(ProducerText.isVisible(decoded?.error ?? "", limit: ControlReply.textLimit), "reply message not rendered: \(reply.debugDescription)")
}
