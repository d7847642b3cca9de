/// The one rendering rule for text that came from a producer (terms, free text, record and message
/// ids, units, file names) wherever Vigil writes it: mail headers and bodies, journal fields, log
/// lines, `vigilctl` tables and JSON replies, reports and error reports (docs/ARCHITECTURE.md §3.5).
///
/// Producer text is untrusted. Written as it is, a line break forges lines in a mail or a journal
/// MESSAGE, an escape sequence repaints the on-call person's terminal (and makes journalctl show
/// the entry as a blob), and a bidi override reorders what a reader sees. The rule makes every such
/// character visible as a bracketed name (`<CR>`, `<LF>`, `<TAB>`, `<ESC>`, `<NUL>`, `<DEL>`) or code
/// point (`<U+202E>`), so the text can only ever be one line of printable characters, read in
/// logical order. It is idempotent: rendering rendered text changes nothing, so a layer may apply it
/// again without doubling escapes.
public enum ProducerText {
    /// The default cap, in characters, on one rendered value: a term or a title, not a document.
    public static let defaultLimit = 1000

    /// Room left for the truncation marker, so a truncated text is not truncated again.
    static let markerRoom = 40

    /// `text` as it may be written anywhere: every control, line or paragraph separator, bidi
    /// control, other invisible format character, private-use or unassigned code point made visible,
    /// and the text cut to `limit` characters (with a marker saying how many were left out) when it
    /// is longer than `limit` plus the marker's room.
    public static func visible(_ text: String, limit: Int = defaultLimit) -> String {
        if isPlainASCII(text), text.utf8.count <= limit { return text }
        var out = String.UnicodeScalarView()
        var first = true
        for scalar in text.unicodeScalars {
            if let name = escapeName(scalar, leading: first) {
                out.append(contentsOf: "<\(name)>".unicodeScalars)
            } else {
                out.append(scalar)
            }
            first = false
        }
        let rendered = String(out)
        let count = rendered.count
        guard count > limit + markerRoom else { return rendered }
        return String(rendered.prefix(limit)) + "… [\(count - limit) more characters]"
    }

    /// True when `visible` would return `text` unchanged.
    public static func isVisible(_ text: String, limit: Int = defaultLimit) -> Bool {
        visible(text, limit: limit) == text
    }

    /// What a rejected value looked like, without the value: its kind, its length and the classes of
    /// characters it holds ("text of 58 characters: letters, digits, spaces, punctuation"). Errors
    /// describe a rejected value only this way; the value itself stays in the file in `rejected/`.
    public static func shape(of text: String) -> String {
        let count = text.count
        if count == 0 { return "empty text" }
        var classes: [String] = []
        func note(_ name: String) { if !classes.contains(name) { classes.append(name) } }
        for scalar in text.unicodeScalars {
            let properties = scalar.properties
            if properties.isAlphabetic { note("letters") }
            else if properties.numericType != nil { note("digits") }
            else if properties.isWhitespace && escapeName(scalar, leading: false) == nil { note("spaces") }
            else if escapeName(scalar, leading: false) != nil { note("control or invisible characters") }
            else { note("punctuation or symbols") }
        }
        let noun = count == 1 ? "character" : "characters"
        return "text of \(count) \(noun): " + classes.joined(separator: ", ")
    }

    static func isPlainASCII(_ text: String) -> Bool {
        text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
    }

    /// The bracketed name a scalar is shown as, or nil when it is written as it is.
    static func escapeName(_ scalar: Unicode.Scalar, leading: Bool) -> String? {
        switch scalar.value {
        case 0x20..<0x7F: return nil
        case 0x00: return "NUL"
        case 0x09: return "TAB"
        case 0x0A: return "LF"
        case 0x0D: return "CR"
        case 0x1B: return "ESC"
        case 0x7F: return "DEL"
        // Zero-width non-joiner and joiner shape Persian, Indic scripts and emoji; they move nothing.
        case 0x200C, 0x200D: return nil
        default: break
        }
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator, .privateUse, .unassigned, .surrogate:
            return codePoint(scalar)
        // A combining mark at the start would be drawn over whatever Vigil wrote before the value.
        case .nonspacingMark, .enclosingMark, .spacingMark:
            return leading ? codePoint(scalar) : nil
        default:
            return nil
        }
    }

    static func codePoint(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}

extension Alert {
    /// This alert with every text field rendered by `ProducerText.visible`: what mail, the journal
    /// and the control socket write. The id and the stored alert are unchanged.
    public var visible: Alert {
        var copy = self
        copy.rule = ProducerText.visible(rule)
        copy.subject = subject.map { ProducerText.visible($0) }
        copy.trial = ProducerText.visible(trial)
        copy.records = records.map { ProducerText.visible($0) }
        copy.value = ProducerText.visible(value)
        copy.title = ProducerText.visible(title)
        copy.reason = ProducerText.visible(reason, limit: 4 * ProducerText.defaultLimit)
        copy.action = ProducerText.visible(action, limit: 4 * ProducerText.defaultLimit)
        copy.evidence = evidence.map { item in
            Evidence(label: ProducerText.visible(item.label), value: ProducerText.visible(item.value), time: item.time,
                     record: item.record.map { ProducerText.visible($0) })
        }
        return copy
    }
}
