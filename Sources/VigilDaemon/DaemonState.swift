import Foundation
import Synchronization
import VigilCentral
import VigilConfig
import VigilControl

/// The daemon's shared, changing state: the live configuration (replaced on reload), what the
/// pipeline is doing, and why the daemon is degraded, read by the control socket and the watchdog.
public final class DaemonState: Sendable {
    private struct Fields {
        var configuration: VigilConfiguration
        var busySince: Date?
        var busyWith: String?
        var degraded: [String: String] = [:]
        var reloads = 0
        var lastReloadError: String?
    }

    public let startedAt: Date
    public let configPath: String
    private let fields: Mutex<Fields>
    private let centralService = Mutex<CentralService?>(nil)

    /// The central tier's service, when `central:` is configured (set once at start).
    public var central: CentralService? { centralService.withLock { $0 } }
    public func attach(_ central: CentralService) { centralService.withLock { $0 = central } }

    public init(configuration: VigilConfiguration, configPath: String, startedAt: Date) {
        self.startedAt = startedAt
        self.configPath = configPath
        fields = Mutex(Fields(configuration: configuration))
    }

    public var configuration: VigilConfiguration {
        get { fields.withLock { $0.configuration } }
    }

    public func replaceConfiguration(_ configuration: VigilConfiguration) {
        fields.withLock {
            $0.configuration = configuration
            $0.reloads += 1
            $0.lastReloadError = nil
        }
    }

    public func reloadFailed(_ reason: String) { fields.withLock { $0.lastReloadError = reason } }
    public var lastReloadError: String? { fields.withLock { $0.lastReloadError } }

    public func beginWork(_ what: String, at time: Date) {
        fields.withLock {
            $0.busySince = time
            $0.busyWith = what
        }
    }

    public func endWork() {
        fields.withLock {
            $0.busySince = nil
            $0.busyWith = nil
        }
    }

    /// How long the pipeline has been on its current item (nil when idle).
    public func busyFor(now: Date) -> TimeInterval? {
        fields.withLock { $0.busySince.map { now.timeIntervalSince($0) } }
    }

    /// Records (or clears, with nil) a reason the daemon cannot do its whole job; a change is passed
    /// to the observer (the service manager's STATUS= line) outside the lock.
    public func setDegraded(_ component: String, _ reason: String?) {
        let changed: [String: String]? = fields.withLock { fields in
            guard fields.degraded[component] != reason else { return nil }
            fields.degraded[component] = reason
            return fields.degraded
        }
        if let changed, let observer = degradedObserver.withLock({ $0 }) { observer(changed) }
    }

    /// Called with every reason in force whenever the set of degradation reasons changes.
    public func observeDegraded(_ observer: @escaping @Sendable (_ reasons: [String: String]) -> Void) {
        degradedObserver.withLock { $0 = observer }
    }

    private let degradedObserver = Mutex<(@Sendable ([String: String]) -> Void)?>(nil)

    public var degradedReasons: [String: String] { fields.withLock { $0.degraded } }

    /// Adds a batch's stage times to what `status` reports.
    func addPipelineCost(_ batch: PipelineCost) { cost.withLock { $0.add(batch) } }

    /// The pipeline's stage times since start-up.
    public var pipelineCost: PipelineCost { cost.withLock { $0 } }

    private let cost = Mutex(PipelineCost())
}
