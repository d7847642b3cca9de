import Foundation
import Glibc
import VigilCore
import VigilTestSupport
import XCTest

/// Producer text across the trust boundary, end to end through the real vigild (docs/ARCHITECTURE.md §3.5):
/// random Unicode terms (hostile fragments among them) go in as SUSARs, random file names and a
/// rejected value carrying a patient's name go in as bad files; every mail must parse back through
/// a real MIME parser (CPython's `email` package) with only Vigil's headers, every journal entry read
/// with `journalctl -o json` must have a string MESSAGE, every reply of `vigilctl` must be printable,
/// and the patient's name must be nowhere but in the original file in `rejected/`.
final class ProducerTextTrustTests: XCTestCase {
    static let patient = "Positive: E. coli, patient Jeanne DUPONT born 1971-03-04"

    /// Fragments an attacker or a broken producer sends, mixed into the random terms.
    static let hostile = [
        "\r\nBcc: leak@example.org\r\nAction: no action needed", "\u{1B}[2J\u{1B}[31m", "\u{202E}", "\u{2066}", "\n\n", "\u{0}",
        "\u{7F}", "\u{85}", "\u{9B}", "\u{2028}", "\u{FEFF}", "\u{200B}", "=?UTF-8?B?QmNjOg==?=", "\\r\\n", "=0D=0A", ":", "\t",
        "\u{0301}", "👩\u{200D}⚕️", "é", "ß", "中文", "𝔘𝔫𝔦", "\u{E000}", "\u{10FFFD}", "<CR>", "%0D%0A", "\u{1F}", " ",
    ]

    static func randomText(_ random: inout SplitMix64, maxScalars: Int) -> String {
        var text = String.UnicodeScalarView()
        for _ in 0..<(1 + Int(random.next() % UInt64(maxScalars))) {
            let pick = random.next()
            switch pick % 6 {
            case 0: text.append(contentsOf: hostile[Int((pick >> 8) % UInt64(hostile.count))].unicodeScalars)
            case 1: if let s = Unicode.Scalar(UInt32((pick >> 8) % 0xA0)) { text.append(s) }
            case 2: if let s = Unicode.Scalar(UInt32(0x2000 + (pick >> 8) % 0x70)) { text.append(s) }
            case 3: if let s = Unicode.Scalar(UInt32((pick >> 8) % 0x110000)) { text.append(s) }
            default: if let s = Unicode.Scalar(UInt32(0x20 + (pick >> 8) % 0x5F)) { text.append(s) }
            }
        }
        return String(text)
    }

