import Foundation
import VigilCore

/// Human-readable renderings of control-socket replies for `vigilctl`.
public enum StatusText {
    /// Whether to colour output: only on a terminal, never with NO_COLOR set or TERM=dumb.
    public static var useColour: Bool {
        let environment = ProcessInfo.processInfo.environment
        return isatty(STDOUT_FILENO) != 0 && environment["NO_COLOR"] == nil && environment["TERM"] != "dumb"
    }

    /// ANSI colour for a severity word (halt and critical red, warning yellow), or the word as is.
    static func paint(_ text: String, severity: String, colour: Bool) -> String {
        guard colour else { return text }
        switch severity {
        case "halt", "critical": return "\u{1B}[1;31m\(text)\u{1B}[0m"
        case "warning": return "\u{1B}[33m\(text)\u{1B}[0m"
        default: return text
        }
    }

    /// Wraps a line at `width` columns on spaces; continuation lines are indented to the value column.
    static func fit(_ line: String, width: Int = 80, indent: Int = 12) -> [String] {
        guard line.count > width else { return [line] }
        var lines: [String] = []
        var current = ""
        for word in line.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let candidate = current.isEmpty ? word : current + " " + word
            if candidate.count > width, !current.trimmingCharacters(in: .whitespaces).isEmpty {
                lines.append(current)
                current = String(repeating: " ", count: indent) + word
            } else {
                current = candidate
            }
            // A single word longer than the line (a long path) is cut where it must be.
            while current.count > width {
                lines.append(String(current.prefix(width)))
                current = String(repeating: " ", count: indent) + current.dropFirst(width)
            }
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { lines.append(current) }
        return lines
    }

    /// `vigilctl status`: fits an 80-column terminal; colour only when asked (a TTY).
    public static func render(_ status: StatusReport, colour: Bool = false) -> String {
        var lines: [String] = []
        let origin = status.trial.origin.map { " [decided at \($0)]" } ?? ""
        let trial = status.trial.state == "running" ? "RUNNING" : "\(status.trial.state.uppercased())\(origin): \(status.trial.reason ?? "")"
        lines.append("Trial       \(status.trial.id): \(trial)")
        if let central = status.central {
            let link = central.reachable ? "reachable" : "UNREACHABLE (\(central.lastError ?? "?")); this site works alone"
            lines.append("Central     site \(central.site) (\(central.role)), \(link), \(central.backlog) changes to send")
        }
        lines.append("Daemon      vigild \(status.version), pid \(status.pid), up \(duration(status.uptimeSeconds)), \(status.state)")
        for reason in status.degraded { lines.append("  degraded  \(reason)") }
        lines.append("Config      \(status.configPath) (digest \(status.configDigest))")
        if let error = status.lastReloadError { lines.append("  last reload refused: \(error)") }
        let severities = ["halt", "critical", "warning", "info"]
        lines.append("Open alerts " + severities.map { severity in
            let count = status.openAlerts[severity] ?? 0
            return count > 0 ? paint("\(severity) \(count)", severity: severity, colour: colour) : "\(severity) 0"
        }.joined(separator: ", "))
        if let oldest = status.oldestUnacknowledged {
            lines.append("  UNACKED   " + paint(oldest.severity.uppercased(), severity: oldest.severity, colour: colour)
                + " \(oldest.rule) \(oldest.subject) for \(duration(oldest.ageSeconds)): vigilctl ack \(oldest.id)")
        }
        if !status.subjectsWithActiveSignals.isEmpty {
            lines.append("Subjects    with active signals: " + status.subjectsWithActiveSignals.joined(separator: ", "))
        }
        lines.append("Records     \(status.records.applied) applied, \(status.records.rejected) rejected, from \(status.records.files) files (\(status.records.filesRejected) rejected)")
        lines.append("Inbox       \(status.inboxBacklog) waiting" + (status.lastFileAt.map { ", last file \(ISO8601DateFormatter().string(from: $0))" } ?? ", no file yet"))
        lines.append("Outbox      \(status.outbox.backlog) waiting for the relay" + (status.outbox.oldestAgeSeconds.map { ", oldest \(duration($0))" } ?? "")
            + (status.outbox.failing > 0 ? "; \(status.outbox.failing) FAILING: \(status.outbox.lastRelayError ?? "")" : ""))
        lines.append("Journal     " + (status.journal.reachable ? "reachable" : "UNREACHABLE: \(status.journal.detail ?? "")")
            + (status.journal.pendingEntries > 0 ? ", \(status.journal.pendingEntries) entries queued" : ""))
        lines.append("Store       \(status.store.path) (\(status.store.bytes / 1024) KiB)")
        // Colour codes take no columns: fit on the plain text, which is the same but for them.
        return lines.flatMap { line in line.contains("\u{1B}") ? [line] : fit(line) }.joined(separator: "\n")
    }

