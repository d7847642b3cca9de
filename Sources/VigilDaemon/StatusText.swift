import Foundation
import VigilCore

/// Human-readable renderings of control-socket replies for `vigilctl`.
public enum StatusText {
    public static func render(_ status: StatusReport) -> String {
        var lines: [String] = []
        let trial = status.trial.state == "running" ? "RUNNING" : "\(status.trial.state.uppercased()): \(status.trial.reason ?? "")"
        lines.append("Trial       \(status.trial.id): \(trial)")
        lines.append("Daemon      vigild \(status.version), pid \(status.pid), up \(duration(status.uptimeSeconds)), \(status.state)")
        for reason in status.degraded { lines.append("  degraded  \(reason)") }
        lines.append("Config      \(status.configPath) (digest \(status.configDigest))")
        if let error = status.lastReloadError { lines.append("  last reload refused: \(error)") }
        let severities = ["halt", "critical", "warning", "info"]
        lines.append("Open alerts " + severities.map { "\($0) \(status.openAlerts[$0] ?? 0)" }.joined(separator: ", "))
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
        ].filter { !$0.isEmpty }.joined(separator: "\n")
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

    /// Left-aligned columns separated by two spaces; the last column is not padded.
    public static func table(header: [String], rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
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
