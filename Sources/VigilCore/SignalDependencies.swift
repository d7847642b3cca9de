import Foundation

/// Which observation codes each signal reads (docs/ARCHITECTURE.md §4, "Incremental evaluation"):
/// what lets a new record re-evaluate only the signals that depend on its code. SOFA (sepsis, and
/// the baseline that moves with time) and SCORTEN (enrolment data) are evaluated at every moment and
/// are not listed. `SignalDependenciesTests` checks every entry against the rules themselves:
/// changing a code a signal does not list never changes its reading.
public enum SignalDependencies {
    /// A signal evaluated only when one of its inputs changed or went stale.
    public enum Signal: Hashable, Sendable {
        case lactate, news2, qsofa, sirs, bloodCulture, septicShock, bsaDetached, spo2OnOxygen
        case ctcae(String)

        /// The rule id of the signal's alerts.
        public var rule: String {
            switch self {
            case .lactate: "lactate"
            case .news2: "news2"
            case .qsofa: "qsofa"
            case .sirs: "sirs"
            case .bloodCulture: "blood-culture"
            case .septicShock: "septic-shock"
            case .bsaDetached: "bsa-detached"
            case .spo2OnOxygen: "spo2-on-oxygen"
            case .ctcae(let code): "ctcae-\(code)"
            }
        }
    }

    /// Each signal's input codes.
    public static let inputs: [Signal: [String]] = {
        var table: [Signal: [String]] = [
            .lactate: ["lactate"],
            .news2: ["respiratory_rate", "spo2", "oxygen", "fio2", "systolic_bp", "heart_rate", "consciousness", "temperature"],
            .qsofa: ["respiratory_rate", "gcs", "consciousness", "systolic_bp"],
            .sirs: ["temperature", "heart_rate", "respiratory_rate", "paco2", "wbc", "bands"],
            .bloodCulture: ["blood_culture"],
            .septicShock: ["mean_arterial_pressure", "lactate", "norepinephrine", "epinephrine", "dopamine", "dobutamine"],
            .bsaDetached: ["bsa_detached"],
            .spo2OnOxygen: ["spo2", "oxygen", "fio2"],
        ]
        for code in ClinicalSignals.gradedCodes { table[.ctcae(code)] = [code] }
        return table
    }()

    /// The signals due at `asOf`, a moment after `mark` (the latest moment the subject was evaluated
    /// at), given the codes of the records applied so far at or before `asOf` (`changed`) and the
    /// newest values as of `asOf`. A signal is due when one of its inputs is among `changed`, is newer
    /// than the mark, or was fresh at the mark and is stale now. Otherwise its inputs are what they
    /// were at the mark, so its reading is the one the signal engine took then, and a repeated reading
    /// changes nothing (`SignalEngine.advance`).
    public static func due(changed: Set<String>, latest: ObservationSlots, freshness: Freshness, mark: Date, asOf: Date) -> Set<Signal> {
        var slots = [Bool](repeating: false, count: ObservationSlots.codes.count)
        for code in changed { if let slot = ObservationSlots.slot(of: code) { slots[slot] = true } }
        return due(changedSlots: slots, latest: latest, freshness: freshness, mark: mark, asOf: asOf)
    }

    /// `due` with the changed codes as a flag per `ObservationSlots` slot: asked at every moment,
    /// so it reads arrays only.
    public static func due(changedSlots changed: [Bool], latest: ObservationSlots, freshness: Freshness, mark: Date, asOf: Date) -> Set<Signal> {
        var due: Set<Signal> = []
        for (signal, slots) in inputSlots {
            for slot in slots {
                if changed[slot] {
                    due.insert(signal)
                    break
                }
                guard let value = latest[slot: slot] else { continue }
                let deadline = value.time.addingTimeInterval(freshness.window(forSlot: slot))
                if value.time > mark || (deadline >= mark && deadline < asOf) {
                    due.insert(signal)
                    break
                }
            }
        }
        return due
    }

    /// `inputs` with each code's slot.
    static let inputSlots: [(signal: Signal, slots: [Int])] = inputs.map { signal, codes in (signal, codes.map { ObservationSlots.slot(of: $0)! }) }
}
