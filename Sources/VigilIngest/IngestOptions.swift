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

    /// Fails when `subjectPattern` or an HL7 pattern is not a valid regular expression.
    public init(subjectPattern: String, siteTimeZone: TimeZone, mapping: CodeMapping = CodeMapping(), hl7: HL7Options = HL7Options()) throws {
        self.subjectPattern = subjectPattern
        self.subjectRegex = try CompiledPatterns.compile(subjectPattern)
        self.siteTimeZone = siteTimeZone
        self.mapping = mapping
        self.hl7 = hl7
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

    public init(subjectAuthority: String? = nil, subjectMap: [String: String] = [:], acceptPreliminary: Bool = true, icuLocationPattern: String = "^(ICU|REA|USI|SI)") {
        self.subjectAuthority = subjectAuthority
        self.subjectMap = subjectMap
        self.acceptPreliminary = acceptPreliminary
        self.icuLocationPattern = icuLocationPattern
    }

    func compiledICUPattern() throws -> CompiledPatterns.Pattern { try CompiledPatterns.compile(icuLocationPattern) }

    func isICU(_ location: String) -> Bool {
        CompiledPatterns.pattern(icuLocationPattern)?.matches(in: location) ?? false
    }
}
