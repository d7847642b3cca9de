import Foundation
import Glibc
import Logging
import Synchronization
import VigilConfig
import VigilCore
import VigilIngest
import VigilOutbox

/// A second inbox beside the directory: HL7 v2 messages over TCP with MLLP framing (`mllp:` of
/// vigil.yaml). Each complete message is written into the inbox directory as a file (fsynced, renamed,
/// directory fsynced) and only then acknowledged, so an acknowledged message is never lost: from there
/// it takes the same trip as a dropped file (docs/ARCHITECTURE.md §1). A crash between the commit and
/// the acknowledgement makes the sender send the message again; the second copy is a file with the
/// same records, which the record ids make a no-op, so nothing is doubled.
///
/// The acknowledgement (`HL7Acknowledgement`) is AA when every record of the message reads, AE when
/// some are refused (they go to `rejected/` with their report, as for a file), and AR when the
/// message cannot be taken at all: no MSH, an unsupported message type, or a frame over
/// `max_message_bytes` (the one case not stored: its end never arrives whole).
public final class MLLPListener: Sendable {
    private let settings: MLLPSettings
    private let inbox: String
    private let options: @Sendable () -> IngestOptions?
    private let logger: Logger
    private let clock: @Sendable () -> Date
    private let sequence = Atomic<Int>(0)
    /// Set once, right after the listening socket is bound.
    private let acceptor = Mutex<ConnectionAcceptor?>(nil)

    /// Binds `settings.host:settings.port` and starts accepting. `options` gives the parser settings
    /// in force (a reload changes them) for the check that chooses AA or AE.
    public init(settings: MLLPSettings, inbox: String, logger: Logger, clock: @escaping @Sendable () -> Date,
                options: @escaping @Sendable () -> IngestOptions?) throws {
        self.settings = settings
        self.inbox = inbox
        self.logger = logger
        self.clock = clock
        self.options = options
        let listenFD = try Self.bind(host: settings.host, port: settings.port)
        let started = try ConnectionAcceptor(
            listenFD: listenFD, maxConnections: settings.maxConnections, threadName: "vigil-mllp",
            refuse: { [logger, settings] _ in logger.warning("MLLP: connection refused: \(settings.maxConnections) already open (mllp.max_connections)") },
            serve: { [self] in self.serve($0) })
        acceptor.withLock { $0 = started }
    }