    /// One line per alert for `vigilctl watch`.
    public static func watchLine(_ alert: AlertSummary, colour: Bool) -> String {
        let time = ISO8601DateFormatter().string(from: alert.raisedAt)
        return "\(time) " + paint(alert.severity.uppercased(), severity: alert.severity, colour: colour)
            + " \(alert.rule) \(alert.subject): \(alert.title) [\(alert.id)]"
    }

    /// `vigilctl replay`: the differences a candidate configuration would have made.
    public static func render(_ reply: ReplayReply) -> String {
        let formatter = ISO8601DateFormatter()
        func items(_ list: [ReplayReply.Item]) -> String {
            table(header: ["  OBSERVED", "SEVERITY", "SUBJECT", "RULE", "SUMMARY"], rows: list.map {
                ["  " + formatter.string(from: $0.observedAt), $0.severity.uppercased(), $0.subject, $0.rule, $0.title]
            })
        }
        var lines = [
            "Replayed \(reply.records) records from \(reply.files) files under configuration \(reply.candidateDigest) (live: \(reply.liveDigest))"
                + (reply.since.map { "; comparing alerts on data from \(formatter.string(from: $0))" } ?? ""),
            "Alerts: \(reply.liveAlerts) live, \(reply.candidateAlerts) with the candidate",
        ]
        lines.append("Would fire (\(reply.wouldFire.count)):")
        if !reply.wouldFire.isEmpty { lines.append(items(reply.wouldFire)) }
        lines.append("Would not fire (\(reply.wouldNotFire.count)):")
        if !reply.wouldNotFire.isEmpty { lines.append(items(reply.wouldNotFire)) }
        lines.append("Changed severity (\(reply.changed.count)):")
        for change in reply.changed {
            lines.append("  \(change.live.subject) \(change.live.rule): \(change.live.severity) → \(change.candidate.severity) (data of \(formatter.string(from: change.live.observedAt)))")
        }
        lines.append("")
        lines.append("Live configuration:")
        lines.append(alertQuality(acknowledgement: [], subjectDays: reply.subjectDays, burden: reply.liveBurden)
            .split(separator: "\n").dropFirst(2).joined(separator: "\n"))
        lines.append("Candidate configuration:")
        lines.append(alertQuality(acknowledgement: [], subjectDays: reply.subjectDays, burden: reply.candidateBurden)
            .split(separator: "\n").dropFirst(2).joined(separator: "\n"))
        return lines.joined(separator: "\n")
    }

