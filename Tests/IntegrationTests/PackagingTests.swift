import Foundation
import Glibc
import VigilControl
import VigilDaemon
import VigilTestSupport
import XCTest

/// What a site installs: `make install` lays out binaries, units, sysusers/tmpfiles, the
/// journal catalog, the configuration (never overwritten), man pages and completions; `make deb`
/// builds a package whose maintainer scripts enable and start nothing and keep the trial's data;
/// the man pages render and document every configuration key, command and journal field.
/// Uses the debug build (`BUILD=debug`) and scratch directories only; no network.
final class PackagingTests: XCTestCase {
    static let repository = TestSupport.repositoryRoot()

    /// The files `make install` puts under DESTDIR (PREFIX=/usr), with their mode.
    static let installedFiles: [(path: String, mode: mode_t)] = [
        ("usr/bin/vigild", 0o755), ("usr/bin/vigilctl", 0o755),
        ("usr/lib/systemd/system/vigil.service", 0o644), ("usr/lib/systemd/system/vigil.socket", 0o644),
        ("usr/lib/systemd/system/vigil-relay.service", 0o644), ("usr/lib/systemd/system/vigil-relay.path", 0o644),
        ("usr/lib/sysusers.d/vigil.conf", 0o644), ("usr/lib/tmpfiles.d/vigil.conf", 0o644),
        ("usr/lib/systemd/catalog/vigil.catalog", 0o644), ("etc/vigil/vigil.yaml", 0o644),
        ("usr/share/man/man1/vigilctl.1.gz", 0o644), ("usr/share/man/man5/vigil.yaml.5.gz", 0o644),
        ("usr/share/man/man8/vigild.8.gz", 0o644),
        ("usr/share/bash-completion/completions/vigilctl", 0o644), ("usr/share/zsh/vendor-completions/_vigilctl", 0o644),
        ("usr/share/fish/vendor_completions.d/vigilctl.fish", 0o644),
        ("usr/share/doc/vigil/README.md", 0o644), ("usr/share/doc/vigil/OPERATIONS.md", 0o644),
    ]

    override class func tearDown() {
        PackageBuild.shared.cleanUp()
        super.tearDown()
    }

    // MARK: make install

    /// vigilctl speaks the control protocol (VigilControl) and drains the outbox (VigilOutbox) and
    /// links neither the store (GRDB), the journal (libsystemd) nor the central tier (postgres-nio):
    /// docs/ARCHITECTURE.md §2. vigild, which links all three, shows that the check can see them.
    func testVigilctlLinksNeitherTheStoreTheJournalNorTheCentralTier() throws {
        let products = TestSupport.productsDirectory()
        func heavy(_ binary: String) throws -> (libraries: String, symbols: Set<String>) {
            let libraries = try TestSupport.run("/usr/bin/ldd", ["\(products)/\(binary)"]).stdout
            let symbols = try TestSupport.run("/usr/bin/nm", ["\(products)/\(binary)"]).stdout
            let found = ["GRDB", "PostgresNIO", "sd_journal_sendv"].filter { symbols.contains($0) }
            return (libraries, Set(found))
        }
        let daemon = try heavy("vigild")
        XCTAssertTrue(daemon.libraries.contains("libsystemd"), "vigild links libsystemd")
        XCTAssertEqual(daemon.symbols, ["GRDB", "PostgresNIO", "sd_journal_sendv"])
        let client = try heavy("vigilctl")
        XCTAssertFalse(client.libraries.contains("libsystemd"), client.libraries)
        XCTAssertFalse(client.libraries.contains("libsqlite"), client.libraries)
        XCTAssertEqual(client.symbols, [], "vigilctl must not link the store, the journal or the central tier")
    }

    func testMakeInstallLaysOutEveryFileAndNeverOverwritesTheConfiguration() throws {
        let scratch = try TestSupport.scratchDirectory("install")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let root = "\(scratch)/root"
        let first = try Self.make(["install", "DESTDIR=\(root)", "BUILD=debug", "PKGDIR=\(scratch)/pkg"])
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)

