import XCTest
import VigilConfig
import VigilCore
@testable import VigilDaemon

final class ConfigurationTests: XCTestCase {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    static let valid = """
        trial:
          id: LYSYME
          subject_id_pattern: '^LYS-[0-9]{2}-[0-9]{3}$'
        directories:
          inbox: var/inbox
          archive: var/archive
          rejected: var/rejected
          outbox: var/outbox
          state: var/state
        rules:
          lactate:
            warning_mmol_per_l: 2.0
            critical_mmol_per_l: 4.0
        mail:
          from: vigil@site.invalid
          recipients:
            halt: [pv@site.invalid]
            critical: [oncall@site.invalid]
        """

    func parse(_ text: String) throws -> VigilConfiguration {
        try VigilConfiguration.parse(text, file: "test.yaml", workingDirectory: "/srv/vigil")
    }

    func error(_ text: String) -> ConfigurationError? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error as? ConfigurationError
        }
    }

    func testShippedConfigurationsAreValid() throws {
        let site = try VigilConfiguration.load(path: "\(Self.root)/config/vigil.yaml")
        XCTAssertEqual(site.trial.id, "LYSYME")
        XCTAssertEqual(site.trial.registry, "NCT04711200")
        XCTAssertEqual(site.directories.inbox, "/var/lib/vigil/inbox")
        XCTAssertEqual(site.lactate, LactateRule(warningAtOrAbove: 2.0, criticalAtOrAbove: 4.0))
        XCTAssertEqual(site.control.mode, 0o660)
        XCTAssertEqual(site.digest.count, 12)
        let demo = try VigilConfiguration.load(path: "\(Self.root)/config/demo.yaml", workingDirectory: "/home/me/vigil")
        XCTAssertEqual(demo.directories.inbox, "/home/me/vigil/var/inbox")
        XCTAssertEqual(demo.directories.state, "/home/me/vigil/var/state")
        XCTAssertEqual(demo.control.socket, "/home/me/vigil/var/run/control.sock")
    }

    func testDefaultsAndRelativeDirectories() throws {
        let configuration = try parse(Self.valid)
        XCTAssertEqual(configuration.directories.archive, "/srv/vigil/var/archive")
        XCTAssertEqual(configuration.trial.siteTimeZone, "Europe/Paris")
        XCTAssertEqual(configuration.limits.maxFileBytes, 16 * 1024 * 1024)
        XCTAssertEqual(configuration.control.socket, "/run/vigil/control.sock")
    }

    func testUnknownKeyIsNamedWithItsLine() {
        let text = Self.valid.replacingOccurrences(of: "    critical_mmol_per_l: 4.0", with: "    critcal_mmol_per_l: 4.0")
        let e = error(text)
        XCTAssertEqual(e?.keyPath, "rules.lactate.critcal_mmol_per_l")
        XCTAssertEqual(e?.line, 13)
        XCTAssertTrue(e?.description.hasPrefix("test.yaml:13: rules.lactate.critcal_mmol_per_l: unknown key") ?? false, e?.description ?? "")
    }

    func testWrongTypeAndRange() {
        let notNumber = error(Self.valid.replacingOccurrences(of: "warning_mmol_per_l: 2.0", with: "warning_mmol_per_l: two"))
        XCTAssertEqual(notNumber?.keyPath, "rules.lactate.warning_mmol_per_l")
        XCTAssertEqual(notNumber?.line, 12)
        XCTAssertEqual(notNumber?.message, "expected a number")
        let inverted = error(Self.valid.replacingOccurrences(of: "critical_mmol_per_l: 4.0", with: "critical_mmol_per_l: 1.5"))
        XCTAssertEqual(inverted?.keyPath, "rules.lactate.critical_mmol_per_l")
        XCTAssertEqual(inverted?.message, "must be above warning_mmol_per_l")
    }

    func testMissingRequiredKeyAndRecipients() {
        let missing = error(Self.valid.replacingOccurrences(of: "  inbox: var/inbox\n", with: ""))
        XCTAssertEqual(missing?.keyPath, "directories.inbox")
        XCTAssertEqual(missing?.message, "missing required key")
        let noCritical = error(Self.valid.replacingOccurrences(of: "    critical: [oncall@site.invalid]", with: "    critical: []"))
        XCTAssertEqual(noCritical?.keyPath, "mail.recipients.critical")
        let badAddress = error(Self.valid.replacingOccurrences(of: "oncall@site.invalid", with: "Dr House"))
        XCTAssertEqual(badAddress?.keyPath, "mail.recipients.critical[0]")
        XCTAssertEqual(badAddress?.line, 18)
    }

    func testInvalidPatternAndZone() {
        XCTAssertEqual(error(Self.valid.replacingOccurrences(of: "'^LYS-[0-9]{2}-[0-9]{3}$'", with: "'^LYS-[0-9'"))?.keyPath, "trial.subject_id_pattern")
        let zone = error(Self.valid.replacingOccurrences(of: "  id: LYSYME", with: "  id: LYSYME\n  site_time_zone: Mars/Olympus"))
        XCTAssertEqual(zone?.keyPath, "trial.site_time_zone")
        XCTAssertEqual(zone?.line, 3)
    }

    func testYAMLSyntaxErrorHasALine() {
        let e = error(Self.valid.replacingOccurrences(of: "    halt: [pv@site.invalid]", with: "    halt: [pv@site.invalid"))
        XCTAssertNotNil(e?.line)
        XCTAssertTrue(e?.message.hasPrefix("not valid YAML") ?? false)
    }
}

