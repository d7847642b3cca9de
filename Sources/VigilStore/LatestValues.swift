import VigilCore

/// One subject's newest observations per code, kept in memory so that evaluation need not ask the
/// store for the newest value of every code at every time point, a query a backlog would otherwise
/// repeat for nearly every record.
///
/// For each code the entries are a *complete suffix* of the subject's non-withdrawn rows of that code,
/// ordered as the store orders them (time, then rowid): every row newer than the first entry is kept.
/// So the newest row at or before a moment is in the suffix whenever any entry is at or before it;
/// when none is and older rows may exist (`hasOlder`), only the store can answer and `values(asOf:)`
/// says so with nil. Amendments and withdrawals are not tracked: they drop every subject's entries.
struct LatestValues: Sendable, Equatable {
    /// One stored row: its time and rowid as the store keeps them, and the value evaluation reads.
    struct Entry: Sendable, Equatable {
        var time: Double
        var row: Int64
        var value: TimedValue

        func isBefore(_ other: Entry) -> Bool { time < other.time || (time == other.time && row < other.row) }
    }

    struct Code: Sendable, Equatable {
        var entries: [Entry]
        /// Rows older than the first entry may exist (never true with no entry: then the code has no row).
        var hasOlder: Bool

        mutating func insert(_ entry: Entry) {
            if let first = entries.first, entry.isBefore(first) {
                // Older than the kept suffix: the suffix stays complete, and an older row now exists.
                hasOlder = true
            } else {
                var index = entries.endIndex
                while index > entries.startIndex, entry.isBefore(entries[index - 1]) { index -= 1 }
                entries.insert(entry, at: index)
            }
        }
    }

    /// Entries kept per code between transactions. A transaction adds to its own copy without limit;
    /// what it hands to the cache is cut back to this. With vitals every 4 h, eight cover a lab result
    /// that arrives a day late; an older moment is answered by the store.
    static let keptPerCode = 8

    /// One per slot of `ObservationSlots`, in slot order.
    private(set) var codes: [Code]

    /// From the newest row of each observation code (the store's answer for the end of time): a code
    /// without a row has none at all.
    init(newest: [String: Entry]) {
        codes = ObservationSlots.codes.map { code in
            newest[code].map { Code(entries: [$0], hasOlder: true) } ?? Code(entries: [], hasOlder: false)
        }
    }

    /// The newest value of each code at or before `asOf` (seconds since 1970, compared as the store
    /// compares `time <= asOf`), or nil when some code's answer may lie before what is kept.
    func values(asOf: Double) -> ObservationSlots? {
        var result = ObservationSlots()
        for slot in codes.indices {
            if let entry = codes[slot].entries.last(where: { $0.time <= asOf }) {
                result[slot: slot] = entry.value
            } else if codes[slot].hasOlder {
                return nil
            }
        }
        return result
    }

    /// A row just inserted for this subject. Codes evaluation does not read are not kept.
    mutating func insert(code: String, _ entry: Entry) {
        // Changed in place in the array: a copy taken out and put back would share the entries'
        // storage, so every insert would copy the whole array (quadratic in a large transaction).
        guard let slot = ObservationSlots.slot(of: code) else { return }
        codes[slot].insert(entry)
    }

    /// Keeps the newest `keptPerCode` entries of each code; dropping older ones keeps the suffix complete.
    mutating func trim() {
        for slot in codes.indices where codes[slot].entries.count > Self.keptPerCode {
            codes[slot] = Code(entries: Array(codes[slot].entries.suffix(Self.keptPerCode)), hasOlder: true)
        }
    }
}
