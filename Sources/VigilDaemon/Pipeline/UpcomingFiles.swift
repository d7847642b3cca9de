import Foundation

/// The inbox files due after the one in hand, in the order they will be taken: the watcher's queue
/// of announced files, or a rescan's list. `FileProcessor` reads the next one ahead while it applies
/// the current one, and takes into the same transaction those whose read is ready (group commit).
/// Used from the one thread that processes files.
public final class UpcomingFiles {
    /// The next file, without taking it; nil when there is none (or no more may be taken now).
    let peek: () -> String?
    /// `name`, just returned by `peek`, is taken into the batch in hand.
    let take: (String) -> Void
    /// The next files, at most this many, in order, without taking them (what to read ahead).
    let ahead: (Int) -> [String]

    public init(peek: @escaping () -> String?, take: @escaping (String) -> Void, ahead: @escaping (Int) -> [String]) {
        self.peek = peek
        self.take = take
        self.ahead = ahead
    }

    /// The files of a fixed list, in order; `next()` takes them one at a time, and a batch takes
    /// them from the same place.
    public static func list(_ names: [String], while going: @escaping () -> Bool = { true }) -> UpcomingFiles {
        final class Position { var index = 0 }
        let position = Position()
        return UpcomingFiles(
            peek: { going() && position.index < names.count ? names[position.index] : nil },
            take: { name in if position.index < names.count, names[position.index] == name { position.index += 1 } },
            ahead: { count in going() ? Array(names[position.index..<min(names.count, position.index + count)]) : [] })
    }

    /// Takes the next file.
    public func next() -> String? {
        guard let name = peek() else { return nil }
        take(name)
        return name
    }
}