extension ConfigurationTests {
    func testShippedMappingCoversEveryTestCodeInTheSamples() throws {
        let site = try VigilConfiguration.load(path: "\(Self.root)/config/vigil.yaml")
        XCTAssertEqual(site.mapping.lookup("2524-7", in: .loinc), .code("lactate"))
        XCTAssertEqual(site.mapping.lookup("3094-0", in: .loinc), .code("urea_nitrogen"), "BUN is read as urea nitrogen")
        XCTAssertEqual(site.mapping.lookup("lacticac", in: .sdtm), .code("lactate"), "SDTM codes are matched upper-cased")
        XCTAssertEqual(site.mapping.lookup("85353-1", in: .loinc), .ignored)
        XCTAssertEqual(site.mapping.lookup("9999-9", in: .loinc), .unknown)
        XCTAssertEqual(site.hl7.subjectAuthority, "LYSYME")
        XCTAssertTrue(site.hl7.acceptPreliminary)
    }

    /// demo.yaml is vigil.yaml with local directories: the two must not drift apart.
    func testDemoConfigurationDiffersFromTheSiteOneOnlyInPaths() throws {
        let site = try VigilConfiguration.load(path: "\(Self.root)/config/vigil.yaml")
        var demo = try VigilConfiguration.load(path: "\(Self.root)/config/demo.yaml")
        demo.directories = site.directories
        demo.control.socket = site.control.socket
        demo.digest = site.digest
        XCTAssertEqual(demo, site)
    }

    func testMappingTargetsAndCodesAreChecked() {
        let base = Self.valid + "\nmapping:\n  loinc:\n    \"2524-7\": lactate\n"
        XCTAssertNil(error(base))
        let typo = error(base.replacingOccurrences(of: "\"2524-7\": lactate", with: "\"2524-7\": lactat"))
        XCTAssertEqual(typo?.keyPath, "mapping.loinc.2524-7")
        XCTAssertTrue(typo?.message.hasPrefix("'lactat' is not a canonical observation code") ?? false)
        XCTAssertEqual(error(base.replacingOccurrences(of: "\"2524-7\"", with: "LACT"))?.keyPath, "mapping.loinc.LACT")
    }

