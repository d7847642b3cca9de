import Foundation
import GRDB
import VigilCore

extension VigilStore {
    public func addSilence(_ silence: Silence) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO silences (id, matcher, starts_at, ends_at, reason, created_by) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [silence.id, silence.matcher, silence.startsAt.timeIntervalSince1970, silence.endsAt.timeIntervalSince1970,
                                       silence.reason, silence.createdBy])
        }
        silences.withLock { $0 = nil }
    }

    /// Silences in force at `time`. Every delivery pass that may mail asks, so the table is read
    /// once and kept: this store is the only writer of silences (`addSilence` drops the copy), and
    /// one that has ended is filtered out by time.
    public func activeSilences(at time: Date) throws -> [Silence] {
        // Read under the lock: a silence added while the table is read drops the copy only after
        // this read has stored it, never before, so the new silence is never lost.
        let all = try silences.withLock { kept -> [Silence] in
            if let kept { return kept }
            let read = try pool.read { db in
                try Row.fetchAll(db, sql: "SELECT * FROM silences ORDER BY ends_at").map {
                    Silence(id: $0["id"], matcher: $0["matcher"], startsAt: Date(timeIntervalSince1970: $0["starts_at"]), endsAt: Date(timeIntervalSince1970: $0["ends_at"]),
                            reason: $0["reason"], createdBy: $0["created_by"])
                }
            }
            kept = read
            return read
        }
        return all.filter { $0.startsAt <= time && $0.endsAt > time }
    }


    /// What one delivery pass did, recorded in one transaction: the alerts written to the journal, those
    /// written to the outbox, and those whose mail was held (with why). One commit for the pass, not
    /// two per alert; an alert delivered but not yet marked when the process dies is found in the
    /// journal and the outbox by the next start's recovery pass.
    public func markDelivered(journal: [String], outbox: [String], held: [(id: String, reason: String)], at time: Date) throws {
        guard !journal.isEmpty || !outbox.isEmpty || !held.isEmpty else { return }
        let seconds = time.timeIntervalSince1970
        try pool.write { db in
            for id in journal {
                try db.cachedStatement(sql: "UPDATE alerts SET journal_at = ? WHERE id = ? AND journal_at IS NULL").execute(arguments: [seconds, id])
            }
            for id in outbox {
                try db.cachedStatement(sql: "UPDATE alerts SET outbox_at = ? WHERE id = ? AND outbox_at IS NULL").execute(arguments: [seconds, id])
            }
            for (id, reason) in held {
                try db.cachedStatement(sql: "UPDATE alerts SET mail_held = ?, outbox_at = ? WHERE id = ? AND outbox_at IS NULL")
                    .execute(arguments: [reason, seconds, id])
            }
        }
    }

    /// Whether mail already went out, within `interval` before `time`, for the same rule and subject at
    /// this severity or higher (Alertmanager's repeat_interval).
    public func recentlyNotified(_ alert: Alert, within interval: TimeInterval, before time: Date) throws -> Bool {
        try pool.read { db in
            let ranks = Severity.allCases.filter { $0 >= alert.severity }.map(\.rawValue)
            // One statement per number of ranks (at most four), prepared once per connection.
            return try Int.fetchOne(db.cachedStatement(sql: """
                SELECT COUNT(*) FROM alerts WHERE rule = ? AND subject IS ? AND id != ? AND phase = 'raised' AND mail_held IS NULL
                  AND outbox_at IS NOT NULL AND outbox_at >= ? AND severity IN (\(ranks.map { _ in "?" }.joined(separator: ",")))
                """), arguments: StatementArguments([alert.rule, alert.subject, alert.id, time.timeIntervalSince1970 - interval] as [(any DatabaseValueConvertible)?]) + StatementArguments(ranks)) ?? 0 > 0
        }
    }

    /// Unacknowledged, unresolved critical and halt alerts raised before `cutoff` and not yet escalated.
    public func alertsToEscalate(raisedBefore cutoff: Date) throws -> [StoredAlert] {
        try pool.read { db in
            try StoredAlert.fetch(db, where: "phase = 'raised' AND severity IN ('critical', 'halt') AND acked_at IS NULL AND resolved_at IS NULL AND escalated_at IS NULL AND raised_at <= \(cutoff.timeIntervalSince1970)", limit: nil)
        }
    }

    public func markEscalated(_ id: String, at time: Date) throws {
        try pool.write { db in
            try db.execute(sql: "UPDATE alerts SET escalated_at = ? WHERE id = ? AND escalated_at IS NULL", arguments: [time.timeIntervalSince1970, id])
        }
    }
}
