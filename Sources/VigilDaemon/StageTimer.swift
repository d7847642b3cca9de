import Glibc
import VigilControl

/// Times one stage on the current thread: CPU (CLOCK_THREAD_CPUTIME_ID) and wall (CLOCK_MONOTONIC).
public struct StageTimer {
    private let cpu: Double
    private let wall: Double

    public init() {
        cpu = Self.now(CLOCK_THREAD_CPUTIME_ID)
        wall = Self.now(CLOCK_MONOTONIC)
    }

    /// The time since `init`.
    public var elapsed: PipelineCost.Stage {
        PipelineCost.Stage(cpuSeconds: Self.now(CLOCK_THREAD_CPUTIME_ID) - cpu, wallSeconds: Self.now(CLOCK_MONOTONIC) - wall)
    }

    /// Runs `body` and adds its time to `stage`.
    public static func measure<T>(_ stage: inout PipelineCost.Stage, _ body: () throws -> T) rethrows -> T {
        let timer = StageTimer()
        defer { stage += timer.elapsed }
        return try body()
    }

    private static func now(_ clock: clockid_t) -> Double {
        var spec = timespec()
        clock_gettime(clock, &spec)
        return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
    }
}