        for (path, mode) in Self.installedFiles {
            var info = stat()
            guard stat("\(root)/\(path)", &info) == 0 else {
                XCTFail("make install did not install /\(path)")
                continue
            }
            XCTAssertEqual(info.st_mode & S_IFMT, S_IFREG, path)
            XCTAssertEqual(info.st_mode & 0o7777, mode, "mode of /\(path)")
            XCTAssertGreaterThan(info.st_size, 0, path)
        }
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: "\(root)/usr/bin/vigild"))
        for binary in ["vigild", "vigilctl"] {
            let help = try TestSupport.run("\(root)/usr/bin/\(binary)", ["--help"])
            XCTAssertEqual(help.status, 0, "installed \(binary) --help: \(help.stderr)")
        }

        // The units name the installed paths: ExecStart is the vigild just installed.
        let service = try String(contentsOfFile: "\(root)/usr/lib/systemd/system/vigil.service", encoding: .utf8)
        let execStart = try XCTUnwrap(service.split(separator: "\n").first { $0.hasPrefix("ExecStart=") })
        let daemon = try XCTUnwrap(execStart.dropFirst("ExecStart=".count).split(separator: " ").first)
        XCTAssertEqual(daemon, "/usr/bin/vigild")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: root + daemon))
        XCTAssertTrue(service.contains("--config /etc/vigil/vigil.yaml"), String(execStart))
        for name in ["vigil.socket", "vigil-relay.service", "vigil-relay.path", "sysusers.d/vigil.conf", "tmpfiles.d/vigil.conf", "vigil.catalog"] {
            let shipped = try String(contentsOfFile: "\(Self.repository)/systemd/\(name)", encoding: .utf8)
            let target = name.hasPrefix("sysusers.d") ? "usr/lib/\(name)" : name.hasPrefix("tmpfiles.d") ? "usr/lib/\(name)"
                : name.hasSuffix(".catalog") ? "usr/lib/systemd/catalog/\(name)" : "usr/lib/systemd/system/\(name)"
            XCTAssertEqual(try String(contentsOfFile: "\(root)/\(target)", encoding: .utf8), shipped, "/\(target) is the shipped file (PREFIX=/usr)")
        }

        let shippedConfig = try String(contentsOfFile: "\(Self.repository)/config/vigil.yaml", encoding: .utf8)
        XCTAssertEqual(try String(contentsOfFile: "\(root)/etc/vigil/vigil.yaml", encoding: .utf8), shippedConfig)

        // Man pages: gzip -9n of troff with a NAME section.
        for page in ["man1/vigilctl.1.gz", "man5/vigil.yaml.5.gz", "man8/vigild.8.gz"] {
            let unzipped = try TestSupport.run("/bin/gzip", ["-dc", "\(root)/usr/share/man/\(page)"])
            XCTAssertEqual(unzipped.status, 0, page)
            XCTAssertTrue(unzipped.stdout.contains(".TH ") && unzipped.stdout.contains(".SH NAME"), page)
        }
        // Completions generated by swift-argument-parser, for every subcommand.
        let bash = try String(contentsOfFile: "\(root)/usr/share/bash-completion/completions/vigilctl", encoding: .utf8)
        let zsh = try String(contentsOfFile: "\(root)/usr/share/zsh/vendor-completions/_vigilctl", encoding: .utf8)
        let fish = try String(contentsOfFile: "\(root)/usr/share/fish/vendor_completions.d/vigilctl.fish", encoding: .utf8)
        XCTAssertTrue(bash.contains("complete") && bash.contains("vigilctl"), "bash completion")
        XCTAssertTrue(zsh.hasPrefix("#compdef vigilctl"), "zsh completion")
        XCTAssertTrue(fish.contains("complete -c 'vigilctl'") || fish.contains("complete -c vigilctl"), "fish completion")
        for command in try Self.subcommands() {
            XCTAssertTrue(bash.contains(command) && zsh.contains(command) && fish.contains(command), "completions know \(command)")
        }
        XCTAssertEqual(try String(contentsOfFile: "\(root)/usr/share/doc/vigil/OPERATIONS.md", encoding: .utf8),
                       try String(contentsOfFile: "\(Self.repository)/docs/OPERATIONS.md", encoding: .utf8))

        // Again over a site's edited configuration: kept as it is, the default goes beside it.
        let edited = shippedConfig.replacingOccurrences(of: "repeat_interval_minutes: 240", with: "repeat_interval_minutes: 120") + "# edited by the site\n"
        try edited.write(toFile: "\(root)/etc/vigil/vigil.yaml", atomically: true, encoding: .utf8)
        let second = try Self.make(["install", "DESTDIR=\(root)", "BUILD=debug", "PKGDIR=\(scratch)/pkg"])
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        XCTAssertEqual(try String(contentsOfFile: "\(root)/etc/vigil/vigil.yaml", encoding: .utf8), edited, "an existing configuration is never overwritten")
        XCTAssertEqual(try String(contentsOfFile: "\(root)/etc/vigil/vigil.yaml.dist", encoding: .utf8), shippedConfig)
        XCTAssertTrue(second.stdout.contains("kept the existing"), second.stdout)
    }

    // MARK: make deb

    func testDebianPackageFieldsContentsAndMaintainerScripts() throws {
        let deb = try PackageBuild.shared.build()
        let arch = try TestSupport.run("/usr/bin/dpkg", ["--print-architecture"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual((deb as NSString).lastPathComponent, "vigil_\(VigilVersion.string)_\(arch).deb")

        func field(_ name: String) throws -> String {
            try TestSupport.run("/usr/bin/dpkg-deb", ["--field", deb, name]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        XCTAssertEqual(try field("Package"), "vigil")
        XCTAssertEqual(try field("Version"), VigilVersion.string)
        XCTAssertEqual(try field("Architecture"), arch)
        let depends = try field("Depends").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? "" }
        for package in ["libsystemd0", "libsqlite3-0", "libc6"] { XCTAssertTrue(depends.contains(package), "Depends: \(depends)") }
        XCTAssertFalse(depends.contains { $0.contains("swift") }, "the Swift runtime is not a Debian package: \(depends)")

        let contents = try TestSupport.run("/usr/bin/dpkg-deb", ["--contents", deb])
        XCTAssertEqual(contents.status, 0, contents.stderr)
        let entries = Set(contents.stdout.split(separator: "\n").compactMap { $0.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) })
        for (path, _) in Self.installedFiles { XCTAssertTrue(entries.contains("./\(path)"), "the package ships /\(path)") }
        XCTAssertTrue(contents.stdout.split(separator: "\n").allSatisfy { $0.contains(" root/root ") }, "every file belongs to root")

        let control = "\(NSTemporaryDirectory())vigil-control-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: control) }
        XCTAssertEqual(try TestSupport.run("/usr/bin/dpkg-deb", ["--control", deb, control]).status, 0)
        XCTAssertEqual(try String(contentsOfFile: "\(control)/conffiles", encoding: .utf8), "/etc/vigil/vigil.yaml\n")
        for script in ["postinst", "prerm", "postrm"] {
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: "\(control)/\(script)"), script)
            let syntax = try TestSupport.run("/bin/sh", ["-n", "\(control)/\(script)"])
            XCTAssertEqual(syntax.status, 0, "\(script): \(syntax.stderr)")
        }
        let postinst = try String(contentsOfFile: "\(control)/postinst", encoding: .utf8)
        let prerm = try String(contentsOfFile: "\(control)/prerm", encoding: .utf8)
        let postrm = try String(contentsOfFile: "\(control)/postrm", encoding: .utf8)
        // postinst: users, directories, catalog; enables and starts nothing, and says how to.
        let postinstCommands = Self.commands(postinst)
        XCTAssertTrue(postinstCommands.contains { $0.hasPrefix("systemd-sysusers") && $0.hasSuffix("vigil.conf") }, postinst)
        XCTAssertTrue(postinstCommands.contains { $0.hasPrefix("systemd-tmpfiles --create") && $0.contains("vigil.conf") }, postinst)
        XCTAssertTrue(postinstCommands.contains { $0.hasPrefix("journalctl") && $0.contains("--update-catalog") }, postinst)
        for line in postinstCommands where line.hasPrefix("systemctl") {
            let words = line.split(separator: " ").map(String.init)
            XCTAssertTrue(Set(words).isDisjoint(with: ["enable", "start", "restart", "reenable", "--now", "unmask"]), "postinst must not enable or start anything: \(line)")
        }
        XCTAssertTrue(postinst.contains("enables and starts NOTHING"), "postinst says why in a comment")
        XCTAssertTrue(postinst.contains("systemctl enable --now vigil.service"), "postinst prints the hint")
        // prerm stops the service on removal; postrm keeps /var/lib/vigil and the user, purge removes /etc/vigil.
        XCTAssertTrue(Self.commands(prerm).contains { $0.hasPrefix("systemctl stop") && $0.contains("vigil.service") }, prerm)
        for line in Self.commands(postrm) {
            XCTAssertFalse(line.contains("/var/lib/vigil") && !line.hasPrefix("echo"), "postrm keeps the trial data: \(line)")
            XCTAssertFalse(["userdel", "deluser", "groupdel", "delgroup"].contains { line.contains($0) }, "postrm keeps the vigil user: \(line)")
        }
        XCTAssertTrue(Self.commands(postrm).contains { $0.hasPrefix("rm -rf") && $0.hasSuffix("/etc/vigil\"") }, postrm)
    }

    /// dpkg installs the package into a scratch root (maintainer scripts run there through DPKG_ROOT,
    /// not on this machine), then removes and purges it: user, directories and catalog appear; the
    /// site's configuration survives a reinstall; data and user survive remove and purge.
    func testDebianPackageInstallsRemovesAndPurgesInAScratchRoot() throws {
        guard getuid() == 0 else { throw TestSupport.Failure("this test needs root for dpkg --root and systemd-tmpfiles owners (CI runs as root)") }
        let deb = try PackageBuild.shared.build()
        let scratch = try TestSupport.scratchDirectory("dpkg-root")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let root = "\(scratch)/root"
        for directory in ["var/lib/dpkg/info", "var/lib/dpkg/updates", "etc"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(directory)", withIntermediateDirectories: true)
        }
        XCTAssertTrue(FileManager.default.createFile(atPath: "\(root)/var/lib/dpkg/status", contents: nil))
        func dpkg(_ arguments: [String]) throws -> TestSupport.Completed {
            let result = try TestSupport.run("/usr/bin/dpkg", ["--root=\(root)", "--log=\(scratch)/dpkg.log", "--force-script-chrootless",
                                                               "--force-depends", "--force-confold", "--no-triggers"] + arguments,
                                             environment: Self.environment(path: "/usr/sbin:/usr/bin:/sbin:/bin"))
            XCTAssertEqual(result.status, 0, "dpkg \(arguments): \(result.stdout)\(result.stderr)")
            return result
        }

        let install = try dpkg(["--install", deb])
        XCTAssertTrue(install.stdout.contains("nothing has been enabled or started"), install.stdout)
        for (path, _) in Self.installedFiles { XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/\(path)"), "/\(path) installed") }
        let passwd = try String(contentsOfFile: "\(root)/etc/passwd", encoding: .utf8)
        let vigil = try XCTUnwrap(passwd.split(separator: "\n").map { $0.split(separator: ":", omittingEmptySubsequences: false) }.first { $0.first == "vigil" },
                                  "postinst creates the vigil user (systemd-sysusers)")
        let uid = try XCTUnwrap(UInt32(vigil[2]))
        XCTAssertTrue(try String(contentsOfFile: "\(root)/etc/group", encoding: .utf8).contains("vigil-oncall:"))
        for directory in ["var/lib/vigil/inbox", "var/lib/vigil/state", "var/lib/vigil/outbox/new"] {
            var info = stat()
            XCTAssertEqual(stat("\(root)/\(directory)", &info), 0, "postinst creates /\(directory) (systemd-tmpfiles)")
            XCTAssertEqual(info.st_uid, uid, "/\(directory) belongs to vigil")
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/var/lib/systemd/catalog/database"), "postinst updates the journal catalog")
        XCTAssertTrue((try? FileManager.default.contentsOfDirectory(atPath: "\(root)/etc/systemd/system"))?.isEmpty ?? true, "no unit enabled")

        // A debug build ships the Swift runtime privately: every library the binaries load is either
        // from Debian or in /usr/lib/vigil, found through the binaries' RUNPATH.
        if FileManager.default.fileExists(atPath: "\(root)/usr/lib/vigil") {
            var shipped = Self.environment(path: "/usr/bin:/bin")
            shipped["LD_LIBRARY_PATH"] = "\(root)/usr/lib/vigil"
            for binary in ["vigild", "vigilctl"] {
                let runpath = try TestSupport.run("/usr/bin/readelf", ["-d", "\(root)/usr/bin/\(binary)"])
                XCTAssertTrue(runpath.stdout.contains("[/usr/lib/vigil]"), "\(binary) RUNPATH: \(runpath.stdout.split(separator: "\n").filter { $0.contains("PATH") })")
                let ldd = try TestSupport.run("/usr/bin/ldd", ["\(root)/usr/bin/\(binary)"], environment: shipped)
                XCTAssertFalse(ldd.stdout.contains("not found"), ldd.stdout)
                for line in ldd.stdout.split(separator: "\n") where line.contains("=> /") && !line.contains("\(root)/usr/lib/vigil/") {
                    let path = String(line.split(separator: " ")[2])
                    XCTAssertTrue(path.hasPrefix("/lib") || path.hasPrefix("/usr/lib"), "\(binary) loads \(path) from outside Debian and the package")
                }
                let help = try TestSupport.run("\(root)/usr/bin/\(binary)", ["--help"], environment: shipped)
                XCTAssertEqual(help.status, 0, "\(binary) runs on the shipped runtime: \(help.stderr)")
            }
        }

        // Reinstall over an edited configuration: the conffile is the site's.
        let edited = try String(contentsOfFile: "\(root)/etc/vigil/vigil.yaml", encoding: .utf8) + "# edited by the site\n"
        try edited.write(toFile: "\(root)/etc/vigil/vigil.yaml", atomically: true, encoding: .utf8)
        _ = try dpkg(["--install", deb])
        XCTAssertEqual(try String(contentsOfFile: "\(root)/etc/vigil/vigil.yaml", encoding: .utf8), edited)

        // The trial's data outlives remove and purge; purge removes /etc/vigil only.
        let record = "\(root)/var/lib/vigil/state/vigil.sqlite"
        try "trial data".write(toFile: record, atomically: true, encoding: .utf8)
        _ = try dpkg(["--remove", "vigil"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(root)/usr/bin/vigild"))
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/etc/vigil/vigil.yaml"), "remove keeps the configuration")
        XCTAssertTrue(FileManager.default.fileExists(atPath: record), "remove keeps /var/lib/vigil")
        _ = try dpkg(["--purge", "vigil"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(root)/etc/vigil"), "purge removes /etc/vigil")
        XCTAssertEqual(try String(contentsOfFile: record, encoding: .utf8), "trial data", "purge keeps /var/lib/vigil")
        XCTAssertTrue(try String(contentsOfFile: "\(root)/etc/passwd", encoding: .utf8).split(separator: "\n").contains { $0.hasPrefix("vigil:") }, "purge keeps the vigil user")
    }

    // MARK: man pages

    func testManPagesRenderAndDocumentEveryKeyCommandAndJournalField() throws {
        let scratch = try TestSupport.scratchDirectory("man")
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let built = try Self.make(["man", "PKGDIR=\(scratch)/pkg"])
        XCTAssertEqual(built.status, 0, built.stdout + built.stderr)
        var pages: [String: String] = [:]
        for page in ["vigild.8", "vigilctl.1", "vigil.yaml.5"] {
            var environment = Self.environment(path: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
            environment["MANWIDTH"] = "80"
            environment["LC_ALL"] = "C.UTF-8"
            environment["MAN_KEEP_FORMATTING"] = nil
            let man = try TestSupport.run("/usr/bin/man", ["--warnings", "-l", "\(scratch)/pkg/man/\(page)"], environment: environment)
            XCTAssertEqual(man.status, 0, "man -l \(page): \(man.stderr)")
            XCTAssertEqual(man.stderr, "", "groff warnings in \(page)")
            XCTAssertTrue(man.stdout.contains("\nNAME\n"), "\(page) has a NAME section")
            XCTAssertFalse(man.stdout.split(separator: "\n").contains { $0.count > 80 && !$0.contains("(?i)") }, "\(page) fits 80 columns")
            pages[page] = man.stdout.replacingOccurrences(of: "\u{2010}", with: "-").replacingOccurrences(of: "\u{2212}", with: "-")
        }
        let configPage = try XCTUnwrap(pages["vigil.yaml.5"])
        let flatConfigPage = configPage.split(whereSeparator: \.isWhitespace).joined(separator: " ")

        // Every key of the shipped configuration, and every key the reader accepts.
        let yaml = try String(contentsOfFile: "\(Self.repository)/config/vigil.yaml", encoding: .utf8)
        let keys = Self.keyPaths(yaml)
        XCTAssertTrue(keys.map(\.path).contains("limits.settle_seconds") && keys.map(\.path).contains("stopping.halt_rules[].window_hours"), "\(keys.map(\.path))")
        for key in keys {
            for form in Self.documentedForms(key.path) {
                XCTAssertTrue(Self.mentions(configPage, form), "vigil.yaml(5) does not document \(form) (from \(key.path))")
            }
            // A number or true/false in the shipped file is the default the page states (list
            // entries and code tables excepted: they have no single default).
            guard let value = key.value, Double(value) != nil || ["true", "false"].contains(value),
                  !key.path.contains("[]"), Self.documentedForms(key.path) == [key.path] else { continue }
            guard let heading = flatConfigPage.firstMatch(of: try Regex("\\b\(NSRegularExpression.escapedPattern(for: key.path)) \\(([^)]*)\\)")),
                  let details = heading.output[1].substring.map(String.init) else {
                XCTFail("vigil.yaml(5) has no entry \"\(key.path) (type, default …)\"")
                continue
            }
            let stated = details.firstMatch(of: /default ([^,;)]+)/).map { String($0.output.1) }
            XCTAssertTrue(stated.map { Double($0) != nil && Double($0) == Double(value) || $0 == value } ?? false,
                          "vigil.yaml(5) gives \(key.path) \(stated.map { "default \($0)" } ?? "no default"); config/vigil.yaml has \(value)")
        }
        XCTAssertTrue(flatConfigPage.contains("limits.settle_seconds (number 0–3600, default 0)"))
        XCTAssertTrue(flatConfigPage.contains("rules.hold_down_minutes (number 0–10080, default 120)"))
        let reader = try String(contentsOfFile: "\(Self.repository)/Sources/VigilConfig/Configuration.swift", encoding: .utf8)
        for list in reader.matches(of: /allowed: \[([^\]]*)\]/) {
            for name in String(list.output.1).matches(of: /"([a-z_0-9]+)"/).map({ String($0.output.1) }) {
                XCTAssertTrue(Self.mentions(configPage, name), "vigil.yaml(5) does not mention the key \(name) that Configuration.swift accepts")
            }
        }

        // vigilctl(1): every subcommand has its entry and every option is explained.
        let ctlPage = try XCTUnwrap(pages["vigilctl.1"])
        let vigilctl = "\(TestSupport.productsDirectory())/vigilctl"
        for command in try Self.subcommands() {
            XCTAssertTrue(ctlPage.split(separator: "\n").contains { $0.hasPrefix("       \(command)") && ($0.count == 7 + command.count || $0.dropFirst(7 + command.count).first == " ") },
                          "vigilctl(1) has no entry for \(command)")
            let help = try TestSupport.run(vigilctl, [command, "--help"])
            for option in Set(help.stdout.matches(of: /--[a-z][a-z-]+/).map { String($0.output) }) {
                XCTAssertTrue(Self.mentions(ctlPage, option), "vigilctl(1) does not mention \(command) \(option)")
            }
        }
        for command in ["replay --config", "backup PATH", "watch", "ack ALERT_ID", "--reported", "resume --by NAME --reason TEXT"] {
            XCTAssertTrue(ctlPage.contains(command), "vigilctl(1): \(command)")
        }

        // vigild(8): every MESSAGE_ID and journal field, the exit status of a configuration error, signals.
        let daemonPage = try XCTUnwrap(pages["vigild.8"])
        for (family, id) in RuleFamily.messageIDs {
            XCTAssertTrue(daemonPage.contains(id), "vigild(8) lacks the MESSAGE_ID of \(family)")
        }
        let journalFields = try String(contentsOfFile: "\(Self.repository)/Sources/VigilDaemon/JournalFields.swift", encoding: .utf8)
        for field in Set(journalFields.matches(of: /\("([A-Z][A-Z_]+)",/).map { String($0.output.1) }) {
            XCTAssertTrue(Self.mentions(daemonPage, field), "vigild(8) lacks the journal field \(field)")
        }
        for text in ["SIGTERM", "SIGHUP", "READY=1", "STATUS=", "WATCHDOG=1", "STOPPING=1", "RELOADING=1", "78", "--config", "--log-level"] {
            XCTAssertTrue(daemonPage.contains(text), "vigild(8) lacks \(text)")
        }
    }

    // MARK: helpers

    /// Runs make in the repository with a clean make environment (no inherited MAKEFLAGS, DESTDIR…).
    static func make(_ arguments: [String]) throws -> TestSupport.Completed {
        try TestSupport.run("/usr/bin/make", ["-C", repository, "--no-print-directory"] + arguments,
                            environment: environment(path: ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"))
    }

    static func environment(path: String) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        for name in ["MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR", "PREFIX", "BUILD", "PKGDIR", "DEBDIR", "DPKG_ROOT"] {
            environment[name] = nil
        }
        environment["PATH"] = path.contains("/usr/sbin") ? path : path + ":/usr/sbin:/sbin"
        return environment
    }

    /// The subcommands of `vigilctl --help`.
    static func subcommands() throws -> [String] {
        let help = try TestSupport.run("\(TestSupport.productsDirectory())/vigilctl", ["--help"]).stdout
        guard let section = help.range(of: "SUBCOMMANDS:") else { throw TestSupport.Failure("vigilctl --help lists no subcommands") }
        return help[section.upperBound...].split(separator: "\n").compactMap { line in
            guard line.hasPrefix("  "), !line.hasPrefix("   "), let word = line.split(separator: " ").first, !line.contains("See '") else { return nil }
            return String(word)
        }
    }

    /// Whether `text` has `word` as a whole word: not inside a longer key, option or field name.
    static func mentions(_ text: String, _ word: String) -> Bool {
        let pattern = "(?<![A-Za-z0-9_-])" + NSRegularExpression.escapedPattern(for: word) + "(?![A-Za-z0-9_-])"
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return false }
        return regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) != nil
    }

    /// The command lines of a shell script: no comments, no blank lines, trimmed.
    static func commands(_ script: String) -> [String] {
        script.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
    }

    /// Every key path of the block-style YAML of config/vigil.yaml (`section.key`; `[]` for the
    /// entries of a list), with the scalar value of a leaf. Flow mappings (`{low: 150}`) are keys too.
    static func keyPaths(_ yaml: String) -> [(path: String, value: String?)] {
        var out: [(path: String, value: String?)] = []
        var stack: [(indent: Int, name: String)] = []
        func path(_ names: [String]) -> String {
            names.reduce("") { $1 == "[]" ? $0 + "[]" : $0.isEmpty ? $1 : "\($0).\($1)" }
        }
        for raw in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = Self.strippingComment(String(raw))
            guard !line.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            var indent = line.prefix { $0 == " " }.count
            line = String(line.dropFirst(indent))
            if line.hasPrefix("- ") {
                while let top = stack.last, top.indent >= indent { stack.removeLast() }
                stack.append((indent, "[]"))
                indent += 2
                line = String(line.dropFirst(2))
            }
            guard let match = line.wholeMatch(of: /("[^"]+"|'[^']+'|[A-Za-z0-9_.-]+):(?: +(.*))?/) else { continue }
            let key = String(match.output.1).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            let value = match.output.2.map { String($0).trimmingCharacters(in: .whitespaces) }
            while let top = stack.last, top.indent >= indent { stack.removeLast() }
            let names = stack.map(\.name) + [key]
            if let value, value.hasPrefix("{"), value.hasSuffix("}") {
                out.append((path(names), nil))
                for entry in value.dropFirst().dropLast().split(separator: ",") {
                    let parts = entry.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                    if parts.count == 2 { out.append((path(names + [parts[0]]), parts[1])) }
                }
            } else {
                out.append((path(names), value?.isEmpty == false ? value : nil))
            }
            if value == nil || value?.isEmpty == true { stack.append((indent, key)) }
        }
        return out
    }

    static func strippingComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, character) in line.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "#", previous == " " {
                return String(line.prefix(offset)).replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
            }
            previous = character
        }
        return line.replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
    }

    /// What vigil.yaml(5) must contain for a key path: the path itself, except inside tables keyed by
    /// code (the table is documented, with the graded codes of reference_limits named).
    static func documentedForms(_ path: String) -> [String] {
        let parts = path.split(separator: ".").map(String.init)
        if parts.count > 2, ["mapping.loinc", "mapping.sdtm", "mapping.local", "hl7.subject_map"].contains(parts[0...1].joined(separator: ".")) {
            return [parts[0...1].joined(separator: ".")]
        }
        if parts.count >= 3, parts[0...1].joined(separator: ".") == "clinical.reference_limits" {
            return parts.count == 3 ? ["clinical.reference_limits", parts[2]] : ["clinical.reference_limits.CODE.\(parts[3])", parts[2]]
        }
        return [path]
    }
}

/// Builds the debug .deb once for the tests that need it, in a scratch directory removed at exit.
final class PackageBuild: @unchecked Sendable {
    static let shared = PackageBuild()
    private let lock = NSLock()
    private var result: Result<String, Error>?
    private var directory: String?

    /// Removes the package and its scratch directory.
    func cleanUp() {
        lock.lock()
        defer { lock.unlock() }
        if let directory { try? FileManager.default.removeItem(atPath: directory) }
        directory = nil
        result = nil
    }

    func build() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let result { return try result.get() }
        let outcome = Result<String, Error> {
            let directory = try TestSupport.scratchDirectory("deb")
            self.directory = directory
            let made = try PackagingTests.make(["deb", "BUILD=debug", "DEBDIR=\(directory)", "PKGDIR=\(directory)/pkg"])
            guard made.status == 0 else { throw TestSupport.Failure("make deb BUILD=debug failed: \(made.stdout)\(made.stderr)") }
            guard let deb = try FileManager.default.contentsOfDirectory(atPath: directory).first(where: { $0.hasSuffix(".deb") }) else {
                throw TestSupport.Failure("make deb wrote no .deb into \(directory): \(made.stdout)")
            }
            return "\(directory)/\(deb)"
        }
        result = outcome
        return try outcome.get()
    }
}
