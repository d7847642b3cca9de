/// How a unit as written by a producer is matched to the units a code accepts (docs/ARCHITECTURE.md §3.2):
/// the built-in spellings of `CanonicalCodes`, the site's aliases and conversions from `units:` in
/// vigil.yaml, UCUM annotations, and the IEEE 11073-10101 (MDC) unit codes that patient monitors
/// send in HL7 OBX-6 (IHE PCD-01). A unit none of these knows is refused, never guessed.
public struct UnitTable: Sendable, Equatable {
    /// Site spelling → a spelling the built-in table knows ("GI/L" → "10^9/L"), for every code;
    /// keys are matched ignoring case.
    public var aliases: [String: String]
    /// Canonical code → unit spelling → factor into the code's canonical unit, for units the
    /// built-in table does not convert (value in that unit × factor = value in the canonical unit).
    public var conversions: [String: [String: Double]]

    public init(aliases: [String: String] = [:], conversions: [String: [String: Double]] = [:]) {
        self.aliases = Dictionary(aliases.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        self.conversions = conversions.mapValues { table in
            Dictionary(table.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
        }
    }

    /// The built-in table only.
    public static let standard = UnitTable()

    /// The conversion of `unit` into `definition`'s canonical unit, or nil when no rule knows it.
    /// Order: the site's conversion for the code, the built-in spelling, the site's alias, then the
    /// same with UCUM annotations (`{cells}`, `{beats}`) removed, as UCUM gives them no meaning.
    public func conversion(of unit: String, for definition: CanonicalCodes.Definition) -> UnitConversion? {
        if let found = lookup(unit, for: definition) { return found }
        // Only a unit that has annotations is tried again without them.
        guard unit.contains("{") else { return nil }
        let bare = Self.withoutAnnotations(unit)
        return bare.isEmpty || bare == unit ? nil : lookup(bare, for: definition)
    }

    /// The site's conversion for the code, the built-in spelling, then the site's alias.
    func lookup(_ unit: String, for definition: CanonicalCodes.Definition) -> UnitConversion? {
        if let factor = conversions[definition.code]?[unit.lowercased()] { return .scale(factor) }
        if let found = definition.conversion(forUnit: unit) { return found }
        if !aliases.isEmpty, let alias = aliases[unit.lowercased()], let found = definition.conversion(forUnit: alias) { return found }
        return nil
    }

    /// `unit` without its UCUM annotations: "{cells}/uL" → "/uL", "10*9/L{cells}" → "10*9/L". A
    /// unit that is an annotation only ("{beats}/min" keeps "/min") is left as it is when nothing
    /// else remains.
    static func withoutAnnotations(_ unit: String) -> String {
        guard unit.contains("{") else { return unit }
        var out = ""
        var depth = 0
        for character in unit {
            switch character {
            case "{": depth += 1
            case "}": depth = max(0, depth - 1)
            default: if depth == 0 { out.append(character) }
            }
        }
        return out.isEmpty ? unit : out
    }
}

/// IEEE 11073-10101 (MDC) unit codes as patient monitors send them in HL7 OBX-6 (IHE PCD-01:
/// `262688^MDC_DIM_PERCENT^MDC`): the reference id, or the 32-bit code (partition 4, dimensions:
/// 4 × 65536 + the base code), to the spelling the unit table knows.
public enum MDCUnits {
    /// Reference id → unit spelling.
    public static let byReferenceID: [String: String] = [
        "MDC_DIM_PERCENT": "%",
        "MDC_DIM_BEAT_PER_MIN": "/min",
        "MDC_DIM_PULS_PER_MIN": "/min",
        "MDC_DIM_RESP_PER_MIN": "/min",
        "MDC_DIM_MMHG": "mmHg",
        "MDC_DIM_KILO_PASCAL": "kPa",
        "MDC_DIM_DEGC": "°C",
        "MDC_DIM_FAHR": "°F",
        "MDC_DIM_MILLI_MOLE_PER_L": "mmol/L",
        "MDC_DIM_MILLI_G_PER_DL": "mg/dL",
    ]

    /// 32-bit code → reference id, for the codes of the vital-sign set.
    public static let byCode: [String: String] = [
        "262688": "MDC_DIM_PERCENT",
        "264864": "MDC_DIM_BEAT_PER_MIN",
        "264928": "MDC_DIM_RESP_PER_MIN",
        "266016": "MDC_DIM_MMHG",
        "266560": "MDC_DIM_FAHR",
        "268192": "MDC_DIM_DEGC",
        // g/dL is base code 2112; the milli prefix adds 0x12 (IEEE 11073-10101, unit prefixes).
        "264274": "MDC_DIM_MILLI_G_PER_DL",
    ]

    /// The outcome of reading an OBX-6 that may carry an MDC unit.
    public enum Reading: Equatable, Sendable {
        /// Not an MDC unit: read the components as usual.
        case notMDC
        /// The spelling to use.
        case unit(String)
        /// Code and reference id name different units, or the MDC unit is not one Vigil knows.
        case conflict(String)
    }

    /// Reads OBX-6 components 1 (identifier) and 2 (text) as an MDC unit when either is one.
    public static func read(identifier: String?, text: String?) -> Reading {
        let idName = identifier.flatMap { byCode[$0] } ?? identifier.flatMap { $0.hasPrefix("MDC_") ? $0 : nil }
        let textName = text.flatMap { $0.hasPrefix("MDC_") ? $0 : nil }
        switch (idName, textName) {
        case (nil, nil):
            // A bare number in partition 4 that Vigil does not list is an MDC code it cannot read.
            if let identifier, let code = Int(identifier), (262144..<327680).contains(code), text == nil || text!.isEmpty {
                return .conflict("MDC unit code \(code) is not one Vigil reads")
            }
            return .notMDC
        case let (a?, b?) where a != b:
            return .conflict("OBX-6 names two units: code \(identifier ?? "") is \(a), text is \(b)")
        case let (name?, _), let (nil, name?):
            guard let unit = byReferenceID[name] else { return .conflict("MDC unit \(name) is not one Vigil reads") }
            return .unit(unit)
        }
    }
}
