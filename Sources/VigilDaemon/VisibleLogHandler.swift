import Logging
import VigilCore

/// A log handler that renders every message and metadata value by the producer-text rule
/// (`ProducerText`) before the handler it wraps writes it: log lines name inbox files, record ids
/// and error texts, and none of those may break a line or carry a control sequence into the journal
/// or a terminal.
public struct VisibleLogHandler: LogHandler {
    public var wrapped: any LogHandler

    public init(wrapping handler: any LogHandler) {
        wrapped = handler
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }

    public func log(event: LogEvent) {
        var event = event
        event.message = "\(ProducerText.visible(event.message.description, limit: 4 * ProducerText.defaultLimit))"
        event.metadata = event.metadata?.mapValues(Self.render)
        wrapped.log(event: event)
    }

    static func render(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(ProducerText.visible(text))
        case .stringConvertible(let item): .string(ProducerText.visible(item.description))
        case .array(let items): .array(items.map(render))
        case .dictionary(let fields): .dictionary(fields.mapValues(render))
        }
    }
}
