import Foundation
import Synchronization
import VigilConfig
import VigilCore

/// Renders an alert as an RFC 5322 message (MIME, UTF-8, quoted-printable body) for the outbox.
/// The only person-related identifier it ever contains is the trial subject id. Every header value
/// and every alert field goes through the producer-text rule (`ProducerText`), so no text from a
/// record can add a header, a line or a control sequence to the message.
public struct AlertMail: Sendable {
    public var from: String
    public var hostName: String
    public var recipients: [Severity: [String]]
    public var registry: String
    /// Evidence times are shown in the site's zone, as the people reading the mail live by it.
    public var timeZone: TimeZone
    public var escalationRecipients: [String]

    public init(configuration: VigilConfiguration) {
        escalationRecipients = configuration.mail.escalationRecipients
        timeZone = TimeZone(identifier: configuration.trial.siteTimeZone) ?? .gmt
        from = configuration.mail.from
        hostName = configuration.mail.hostName
        recipients = configuration.mail.recipients
        registry = configuration.trial.registry
    }

    /// Recipients for a severity: its own list, or the next more severe list when it has none.
    public func to(for severity: Severity) -> [String] {
        var level = severity
        while true {
            if let list = recipients[level], !list.isEmpty { return list }
            guard let next = Severity.allCases.first(where: { $0 > level }) else { return [] }
            level = next
        }
    }

    /// The re-notification of an unacknowledged critical or halt alert to the escalation list.
    public func renderEscalation(_ alert: Alert, unacknowledgedFor minutes: Int, at time: Date) -> String {
        render(alert, to: escalationRecipients, subjectPrefix: "[VIGIL ESCALATION: UNACKNOWLEDGED \(minutes) MIN]",
               messageID: "\(alert.id)-escalation", date: time,
               preface: "ESCALATION: this \(alert.severity.rawValue) alert has not been acknowledged for \(minutes) minutes.\n\n")
    }

    public func render(_ alert: Alert) -> String {
        render(alert, to: to(for: alert.severity), subjectPrefix: "[VIGIL \(alert.severity.rawValue.uppercased())]",
               messageID: alert.id, date: alert.raisedAt, preface: "")
    }

    func render(_ alert: Alert, to recipients: [String], subjectPrefix: String, messageID: String, date: Date, preface: String) -> String {
        let alert = alert.visible
        var headers: [(String, String)] = [
            ("From", "Vigil <\(from)>"),
            ("To", recipients.joined(separator: ", ")),
            ("Subject", "\(subjectPrefix) \(alert.title)"),
            ("Date", TextFormat.rfc5322Date(date)),
            ("Message-ID", "<\(messageID)@\(hostName)>"),
            ("MIME-Version", "1.0"),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Transfer-Encoding", "quoted-printable"),
            ("X-Vigil-Alert-Id", alert.id),
            ("X-Vigil-Rule", alert.rule),
            ("X-Vigil-Severity", alert.severity.rawValue),
            ("X-Vigil-Trial", alert.trial),
        ]
        if let subject = alert.subject { headers.append(("X-Vigil-Subject", subject)) }
        if alert.severity >= .critical { headers.append(("Importance", "high")) }
        let head = headers.map { Self.fold(name: $0.0, value: Self.encodeHeader(ProducerText.visible($0.1))) }.joined(separator: "\r\n")
        return head + "\r\n\r\n" + Self.quotedPrintable(preface + body(alert)) + "\r\n"
    }

    public func body(_ alert: Alert) -> String {
        let alert = alert.visible
        let time = { (date: Date) in TextFormat.siteTime(date, zone: timeZone) }
        var lines: [String] = []
        lines.append("\(alert.severity.rawValue.uppercased()): \(alert.title)")
        lines.append("")
        lines.append("Trial:    \(alert.trial)\(registry.isEmpty ? "" : " (\(registry))")")
        lines.append("Subject:  \(alert.subject ?? "trial level")")
        lines.append("Rule:     \(alert.rule)")
        lines.append("Raised:   \(time(alert.raisedAt))")
        lines.append("Alert id: \(alert.id)")
        lines.append("")
        lines.append("Why:")
        lines.append("  \(alert.reason)")
        lines.append("")
        lines.append("Evidence:")
        let labelWidth = max(5, alert.evidence.map(\.label.count).max() ?? 0)
        let valueWidth = max(5, alert.evidence.map(\.value.count).max() ?? 0)
        for item in alert.evidence {
            lines.append("  " + TextFormat.pad(item.label, to: labelWidth) + "  "
                + TextFormat.pad(item.value, to: valueWidth) + "  " + (item.time.map(time) ?? "-")
                + (item.record.map { "  record \($0)" } ?? ""))
        }
        lines.append("")
        lines.append("What to do:")
        lines.append("  \(alert.action)")
        lines.append("")
        lines.append("Acknowledge:")
        lines.append("  vigilctl ack \(alert.id)")
        lines.append("")
        lines.append("-- ")
        lines.append("Vigil safety monitor. This message carries the trial subject id only.")
        return lines.joined(separator: "\n")
    }

    /// RFC 2047 encoded-word for a header value that is not plain ASCII.
    static func encodeHeader(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { !$0.isASCII }) else { return value }
        // One encoded word per chunk of whole characters, each at most 75 octets (RFC 2047 §2).
        var words: [String] = []
        var chunk = ""
        for character in value {
            let candidate = chunk + String(character)
            if Data(candidate.utf8).base64EncodedString().count + 12 > 75 {
                words.append("=?UTF-8?B?\(Data(chunk.utf8).base64EncodedString())?=")
                chunk = String(character)
            } else {
                chunk = candidate
            }
        }
        if !chunk.isEmpty { words.append("=?UTF-8?B?\(Data(chunk.utf8).base64EncodedString())?=") }
        return words.joined(separator: " ")
    }

    /// Folds a header at spaces so lines stay within 78 characters where possible (RFC 5322 §2.2.3).
    static func fold(name: String, value: String) -> String {
        var lines: [String] = []
        var current = "\(name):"
        for word in value.split(separator: " ", omittingEmptySubsequences: false) {
            if current.count + 1 + word.count > 78, current.contains(where: { $0 != " " }), current != "\(name):" {
                lines.append(current)
                current = " " + word
            } else {
                current += " " + word
            }
        }
        lines.append(current)
        return lines.joined(separator: "\r\n")
    }

    /// Quoted-printable (RFC 2045 §6.7) with CRLF line breaks and soft breaks at 76 characters.
    static func quotedPrintable(_ text: String) -> String {
        // On the bytes, into one buffer: every mail body goes through here, character by character.
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count + text.utf8.count / 8)
        var first = true
        for line in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            if !first { out.append(contentsOf: [13, 10]) }
            first = false
            var width = 0
            var index = line.startIndex
            while index < line.endIndex {
                let byte = line[index]
                let isLast = line.index(after: index) == line.endIndex
                let plain = (byte >= 33 && byte <= 126 && byte != 61) || (byte == 32 && !isLast)
                let length = plain ? 1 : 3
                if width + length > 75 {
                    out.append(contentsOf: [UInt8(ascii: "="), 13, 10])
                    width = 0
                }
                if plain {
                    out.append(byte)
                } else {
                    out.append(contentsOf: [UInt8(ascii: "="), hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]])
                }
                width += length
                index = line.index(after: index)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
