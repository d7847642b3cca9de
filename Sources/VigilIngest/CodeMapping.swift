/// The site's table from external test codes (LOINC, CDISC SDTM `--TESTCD`, local HL7 codes) to
/// Vigil's canonical observation codes. A code in none of the tables is refused, never guessed;
/// a code in an `ignore` list is a result the trial deliberately does not monitor.
public struct CodeMapping: Sendable, Equatable {
    /// Which table a code is looked up in.
    public enum System: String, Sendable {
        case loinc
        case sdtm
        case local
    }

    /// What the table says about one code.
    public enum Lookup: Equatable, Sendable {
        case code(String)
        case ignored
        case unknown
    }

    public var tables: [System: [String: String]]
    public var ignored: [System: Set<String>]

    public init(tables: [System: [String: String]] = [:], ignored: [System: Set<String>] = [:]) {
        self.tables = tables
        self.ignored = ignored
    }

    public func lookup(_ code: String, in system: System) -> Lookup {
        let key = system == .loinc ? code : code.uppercased()
        if let canonical = tables[system]?[key] { return .code(canonical) }
        if ignored[system]?.contains(key) == true { return .ignored }
        return .unknown
    }
}