    /// `units:` and `vocabularies:`: entries are checked at start, so a typo never waits
    /// for 3 a.m.; vocabularies add to the built-in ones.
    func testUnitsAndVocabulariesAreReadAndChecked() throws {
        let base = Self.valid + "\nunits:\n  aliases:\n    Giga/l: 10^9/L\n  conversions:\n    glucose:\n      g/L: 5.551\n"
            + "vocabularies:\n  causality:\n    PEUT-ETRE: possible\n  severity_grade:\n    GRAVE: 3\n  disposition:\n    DECES: death\n"
            + "hl7:\n  strict: true\n"
        XCTAssertNil(error(base))
        let path = NSTemporaryDirectory() + "vigil-units-\(UUID().uuidString).yaml"
        try base.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let options = try VigilConfiguration.load(path: path).ingestOptions()
        XCTAssertEqual(options.vocabularies.causality(of: "peut-etre"), "possible")
        XCTAssertEqual(options.vocabularies.causality(of: "PROBABLE"), "probable", "the built-in terms stay")
        XCTAssertEqual(options.vocabularies.grade(ofSeverity: "Grave"), 3)
        XCTAssertEqual(options.vocabularies.disposition(of: "DECES"), "death")
        XCTAssertTrue(options.hl7.strict)
        XCTAssertEqual(try CanonicalCodes.normalise(code: "glucose", raw: .number(1), unit: "g/L", units: options.units).value.number ?? 0, 5.551, accuracy: 1e-12)
        XCTAssertEqual(error(base.replacingOccurrences(of: "Giga/l: 10^9/L", with: "Giga/l: 10^9/LL"))?.keyPath, "units.aliases.Giga/l")
        XCTAssertEqual(error(base.replacingOccurrences(of: "    glucose:", with: "    glucoze:"))?.keyPath, "units.conversions.glucoze")
        XCTAssertEqual(error(base.replacingOccurrences(of: "PEUT-ETRE: possible", with: "PEUT-ETRE: maybe"))?.keyPath, "vocabularies.causality.PEUT-ETRE")
        XCTAssertEqual(error(base.replacingOccurrences(of: "GRAVE: 3", with: "GRAVE: 6"))?.keyPath, "vocabularies.severity_grade.GRAVE")
        XCTAssertEqual(error(base.replacingOccurrences(of: "DECES: death", with: "DECES: dead"))?.keyPath, "vocabularies.disposition.DECES")
    }

    /// `central:`: the password is never inline (a URL with one is refused at start), the site id
    /// is a plain name, and the password comes from a file or a systemd credential.
    func testCentralSectionIsCheckedAndKeepsThePasswordOutOfTheFile() throws {
        let base = Self.valid + "\ncentral:\n  url: postgres://vigil@db.example.org:6432/trial\n  site_id: site-01\n  password_credential: central-password\n"
        XCTAssertNil(error(base))
        let inline = error(base.replacingOccurrences(of: "postgres://vigil@", with: "postgres://vigil:s3cret@"))
        XCTAssertEqual(inline?.keyPath, "central.url")
        XCTAssertFalse(inline?.description.contains("s3cret") ?? true, "the refused password is not echoed")
        XCTAssertEqual(error(base.replacingOccurrences(of: "site_id: site-01", with: "site_id: 'site 01; DROP'"))?.keyPath, "central.site_id")
        XCTAssertEqual(error(base.replacingOccurrences(of: "postgres://", with: "mysql://"))?.keyPath, "central.url")
        XCTAssertEqual(error(base + "  password_file: /etc/vigil/pw\n")?.keyPath, "central.password_credential")
        XCTAssertEqual(error(base + "  tls: maybe\n")?.keyPath, "central.tls")
        let path = NSTemporaryDirectory() + "vigil-central-\(UUID().uuidString).yaml"
        try base.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let central = try XCTUnwrap(try VigilConfiguration.load(path: path).central)
        XCTAssertEqual([central.host, central.user, central.database, central.siteID], ["db.example.org", "vigil", "trial", "site-01"])
        XCTAssertEqual(central.port, 6432)
        XCTAssertEqual(central.tls, .verifyFull, "TLS with certificate and host checks unless told otherwise")
        let credentials = NSTemporaryDirectory() + "vigil-credentials-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: credentials) }
        try "from-systemd\nignored second line\n".write(toFile: "\(credentials)/central-password", atomically: true, encoding: .utf8)
        XCTAssertEqual(try central.password(environment: ["CREDENTIALS_DIRECTORY": credentials]), "from-systemd")
        XCTAssertThrowsError(try central.password(environment: [:]), "no credentials directory: a clear error, not an empty password")
    }