    /// A random file name the inbox takes: no slash or NUL, not hidden, not temporary, not too long.
    static func randomName(_ random: inout SplitMix64, index: Int) -> String {
        var stem = String(randomText(&random, maxScalars: 24).unicodeScalars.filter { $0 != "/" && $0 != "\u{0}" }.map(Character.init))
        while stem.utf8.count > 150 { stem.removeLast() }
        return "f\(index)-\(stem).ndjson"
    }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self) + "\n"
    }

    func testRandomProducerTextParsesBackFromMailJournalAndVigilctl() throws {
        try TestSupport.ensureJournald()
        let seed = UInt64(ProcessInfo.processInfo.environment["VIGIL_TRUST_SEED"] ?? "") ?? 22
        var random = SplitMix64(seed: seed)
        let harness = try DaemonHarness(label: "producer-text")
        defer { harness.cleanUp() }
        // Every bad file's data-quality warning mailed (no repeat interval), so each name is checked.
        try harness.configuration(lactate: (2.0, 4.0)).replacingOccurrences(of: "  from: vigil@site.invalid", with: "  from: vigil@site.invalid\n  repeat_interval_minutes: 0")
            .write(toFile: harness.configPath, atomically: true, encoding: .utf8)
        try harness.start()

        // SUSARs (serious, related, unexpected): each halts, with its term in the evidence.
        var terms: [String] = []
        for index in 0..<40 {
            let term = (index.isMultiple(of: 2) ? "T\(index) " : "") + Self.randomText(&random, maxScalars: 60)
            guard !term.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
            terms.append(term)
            try harness.drop("susar-\(index).ndjson", Self.json([
                "type": "adverse_event", "id": "AE-TRUST-\(index)", "subject": "LYS-22-\(100 + index)", "onset": "2026-12-04", "term": term,
                "grade": 3, "serious": ["hospitalisation"], "related": "probable", "expected": false, "aware": "2026-12-05T08:00:00Z",
            ]))
        }
        // Bad files with random names: a patient's name where a number belongs, a random unit.
        var badNames: [String] = []
        for index in 0..<6 {
            let name = Self.randomName(&random, index: index)
            badNames.append(name)
            try harness.drop(name, Self.json([
                "type": "observation", "id": "LAB-TRUST-\(index)", "subject": "LYS-22-001", "time": "2026-12-04T06:40:00+01:00",
                "code": "lactate", "value": Self.patient, "unit": Self.randomText(&random, maxScalars: 12),
            ]))
        }
        let total = terms.count + badNames.count
        XCTAssertTrue(TestSupport.waitUntil(timeout: 60) {
            harness.files(in: harness.inbox).isEmpty && harness.files(in: harness.outboxNew).count >= total
        }, "inbox \(harness.files(in: harness.inbox).count), outbox \(harness.files(in: harness.outboxNew).count) of \(total); \(harness.stderr.suffix(2000))")

        // Nothing lost: every bad file is in rejected/, byte for byte, beside its report.
        let rejected = harness.files(in: harness.rejected)
        for name in badNames {
            XCTAssertTrue(rejected.contains(name), "\(name.debugDescription) not in rejected/: \(rejected)")
            let kept = try String(contentsOfFile: "\(harness.rejected)/\(name)", encoding: .utf8)
            XCTAssertTrue(kept.contains(Self.patient), "the original file keeps the value")
        }

        // Every mail through a real MIME parser.
        let mails = harness.files(in: harness.outboxNew).map { "\(harness.outboxNew)/\($0)" }
        let parsed = try Self.parseMail(mails)
        XCTAssertEqual(parsed.count, mails.count)
        let allowed: Set<String> = ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
                                    "X-Vigil-Alert-Id", "X-Vigil-Rule", "X-Vigil-Severity", "X-Vigil-Trial", "X-Vigil-Subject", "Importance"]
        var bodies: [String] = []
        for mail in parsed {
            let file = mail["file"] as? String ?? "?"
            XCTAssertEqual(mail["problems"] as? [String], [], file)
            let headers = mail["headers"] as? [String] ?? []
            XCTAssertEqual(Set(headers).subtracting(allowed), [], "\(file): a header Vigil does not write")
            XCTAssertEqual(headers.count, Set(headers).count, "\(file): a repeated header")
            bodies.append(mail["body"] as? String ?? "")
        }
        for term in terms {
            let shown = ProducerText.visible(term)
            XCTAssertTrue(bodies.contains { $0.contains(shown) }, "no mail shows \(term.debugDescription) as \(shown.debugDescription)")
        }
        for name in badNames {
            let shown = ProducerText.visible(name)
            XCTAssertTrue(bodies.contains { $0.contains(shown) }, "no mail names \(name.debugDescription) as \(shown.debugDescription)")
        }

        // Every journal entry, read back with journalctl -o json: each field a string, MESSAGE a
        // string whose only control characters are Vigil's own line breaks.
        var entries: [[String: Any]] = []
        XCTAssertTrue(TestSupport.waitUntil(timeout: 20) {
            entries = (try? harness.journalEntries()) ?? []
            return entries.count >= total
        }, "\(entries.count) journal entries of \(total)")
        for entry in entries {
            let message = try XCTUnwrap(entry["MESSAGE"] as? String, "MESSAGE is not a string: \(String(describing: entry["MESSAGE"]).prefix(300))")
            XCTAssertTrue(ProducerText.isVisible(message.replacingOccurrences(of: "\n", with: " "), limit: .max / 2), message.debugDescription)
            for (key, value) in entry where key.hasPrefix("VIGIL_") || key == "MESSAGE" {
                XCTAssertTrue(value is String, "\(key) is not a string")
            }
        }
        let messages = entries.compactMap { $0["MESSAGE"] as? String }
        for term in terms {
            XCTAssertTrue(messages.contains { $0.contains(ProducerText.visible(term)) }, "no journal entry shows \(term.debugDescription)")
        }

        // vigilctl: the table and the raw JSON reply are printable, the JSON still parses.
        let table = try harness.vigilctl(["alerts", "--all"])
        XCTAssertEqual(table.status, 0, table.stderr)
        XCTAssertTrue(ProducerText.isVisible(table.stdout.replacingOccurrences(of: "\n", with: " "), limit: .max / 2), table.stdout.debugDescription)
        let raw = try harness.vigilctl(["alerts", "--all", "--json"])
        XCTAssertTrue(ProducerText.isVisible(raw.stdout.replacingOccurrences(of: "\n", with: " "), limit: .max / 2))
        let reply = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(raw.stdout.utf8)) as? [String: Any])
        XCTAssertGreaterThanOrEqual((reply["alerts"] as? [Any])?.count ?? 0, total)
        let status = try harness.vigilctl(["status"])
        XCTAssertTrue(ProducerText.isVisible(status.stdout.replacingOccurrences(of: "\n", with: " "), limit: .max / 2), status.stdout)

        // The patient's name is nowhere else: not in mail, journal, log, store, reports or replies.
        XCTAssertEqual(harness.terminate().status, 0)
        var places: [(String, Data)] = mails.map { ($0, (try? Data(contentsOf: URL(fileURLWithPath: $0))) ?? Data()) }
        places += bodies.enumerated().map { ("mail body \($0.offset)", Data($0.element.utf8)) }
        places.append(("journal", Data(messages.joined(separator: "\n").utf8)))
        places.append(("journal fields", Data(entries.map { $0.values.map { "\($0)" }.joined() }.joined().utf8)))
        places.append(("vigild log", Data(harness.stderr.utf8)))
        places.append(("vigilctl alerts", Data((table.stdout + raw.stdout).utf8)))
        let stateDirectory = (harness.database as NSString).deletingLastPathComponent
        for file in harness.files(in: stateDirectory) { places.append((file, (try? Data(contentsOf: URL(fileURLWithPath: "\(stateDirectory)/\(file)"))) ?? Data())) }
        for file in rejected where file.hasSuffix(".errors.json") {
            places.append((file, try Data(contentsOf: URL(fileURLWithPath: "\(harness.rejected)/\(file)"))))
        }
        for file in harness.archivedFiles() { places.append((file, try Data(contentsOf: URL(fileURLWithPath: "\(harness.archive)/\(file)")))) }
        for (place, data) in places {
            for part in ["DUPONT", "Jeanne", "1971-03-04"] {
                XCTAssertNil(data.range(of: Data(part.utf8)), "'\(part)' found in \(place.debugDescription)")
            }
        }
    }

    /// Parses each message with CPython's `email` package (policy.default) and reports, per file,
    /// its header names, its decoded body and what is wrong: parser defects, a header or body line
    /// holding a control or bidi character, a raw line that is not ASCII or longer than RFC 5322's 998.
    static func parseMail(_ paths: [String]) throws -> [[String: Any]] {
        let script = #"""
        import email, email.policy, json, re, sys
        bad = re.compile('[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]')
        out = []
        for path in sys.argv[1:]:
            raw = open(path, 'rb').read()
            problems = []
            for number, line in enumerate(raw.split(b'\r\n')):
                if len(line) > 998: problems.append('line %d longer than 998 octets' % number)
                if any(b > 126 or (b < 32 and b != 9) for b in line): problems.append('line %d is not printable ASCII' % number)
            message = email.message_from_bytes(raw, policy=email.policy.default)
            problems += ['defect: %r' % d for d in message.defects]
            names = []
            for name, value in message.items():
                names.append(name)
                problems += ['header %s defect: %r' % (name, d) for d in getattr(value, 'defects', ())]
                if bad.search(str(value)) or '\n' in str(value) or '\r' in str(value):
                    problems.append('header %s holds a control character: %r' % (name, str(value)))
            # The parser keeps the CRLF line ends of the wire; they are the message's own.
            body = message.get_content().replace('\r\n', '\n')
            found = bad.search(body.replace('\n', '')) or re.search('\r', body)
            if found:
                problems.append('body holds a control character: %r' % body[max(0, found.start() - 20):found.end() + 20])
            out.append({'file': path, 'headers': names, 'body': body, 'problems': problems})
        print(json.dumps(out))
        """#
        let scriptPath = NSTemporaryDirectory() + "vigil-mime-check-\(getpid()).py"
        try script.write(toFile: scriptPath, atomically: true, encoding: .utf8)
        defer { unlink(scriptPath) }
        let result = try TestSupport.run("/usr/bin/env", ["python3", scriptPath] + paths)
        guard result.status == 0, let parsed = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]] else {
            throw TestSupport.Failure("MIME check failed (\(result.status)): \(result.stderr.suffix(2000))")
        }
        return parsed
    }
}
