import Foundation

/// How replies on the control socket are encoded: one JSON line per reply, snake_case keys, ISO 8601
/// dates. The reply bodies are in VigilDaemon (`ControlProtocol.swift`); `vigilctl` decodes them with
/// `decoder`.
public enum ControlReply {
    public static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    /// Encodes a successful reply body as one line.
    public static func ok(_ body: some Encodable) -> String {
        guard let data = try? encoder.encode(body) else { return error("cannot encode the reply") }
        return String(decoding: data, as: UTF8.self)
    }

    public static func error(_ message: String) -> String {
        ok(ErrorReply(ok: false, error: message))
    }
}

/// A refused or failed request.
public struct ErrorReply: Codable, Sendable {
    public var ok: Bool
    public var error: String
}