    func testHL7SubjectMapErrorsNeverShowTheHospitalNumber() {
        let e = error(Self.valid + "\nhl7:\n  subject_map:\n    \"900123456\": DUPONT\n")
        XCTAssertEqual(e?.keyPath, "hl7.subject_map[…]")
        XCTAssertFalse(e?.description.contains("900123456") ?? true)
    }
}

extension ConfigurationTests {
    /// The thresholds written in the shipped file are the documented defaults of the code.
    func testShippedClinicalThresholdsAreTheDocumentedDefaults() throws {
        let site = try VigilConfiguration.load(path: "\(Self.root)/config/vigil.yaml")
        XCTAssertEqual(site.clinical, ClinicalRules())
        XCTAssertEqual(site.clinical.freshness.vitals, 4 * 3600)
        XCTAssertNil(site.clinical.crpAbove)
        XCTAssertEqual(site.hypercapnicSubjects, [])
    }

    func testClinicalRuleErrorsAreLocated() {
        let inverted = error(Self.valid.replacingOccurrences(of: "rules:\n", with: "rules:\n  news2:\n    warning_at: 7\n    critical_at: 5\n"))
        XCTAssertEqual(inverted?.keyPath, "rules.news2.critical_at")
        let unknown = error(Self.valid + "\nclinical:\n  freshness_hours:\n    vital: 4\n")
        XCTAssertEqual(unknown?.keyPath, "clinical.freshness_hours.vital")
    }
}

extension ConfigurationTests {
    func testReferenceLimitsComeFromConfiguration() throws {
        let site = try VigilConfiguration.load(path: "\(Self.root)/config/vigil.yaml")
        XCTAssertEqual(site.referenceLimits["sodium"], ReferenceLimits(low: 135, high: 145))
        let custom = try parse(Self.valid + "\nclinical:\n  reference_limits:\n    alt: {high: 33}\n")
        XCTAssertEqual(custom.ctcae.grade(code: "alt", value: 100, low: nil, high: nil)?.grade, 2, "100 U/L is > 3 × 33")
        XCTAssertEqual(error(Self.valid + "\nclinical:\n  reference_limits:\n    sodium: {low: 150, high: 140}\n")?.keyPath, "clinical.reference_limits.sodium.high")
    }
}

extension ConfigurationTests {
    /// The stopping rules written in the shipped file are the code's documented defaults.
    func testShippedStoppingRulesAreTheDefaults() throws {
        let site = try VigilConfiguration.load(path: "\(Self.root)/config/vigil.yaml")
        XCTAssertEqual(site.stopping.haltRules, HaltRule.defaults)
        XCTAssertEqual(site.stopping.toxicity, ToxicityMonitoring())
        XCTAssertEqual(site.stopping.toxicity.enrolmentTarget, 15)
        XCTAssertEqual(site.authorisedGroups, ["vigil-oncall"])
        let bad = error(Self.valid + "\nstopping:\n  halt_rules:\n    - id: x\n      related_at_least: maybe\n")
        XCTAssertEqual(bad?.keyPath, "stopping.halt_rules[0].related_at_least")
    }
}
