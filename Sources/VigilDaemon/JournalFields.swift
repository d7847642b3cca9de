import Foundation
import VigilCore

/// The fixed 128-bit `MESSAGE_ID` of each rule family (docs/ARCHITECTURE.md §3.3), so `journalctl -x` can explain
/// an entry and operators can filter on a family. Never change an id once shipped.
public enum RuleFamily {
    /// Family name → MESSAGE_ID; each has an entry in systemd/vigil.catalog.
    public static let messageIDs: [String: String] = [
        "lactate": "a38450225d9a4261bdbc819e0cf3cf64",
        "data-quality": "d703d7de6b6f47faaac05540eb3c70ce",
        "resolved": "b3630b4365684ae38425dc714524a2f4",
        "reentered": "2f627737c4504ae781ad55d4dd576a74",
        "other": "e0b48807f55e48d39f3685649df67ed1",
        "halt": "23cb724101a54c1ebe1d4c4cdc63b9ed",
        "susar-clock": "dc44bab65c7346269a677127add9cceb",
        "early-warning": "fb1cd3aaba9f4ee29b3ef99ea8279a2f",
        "sepsis": "a42424f13e234cc0bfcbd4040b77aa8d",
        "icu": "662b65fdc27b4c3e86d9d0e2b09ee74a",
        "ctcae": "a78666aafffd4e6ebf5f17aee174c6ea",
    ]

    /// The family of a rule id.
    public static func family(of rule: String) -> String {
        switch rule {
        case "lactate", "data-quality", "susar-clock": rule
        case "news2", "qsofa", "sirs": "early-warning"
        case "sofa-sepsis", "septic-shock", "blood-culture": "sepsis"
        case "scorten", "bsa-detached", "spo2-on-oxygen", "icu-transfer": "icu"
        case _ where rule.hasPrefix("halt-") || rule == "bayesian-toxicity" || rule.hasPrefix("count-"): "halt"
        case _ where rule.hasPrefix("ctcae-"): "ctcae"
        default: "other"
        }
    }

    public static func messageID(for alert: Alert) -> String {
        switch alert.phase {
        case .resolved: messageIDs["resolved"]!
        case .reentered: messageIDs["reentered"]!
        case .raised: messageIDs[family(of: alert.rule)]!
        }
    }
}

extension Alert {
    /// The journal fields of docs/ARCHITECTURE.md §3.3 for this alert; evidence times in the site's zone. Every
    /// field is rendered by the producer-text rule (`ProducerText`): MESSAGE's only line breaks are
    /// the ones written here, and no field holds a control character.
    public func journalFields(timeZone: TimeZone, instance: String) -> [(String, String)] {
        let alert = visible
        return alert.renderedJournalFields(timeZone: timeZone, instance: ProducerText.visible(instance))
    }

    private func renderedJournalFields(timeZone: TimeZone, instance: String) -> [(String, String)] {
        let label = switch phase {
        case .resolved: "RESOLVED"
        case .reentered: "BACK (same episode, \(severity.rawValue))"
        case .raised: severity.rawValue.uppercased()
        }
        var message = "\(label): \(title)\n\(reason)"
        for item in evidence {
            message += "\n  \(item.label): \(item.value)" + (item.time.map { " at " + TextFormat.siteTime($0, zone: timeZone) } ?? "")
                + (item.record.map { " [\($0)]" } ?? "")
        }
        if phase == .raised { message += "\nAction: \(action)\nAcknowledge: vigilctl ack \(id)" }
        return [
            ("MESSAGE", message),
            // An end or a return within the hold-down is a notice for the record; the episode's alert
            // already carries the severity.
            ("PRIORITY", String(phase == .raised ? severity.journalPriority : phase == .reentered ? 5 : Severity.info.journalPriority)),
            ("MESSAGE_ID", RuleFamily.messageID(for: self)),
            ("SYSLOG_IDENTIFIER", "vigild"),
            ("VIGIL_ALERT_ID", id),
            ("VIGIL_RULE", rule),
            ("VIGIL_PHASE", phase.rawValue),
            ("VIGIL_SEVERITY", severity.rawValue),
            ("VIGIL_SUBJECT", subject ?? "trial"),
            ("VIGIL_TRIAL", trial),
            ("VIGIL_RECORDS", records.joined(separator: ",")),
            ("VIGIL_VALUE", value),
            ("VIGIL_INSTANCE", instance),
        ]
    }
}