    static func bind(host: String, port: UInt16) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let first = found else {
            throw DurableFile.Failure(operation: "resolve (\(String(cString: gai_strerror(status))))", path: "\(host):\(port)", code: EINVAL)
        }
        defer { freeaddrinfo(found) }
        var lastError: Int32 = EADDRNOTAVAIL
        var candidate: UnsafeMutablePointer<addrinfo>? = first
        while let info = candidate {
            candidate = info.pointee.ai_next
            let fd = socket(info.pointee.ai_family, info.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), info.pointee.ai_protocol)
            guard fd >= 0 else {
                lastError = errno
                continue
            }
            var on: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
            if Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0, listen(fd, 64) == 0 {
                return fd
            }
            lastError = errno
            close(fd)
        }
        throw DurableFile.Failure(operation: "listen", path: "\(host):\(port)", code: lastError)
    }

    /// Stops accepting; connections being served finish their current message.
    public func stop() {
        acceptor.withLock { $0?.stop() }
    }

    /// Reads frames until the peer closes, a read fails, or a frame is not completed in time.
    private func serve(_ fd: Int32) {
        var sendTimeout = timeval(tv_sec: Int(settings.timeoutSeconds), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        var reader = MLLPFrameReader(maxMessageBytes: settings.maxMessageBytes)
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var frameStarted: Date?
        while true {
            // A begun frame must end within the timeout; between frames the connection may stay
            // open (senders keep one), up to the idle limit.
            let limit = frameStarted.map { settings.timeoutSeconds - clock().timeIntervalSince($0) } ?? MLLPListener.idleSeconds
            guard limit > 0 else {
                logger.warning("MLLP: a message was not completed within \(settings.timeoutSeconds) s; connection closed without acknowledgement")
                return
            }
            var pending = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pending, 1, Int32(min(limit * 1000, Double(Int32.max))))
            if ready < 0 {
                if errno == EINTR { continue }
                return
            }
            if ready == 0 {
                if frameStarted != nil { continue }  // the limit check above closes it
                return  // idle
            }
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                if reader.isInsideFrame { logger.warning("MLLP: connection closed in the middle of a message; nothing stored or acknowledged") }
                return
            }
            let wasInside = reader.isInsideFrame
            let events = reader.feed(chunk[0..<n])
            for event in events {
                guard let acknowledgement = handle(event) else { return }
                guard ConnectionAcceptor.send(MLLPFrameReader.frame(acknowledgement), to: fd) else { return }
            }
            if !reader.isInsideFrame {
                frameStarted = nil
            } else if !wasInside || !events.isEmpty {
                frameStarted = clock()  // a new frame began in these bytes
            }
        }
    }

    /// A connection idle this long between messages is closed; the sender opens a new one.
    static let idleSeconds: Double = 600

    /// Stores the message, then builds its acknowledgement; nil when it could not be stored (the
    /// connection is closed unacknowledged, so the sender sends it again).
    func handle(_ event: MLLPFrameReader.Event) -> [UInt8]? {
        let controlID = "VIGIL\(ProcessInfo.processInfo.processIdentifier)-\(sequence.add(1, ordering: .relaxed).newValue)"
        let now = clock()
        switch event {
        case .tooLarge(let prefix):
            let header = HL7Acknowledgement.Header(message: prefix) ?? HL7Acknowledgement.Header()
            logger.warning("MLLP: message \(header.controlID) refused: longer than \(settings.maxMessageBytes) bytes (mllp.max_message_bytes)")
            return HL7Acknowledgement.message(.reject, answering: header, controlID: controlID, time: now,
                                              text: "message longer than \(settings.maxMessageBytes) bytes; not stored")
        case .message(let bytes):
            let name: String
            do {
                name = try store(bytes, now: now)
            } catch {
                logger.error("MLLP: cannot store a message in the inbox: \(error); not acknowledged, the sender will send it again")
                return nil
            }
            guard let header = HL7Acknowledgement.Header(message: bytes) else {
                logger.warning("MLLP: message stored as \(name) does not begin with MSH; refused (AR)")
                return HL7Acknowledgement.message(.reject, answering: HL7Acknowledgement.Header(), controlID: controlID, time: now,
                                                  text: "message does not begin with an MSH segment")
            }
            let (code, text) = Self.verdict(for: bytes, options: options())
            logger.info("MLLP: message \(header.controlID) stored as \(name); acknowledged \(code.rawValue)")
            return HL7Acknowledgement.message(code, answering: header, controlID: controlID, time: now, text: text)
        }
    }

    /// AA when every record reads; AR when the message as a whole is refused (its MSH or type); AE
    /// when some records are refused. The text is the first error's summary, which describes a
    /// refused value by its shape only.
    static func verdict(for bytes: [UInt8], options: IngestOptions?) -> (HL7Acknowledgement.Code, String?) {
        guard let options else { return (.accept, nil) }
        let result = HL7Parser(options: options).parse(Data(bytes))
        guard let first = result.errors.first else { return (.accept, nil) }
        let more = result.errors.count > 1 ? " (and \(result.errors.count - 1) more)" : ""
        let whole = result.errors.contains { ["MSH-2", "MSH-9", "MSH-18"].contains($0.field ?? "") || $0.segment == 1 && $0.field == nil }
        return (whole && result.records.isEmpty ? .reject : .error, first.summary + more)
    }

    /// Writes the message into the inbox under a new name, durably: temporary dotfile, fsync, rename,
    /// directory fsync. Returns the name.
    func store(_ bytes: [UInt8], now: Date) throws -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = .gmt
        formatter.dateFormat = "yyyyMMdd'T'HHmmss"
        let name = "mllp-\(formatter.string(from: now))-\(ProcessInfo.processInfo.processIdentifier)-\(sequence.add(1, ordering: .relaxed).newValue).hl7"
        try DurableFile.replace(Data(bytes), at: "\(inbox)/\(name)")
        return name
    }
}