    public static func render(_ reply: SubjectReply) -> String {
        var lines = ["Subject \(reply.subject) as of \(ISO8601DateFormatter().string(from: reply.asOf))"
            + (reply.latestDataAt.map { "; newest value \(duration(reply.asOf.timeIntervalSince($0))) old" } ?? "; no values")]
        if reply.signals.isEmpty {
            lines.append("Active signals: none")
        } else {
            lines.append("Active signals:")
            lines.append(table(header: ["  RULE", "SEVERITY", "SINCE", "ALERT"], rows: reply.signals.map {
                ["  \($0.rule)", $0.severity.uppercased(), $0.since.map { ISO8601DateFormatter().string(from: $0) } ?? "-", $0.alertId ?? "-"]
            }))
        }
        for score in reply.scores {
            lines.append("")
            var head = "\(score.name) \(score.total)" + (score.complete ? "" : " (incomplete: a lower bound)")
            if score.name == "SOFA", let baseline = reply.sofaBaseline { head += ", baseline \(baseline)" }
            if let note = score.note { head += " — \(note)" }
            lines.append(head)
            if !score.components.isEmpty {
                lines.append(table(header: ["  COMPONENT", "VALUE", "POINTS", "AGE"], rows: score.components.map {
                    ["  \($0.name)", $0.value, "\($0.points)", $0.ageSeconds.map(duration) ?? "-"]
                }))
            }
            if !score.missing.isEmpty { lines.append("  missing: " + score.missing.joined(separator: ", ")) }
        }
        return lines.joined(separator: "\n")
    }

    public static func render(_ rules: RulesReply) -> String {
        var lines = ["Trial state: \(rules.trialState.uppercased())", "", "Immediate-halt rules:"]
        lines.append(table(header: ["  RULE", "EVENT", "GRADE", "CAUSALITY", "WINDOW"], rows: rules.haltRules.map { rule in
            let event = rule.susar ? "SUSAR (serious, related, unexpected)" : rule.fatal ? "fatal adverse event"
                : (rule.terms + [rule.termPattern].compactMap { $0 }).joined(separator: " | ")
            return ["  \(rule.id)", event, rule.minimumGrade.map { "≥ \($0)" } ?? "any", rule.relatedAtLeast.map { "≥ \($0)" } ?? "any",
                    rule.windowHours.map { "\(ObservationValue.format($0)) h after D0" } ?? "any time"]
        }))
        let t = rules.toxicity
        lines.append("")
        lines.append("Toxicity: \(t.definition)")
        lines.append(String(format: "Bayesian monitoring (Thall, Simon & Estey 1995): prior Beta(%g, %g); stop when Pr(p > %.2f | x, n) > %.2f with n ≥ %d",
                            t.priorA, t.priorB, t.maxToxicityRate, t.posteriorThreshold, t.minimumEvaluable))
        lines.append(table(header: ["  N EVALUABLE", "STOP AT X ≥", "POSTERIOR AT X"], rows: t.boundaries.map {
            ["  \($0.evaluable)", $0.stoppingToxicities.map(String.init) ?? "-", $0.posterior.map { String(format: "%.4f", $0) } ?? "-"]
        }))
        for rule in t.countRules { lines.append("Count rule: stop at ≥ \(rule.toxicities) toxicities among the first \(rule.amongFirst) evaluable") }
        lines.append("")
        lines.append("SUSAR clocks (ICH E2A; EU 536/2014 art. 42): 7 days from awareness if fatal or life-threatening, else 15; reminders 24 h before and when overdue.")
        return lines.joined(separator: "\n")
    }

    public static func render(_ report: ReportReply) -> String {
        func rate(_ r: ReportReply.Rate) -> String {
            "\(r.count)/\(r.of)" + (r.percent.map { " (\(ObservationValue.format($0)) %)" } ?? "") + (r.subjects.isEmpty ? "" : ": " + r.subjects.joined(separator: ", "))
        }
        let m = report.mortalityOneMonth
        return [
            "Trial \(report.trial): \(report.infused) subjects infused",
            "Primary safety (≥ 1 adverse event by Day 10): \(rate(report.primarySafety))",
            "Sepsis:                                      \(rate(report.sepsis))",
            "ICU transfer:                                \(rate(report.icuTransfer))",
            "Deaths at one month: observed \(m.observedDeaths.count)" + (m.observedDeaths.isEmpty ? "" : " (\(m.observedDeaths.joined(separator: ", ")))")
                + ", SCORTEN-predicted \(ObservationValue.format(m.predictedDeaths)) over \(m.subjectsWithCompleteScorten) subjects with a complete day-1 SCORTEN"
                + (m.observedOverPredicted.map { ", ratio \(ObservationValue.format($0))" } ?? ", ratio not computable"),
            m.subjectsWithoutCompleteScorten.isEmpty ? "" : "  no complete day-1 SCORTEN: " + m.subjectsWithoutCompleteScorten.joined(separator: ", "),
            "Toxicity monitoring: \(report.toxicities) toxicities among \(report.evaluableForToxicity) evaluable subjects",
            "",
            alertQuality(acknowledgement: report.acknowledgement, subjectDays: report.subjectDays, burden: report.burden),
        ].joined(separator: "\n").replacingOccurrences(of: "\n\n\n", with: "\n\n")
    }

