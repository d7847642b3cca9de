import Foundation
import Glibc

/// A real PostgreSQL server for a test, from the distribution's binaries (Debian's `postgresql`
/// package, which .ci/run installs): its own cluster in a scratch directory, on a free loopback
/// port, with password (SCRAM) authentication for the user `vigil`. Run as the `postgres` user when
/// the tests run as root, since the server refuses root.
public final class PostgresServer {
    public let directory: String
    public let port: UInt16
    public let user = "vigil"
    public let password = "vigil-\(UUID().uuidString.prefix(12))"
    public var passwordFile: String { "\(directory)/password" }
    public var url: String { "postgres://\(user)@127.0.0.1:\(port)/postgres" }
    let bin: String
    var data: String { "\(directory)/data" }

    public init(label: String) throws {
        guard let bin = Self.binaries() else {
            throw TestSupport.Failure("no PostgreSQL server binaries under /usr/lib/postgresql (apt-get install postgresql; .ci/run does)")
        }
        self.bin = bin
        directory = try TestSupport.scratchDirectory("pg-\(label)")
        port = try TestSupport.freeLoopbackPort()
        try password.write(toFile: passwordFile, atomically: true, encoding: .utf8)
        if getuid() == 0 {
            _ = try TestSupport.run("/bin/chown", ["-R", "postgres:postgres", directory])
        }
        let initdb = try asServerUser("\(bin)/initdb", ["-D", data, "-U", user, "--auth=scram-sha-256", "--pwfile=\(passwordFile)", "-E", "UTF8", "--no-sync"])
        guard initdb.status == 0 else { throw TestSupport.Failure("initdb failed: \(initdb.stderr)") }
        try start()
    }

    /// The newest installed major version's bin directory.
    static func binaries() -> String? {
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted()
        return versions.last.map { "\(root)/\($0)/bin" }
    }

    func asServerUser(_ executable: String, _ arguments: [String]) throws -> TestSupport.Completed {
        getuid() == 0 ? try TestSupport.run("/usr/sbin/runuser", ["-u", "postgres", "--", executable] + arguments) : try TestSupport.run(executable, arguments)
    }

    /// Starts the server and waits until it accepts connections. pg_ctl is spawned and waited for
    /// directly (posix_spawn, waitpid), not through Foundation's Process: the server pg_ctl leaves
    /// running inherits the descriptor by which Process learns that its child ended, and
    /// `waitUntilExit` would then wait as long as the server runs.
    public func start() throws {
        let output = "\(directory)/pg_ctl.out"
        let command = "exec '\(bin)/pg_ctl' -D '\(data)' -l '\(directory)/server.log' -w -t 30 "
            + "-o '-p \(port) -k \(directory) -c listen_addresses=127.0.0.1' start >'\(output)' 2>&1 </dev/null"
        let argv = getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--", "/bin/sh", "-c", command] : ["/bin/sh", "-c", command]
        var pid: pid_t = 0
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        let spawned = posix_spawn(&pid, argv[0], nil, nil, &cArguments, environ)
        guard spawned == 0 else { throw TestSupport.Failure("cannot spawn pg_ctl: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status == 0 else {
            throw TestSupport.Failure("pg_ctl start failed (\(status)): \((try? String(contentsOfFile: output, encoding: .utf8)) ?? "") \(log)")
        }
    }

    /// Stops the server: `fast` cuts the sessions and checkpoints; `immediate` quits every server
    /// process at once without a checkpoint, as a crash does (recovery replays the WAL at start).
    public func stop(mode: String = "fast") throws {
        let stopped = try asServerUser("\(bin)/pg_ctl", ["-D", data, "-m", mode, "-w", "stop"])
        guard stopped.status == 0 else { throw TestSupport.Failure("pg_ctl stop failed: \(stopped.stderr)") }
    }

    public var log: String { (try? String(contentsOfFile: "\(directory)/server.log", encoding: .utf8)) ?? "" }

    /// Runs `sql` with psql and returns its rows, fields separated by `|`.
    public func query(_ sql: String) throws -> [String] {
        let result = try TestSupport.run("/usr/bin/psql", ["-h", "127.0.0.1", "-p", "\(port)", "-U", user, "-d", "postgres", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                         environment: ProcessInfo.processInfo.environment.merging(["PGPASSWORD": password]) { _, new in new })
        guard result.status == 0 else { throw TestSupport.Failure("psql failed: \(result.stderr)") }
        return result.stdout.split(separator: "\n").map(String.init)
    }

    public func cleanUp() {
        try? stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}
