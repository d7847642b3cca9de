import Foundation
import VigilCore

/// How replies on the control socket are encoded: one JSON line per reply, snake_case keys, ISO 8601
/// dates. The reply bodies are in `ControlReplies.swift`; `vigilctl` decodes them with `decoder`.
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

    /// Encodes a successful reply body as one line. Every string in it, keys included, is rendered by
    /// the producer-text rule (`ProducerText`): a reply carries terms, ids, units and file names, and
    /// whatever reads it (`vigilctl`'s tables, `--json` on a terminal, a script) gets printable text.
    public static func ok(_ body: some Encodable) -> String {
        guard let data = try? encoder.encode(body) else { return error("cannot encode the reply") }
        guard let tree = try? JSONDecoder().decode(ReplyJSON.self, from: data) else { return error("cannot encode the reply") }
        guard tree.needsRendering else { return String(decoding: data, as: UTF8.self) }
        guard let rendered = try? plainEncoder.encode(tree.rendered) else { return error("cannot encode the reply") }
        return String(decoding: rendered, as: UTF8.self)
    }

    /// Re-encodes a rendered tree: its keys are already snake_case and its dates already text.
    static let plainEncoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// The cap on one string of a reply. Replies hold Vigil's own long texts (reasons, definitions)
    /// beside producer text: a wider cap than one value's.
    public static let textLimit = 4 * ProducerText.defaultLimit

    /// Encodes an error reply; its message is rendered like every other string of a reply.
    public static func error(_ message: String) -> String {
        ok(ErrorReply(ok: false, error: message))
    }
}

/// A refused or failed request.
public struct ErrorReply: Codable, Sendable {
    public var ok: Bool
    public var error: String
}

/// A reply as a JSON tree, so that every string in it can be rendered whatever the reply type.
/// Integers come back as `Int` and other numbers as `Double`, which JSONEncoder writes in their
/// shortest round-tripping form, so numbers survive the trip unchanged.
indirect enum ReplyJSON: Codable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([ReplyJSON])
    case object([String: ReplyJSON])

    init(from decoder: Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Int.self) { self = .int(value) }
        else if let value = try? container.decode(Double.self) { self = .double(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([ReplyJSON].self) { self = .array(value) }
        else { self = .object(try container.decode([String: ReplyJSON].self)) }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    static let limit = ControlReply.textLimit

    /// True when some string or key would change under the rendering rule.
    var needsRendering: Bool {
        switch self {
        case .null, .bool, .int, .double: false
        case .string(let text): !ProducerText.isVisible(text, limit: Self.limit)
        case .array(let items): items.contains(where: \.needsRendering)
        case .object(let fields): fields.contains { !ProducerText.isVisible($0.key, limit: Self.limit) || $0.value.needsRendering }
        }
    }

    var rendered: ReplyJSON {
        switch self {
        case .null, .bool, .int, .double: self
        case .string(let text): .string(ProducerText.visible(text, limit: Self.limit))
        case .array(let items): .array(items.map(\.rendered))
        case .object(let fields):
            .object(Dictionary(fields.map { (ProducerText.visible($0.key, limit: Self.limit), $0.value.rendered) }, uniquingKeysWith: { first, _ in first }))
        }
    }
}
