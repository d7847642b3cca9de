import Foundation

/// Writes a record as its canonical JSON: byte for byte what `JSONEncoder` writes for it with sorted
/// keys, unescaped slashes and `ISO8601Coding` dates (the encoding of stored payloads and content
/// hashes, which must not change), without going through `Encoder` containers, too costly for a
/// step every stored record takes. Keys are written in their sorted order by hand;
/// CanonicalJSONTests compares the output with JSONEncoder's on random records. Events whose
/// attribute names are not all ASCII go to JSONEncoder, so that the order of such names is never
/// this writer's guess.
struct CanonicalJSONWriter {
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(384) }

    /// The canonical JSON of `record`, or nil when it must be left to JSONEncoder.
    static func encode(_ record: Record) throws -> [UInt8]? {
        var writer = CanonicalJSONWriter()
        switch record {
        case .observation(let o):
            writer.raw("{\"observation\":{\"_0\":")
            try writer.observation(o)
        case .adverseEvent(let ae):
            writer.raw("{\"adverseEvent\":{\"_0\":")
            writer.adverseEvent(ae)
        case .event(let event):
            guard event.attributes.keys.allSatisfy({ $0.utf8.allSatisfy { $0 < 0x80 } }) else { return nil }
            writer.raw("{\"event\":{\"_0\":")
            writer.event(event)
        }
        writer.raw("}}")
        return writer.bytes
    }

    // Synthesized Codable writes each property under its name, leaves nil optionals out, and writes an
    // enum case with a payload as {"case":{"_0":payload}}.

    mutating func observation(_ o: Observation) throws {
        var fields = Fields()
        fields.optional("abnormalFlags", o.abnormalFlags, &self)
        fields.string("code", o.code, &self)
        fields.optional("comparator", o.comparator, &self)
        if let high = o.high { fields.key("high", &self); try number(high) }
        fields.string("id", o.id, &self)
        fields.optional("loinc", o.loinc, &self)
        if let low = o.low { fields.key("low", &self); try number(low) }
        fields.optional("originalUnit", o.originalUnit, &self)
        fields.optional("originalValue", o.originalValue, &self)
        fields.optional("reportedTime", o.reportedTime, &self)
        fields.optional("status", o.status, &self)
        fields.string("subject", o.subject, &self)
        fields.date("time", o.time, &self)
        fields.optional("unit", o.unit, &self)
        fields.key("value", &self)
        switch o.value {
        case .flag(let flag): raw(flag ? "{\"flag\":{\"_0\":true}}" : "{\"flag\":{\"_0\":false}}")
        case .number(let value):
            raw("{\"number\":{\"_0\":")
            try number(value)
            raw("}}")
        case .text(let text):
            raw("{\"text\":{\"_0\":")
            string(text)
            raw("}}")
        }
        raw("}")
    }

    mutating func adverseEvent(_ ae: AdverseEvent) {
        var fields = Fields()
        if let aware = ae.aware { fields.date("aware", aware, &self) }
        if let expected = ae.expected { fields.key("expected", &self); raw(expected ? "true" : "false") }
        if let grade = ae.grade { fields.key("grade", &self); bytes.append(contentsOf: String(grade).utf8) }
        fields.string("id", ae.id, &self)
        fields.optional("meddraPT", ae.meddraPT, &self)
        fields.string("onset", ae.onset, &self)
        if let onsetTime = ae.onsetTime { fields.date("onsetTime", onsetTime, &self) }
        fields.optional("outcome", ae.outcome, &self)
        fields.optional("related", ae.related, &self)
        fields.key("serious", &self)
        raw("[")
        for (index, item) in ae.serious.enumerated() {
            if index > 0 { raw(",") }
            string(item)
        }
        raw("]")
        fields.string("subject", ae.subject, &self)
        fields.string("term", ae.term, &self)
        raw("}")
    }

    /// Attribute names are ASCII here (see `encode`): JSONEncoder sorts those by their bytes.
    mutating func event(_ event: ClinicalEvent) {
        var fields = Fields()
        fields.key("attributes", &self)
        raw("{")
        for (index, name) in event.attributes.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
            if index > 0 { raw(",") }
            string(name)
            raw(":")
            string(event.attributes[name]!)
        }
        raw("}")
        fields.string("id", event.id, &self)
        fields.string("kind", event.kind, &self)
        fields.string("subject", event.subject, &self)
        fields.date("time", event.time, &self)
        raw("}")
    }

    /// Opens an object and writes the commas between its members.
    struct Fields {
        var count = 0

        mutating func key(_ name: StaticString, _ writer: inout CanonicalJSONWriter) {
            writer.raw(count == 0 ? "{\"" : ",\"")
            writer.raw(name)
            writer.raw("\":")
            count += 1
        }

        mutating func string(_ name: StaticString, _ value: String, _ writer: inout CanonicalJSONWriter) {
            key(name, &writer)
            writer.string(value)
        }

        mutating func optional(_ name: StaticString, _ value: String?, _ writer: inout CanonicalJSONWriter) {
            if let value { string(name, value, &writer) }
        }

        mutating func date(_ name: StaticString, _ value: Date, _ writer: inout CanonicalJSONWriter) {
            string(name, ISO8601Coding.string(from: value), &writer)
        }
    }

    mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// JSONEncoder's number text: Swift's shortest round-trip description, without a trailing ".0".
    /// A value JSON cannot hold throws, as JSONEncoder does.
    mutating func number(_ value: Double) throws {
        guard value.isFinite else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "Unable to encode Double.\(value) directly in JSON."))
        }
        var text = value.description
        if text.hasSuffix(".0") { text.removeLast(2) }
        bytes.append(contentsOf: text.utf8)
    }

    /// A JSON string as JSONEncoder writes it: `"` and `\` escaped, control characters as \b \t \n
    /// \f \r or \u00xx (lower-case hex), everything else (slashes, DEL, non-ASCII) as is.
    mutating func string(_ text: String) {
        bytes.append(0x22)
        var text = text
        text.withUTF8 { utf8 in
            var start = 0
            for (index, byte) in utf8.enumerated() where byte < 0x20 || byte == 0x22 || byte == 0x5C {
                bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start..<index]))
                start = index + 1
                switch byte {
                case 0x22: raw("\\\"")
                case 0x5C: raw("\\\\")
                case 0x08: raw("\\b")
                case 0x09: raw("\\t")
                case 0x0A: raw("\\n")
                case 0x0C: raw("\\f")
                case 0x0D: raw("\\r")
                default:
                    let hex: [UInt8] = Array("0123456789abcdef".utf8)
                    bytes.append(contentsOf: [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
                }
            }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: utf8[start...]))
        }
        bytes.append(0x22)
    }
}

extension SignalState {
    /// The state as sorted-key JSON, byte for byte what `JSONEncoder` writes with sorted keys,
    /// unescaped slashes and `ISO8601Coding` dates. Every changed state is written at the end of
    /// every transaction, on the writing thread, where JSONEncoder's containers cost too much.
    public func canonicalJSON() -> [UInt8] {
        var writer = CanonicalJSONWriter()
        var fields = CanonicalJSONWriter.Fields()
        fields.optional("alertID", alertID, &writer)
        fields.optional("endedAlertID", endedAlertID, &writer)
        if let endedAt { fields.date("endedAt", endedAt, &writer) }
        fields.date("evidenceTime", evidenceTime, &writer)
        fields.optional("peak", peak?.rawValue, &writer)
        fields.string("rule", rule, &writer)
        fields.optional("severity", severity?.rawValue, &writer)
        if let since { fields.date("since", since, &writer) }
        fields.string("subject", subject, &writer)
        writer.raw("}")
        return writer.bytes
    }
}