    /// Time to acknowledge and alert burden (shared by `report` and `replay`).
    public static func alertQuality(acknowledgement: [AlertMetrics.AcknowledgementSummary], subjectDays: Double, burden: [AlertMetrics.BurdenRow]) -> String {
        func minutes(_ value: Double?) -> String { value.map { duration($0 * 60) } ?? "-" }
        var lines = ["Time to acknowledge:"]
        if acknowledgement.isEmpty { lines.append("  no alerts yet") }
        lines.append(contentsOf: table(header: ["  SEVERITY", "RAISED", "ACKED", "MEDIAN", "P90"], rows: acknowledgement.map {
            ["  \($0.severity)", "\($0.raised)", "\($0.acknowledged)", minutes($0.medianMinutes), minutes($0.p90Minutes)]
        }).split(separator: "\n").map(String.init).filter { _ in !acknowledgement.isEmpty })
        lines.append("Alert burden over \(ObservationValue.format(subjectDays)) subject-days (confirmed: positive blood culture, infection AE or ICU transfer within 48 h):")
        if burden.isEmpty { lines.append("  no alerts yet") }
        lines.append(contentsOf: table(header: ["  RULE", "SEVERITY", "ALERTS", "PER SUBJECT-DAY", "CONFIRMED"], rows: burden.map { row in
            ["  \(row.rule)", row.severity, "\(row.alerts)", row.perSubjectDay.map { String(format: "%.3f", $0) } ?? "-",
             row.confirmed.map { "\($0)/\(row.alerts)" + (row.confirmedShare.map { String(format: " (%.0f %%)", $0 * 100) } ?? "") } ?? "n/a"]
        }).split(separator: "\n").map(String.init).filter { _ in !burden.isEmpty })
        return lines.joined(separator: "\n")
    }

    public static func render(_ alerts: [AlertSummary]) -> String {
        guard !alerts.isEmpty else { return "No alerts." }
        let formatter = ISO8601DateFormatter()
        let header = ["ID", "SEVERITY", "SUBJECT", "RULE", "RAISED", "STATE", "SUMMARY"]
        let rows = alerts.map { alert -> [String] in
            let state = alert.ackedAt != nil ? "acked by \(alert.ackedBy ?? "?")" : alert.resolvedAt != nil ? "resolved" : "open"
            return [alert.id, alert.severity.uppercased(), alert.subject, alert.rule, formatter.string(from: alert.raisedAt), state, alert.title]
        }
        return table(header: header, rows: rows)
    }

    /// Left-aligned columns separated by two spaces; the last column is not padded. Each cell is
    /// rendered by the producer-text rule (`ProducerText`), so a cell is one visible line, and padded
    /// by characters (`TextFormat.pad`).
    public static func table(header: [String], rows: [[String]]) -> String {
        let all = ([header] + rows).map { $0.map { ProducerText.visible($0) } }
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : TextFormat.pad(cell, to: widths[index])
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }

    static func duration(_ seconds: Double) -> String {
        let s = Int(seconds)
        if s < 60 { return "\(s)s" }
        if s < 3600 { return "\(s / 60)m\(s % 60)s" }
        if s < 86400 { return "\(s / 3600)h\((s % 3600) / 60)m" }
        return "\(s / 86400)d\((s % 86400) / 3600)h"
    }
}
