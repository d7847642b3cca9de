import Foundation
import VigilCore

/// Site settings every parser needs: which subject ids are acceptable, how to read local times,
/// how external codes map to Vigil's, and how HL7 identifies subjects and locations.
public struct IngestOptions: Sendable {
    /// Pattern a trial subject id must match in full; anything else (a name, a birth date, a
    /// hospital number) is refused so no patient identifier enters Vigil.
    public let subjectPattern: String
    private let subjectRegex: CompiledPatterns.Pattern
    /// Zone used for a time written without an offset.
    public let siteTimeZone: TimeZone
    public let mapping: CodeMapping
    public let hl7: HL7Options
    /// The site's unit aliases and conversions beside the built-in spellings.
    public let units: UnitTable
    /// How causality, severity and disposition terms read as Vigil's.
    public let vocabularies: Vocabularies

    /// Fails when `subjectPattern` or an HL7 pattern is not a valid regular expression.
    public init(subjectPattern: String, siteTimeZone: TimeZone, mapping: CodeMapping = CodeMapping(), hl7: HL7Options = HL7Options(),
                units: UnitTable = .standard, vocabularies: Vocabularies = .standard) throws {
        self.subjectPattern = subjectPattern
        self.subjectRegex = try CompiledPatterns.compile(subjectPattern)
        self.siteTimeZone = siteTimeZone
        self.mapping = mapping
        self.hl7 = hl7
        self.units = units
        self.vocabularies = vocabularies
        _ = try hl7.compiledICUPattern()
    }

    /// True when `subject` matches the configured pattern in full.
    public func isValidSubject(_ subject: String) -> Bool {
        subjectRegex.matchesWhole(subject)
    }
}

/// How HL7 v2 messages are read at this site.
public struct HL7Options: Sendable, Equatable {
    /// PID-3 repetition whose assigning authority (CX.4, first component) is this carries the trial
    /// subject id itself.
    public var subjectAuthority: String?
    /// Otherwise: hospital identifier (PID-3 CX.1) → trial subject id. Kept only in configuration;
    /// the hospital identifier is never written to a record, a log or an alert.
    public var subjectMap: [String: String]
    /// Whether preliminary results (OBX-11 = P) are applied; a later final result amends them.
    public var acceptPreliminary: Bool
    /// A location (PV1-3 point of care) matching this pattern is an ICU.
    public var icuLocationPattern: String
    /// Strict reading: a message type without its trigger event, an OBX-11 status outside HL7 v2.5
    /// table 0085's result statuses, a text value where a number is monitored, and an unsupported
    /// value type are errors. Lenient (the default, as peers' libraries read): the first is read as
    /// ORU^R01, the others are skipped with a note or kept with a warning (`HL7MessageReader`).
    public var strict: Bool

    public init(subjectAuthority: String? = nil, subjectMap: [String: String] = [:], acceptPreliminary: Bool = true,
                icuLocationPattern: String = "^(ICU|REA|USI|SI)", strict: Bool = false) {
        self.subjectAuthority = subjectAuthority
        self.subjectMap = subjectMap
        self.acceptPreliminary = acceptPreliminary
        self.icuLocationPattern = icuLocationPattern
        self.strict = strict
    }

    func compiledICUPattern() throws -> CompiledPatterns.Pattern { try CompiledPatterns.compile(icuLocationPattern) }

    func isICU(_ location: String) -> Bool {
        CompiledPatterns.pattern(icuLocationPattern)?.matches(in: location) ?? false
    }
}
