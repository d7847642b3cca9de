/// Trimming without Foundation's `CharacterSet` round trip through NSString, which is costly on HL7
/// input, where every component of every segment is trimmed.
/// The sets are Foundation's on Linux (CoreFoundation's predefined sets): `whitespaces` is space, tab,
/// U+00A0, U+1680, U+2000–U+200B, U+202F, U+205F and U+3000 (category Zs plus the zero-width space);
/// `whitespacesAndNewlines` adds U+000A–U+000D, U+0085, U+2028 and U+2029. TrimmingTests holds the two
/// to the same answers.
extension StringProtocol {
    /// The text without leading and trailing spaces and tabs (`CharacterSet.whitespaces`).
    func trimmingSpaces() -> String { trimmed(where: Self.isSpace) }

    /// The text without leading and trailing white space and line breaks (`CharacterSet.whitespacesAndNewlines`).
    func trimmingSpacesAndNewlines() -> String { trimmed(where: Self.isSpaceOrNewline) }

    static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20, 0x09, 0xA0, 0x1680, 0x2000...0x200B, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }

    static func isSpaceOrNewline(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A...0x0D, 0x85, 0x2028, 0x2029: true
        default: isSpace(scalar)
        }
    }

    private func trimmed(where isTrimmed: (Unicode.Scalar) -> Bool) -> String {
        let text = String(self)
        let scalars = text.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isTrimmed($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isTrimmed($0) })!
        if first == scalars.startIndex, scalars.index(after: last) == scalars.endIndex { return text }
        return String(scalars[first...last])
    }
}
