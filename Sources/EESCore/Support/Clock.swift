#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Time as the core sees it; injected so policies are unit-tested with a manual clock.
public protocol TimeSource: Sendable {
    /// Wall-clock milliseconds since the Unix epoch.
    func nowMs() -> Int64
    /// Monotonic nanoseconds (for durations only).
    func monotonicNs() -> UInt64
}

public struct SystemTime: TimeSource {
    public init() {}
    public func nowMs() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
    public func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// A clock that moves only when told to.
public final class ManualTime: TimeSource {
    private let ms: Atomic<Int64>
    public init(nowMs: Int64 = 1_700_000_000_000) { ms = Atomic(nowMs) }
    public func nowMs() -> Int64 { ms.load(ordering: .relaxed) }
    public func monotonicNs() -> UInt64 { UInt64(ms.load(ordering: .relaxed)) * 1_000_000 }
    public func advance(ms delta: Int64) { ms.add(delta, ordering: .relaxed) }
}

/// A boolean shared between threads (stop/drain requests).
public final class AtomicFlag: Sendable {
    private let value = Atomic<Bool>(false)
    public init() {}
    public func set() { value.store(true, ordering: .relaxed) }
    public var isSet: Bool { value.load(ordering: .relaxed) }
}

/// Sleeps the calling thread (role threads are plain threads, not tasks).
public func sleepMs(_ ms: Int) {
    guard ms > 0 else { return }
    var request = timespec(tv_sec: ms / 1000, tv_nsec: (ms % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
}

/// Capped exponential backoff with full jitter: attempt 0 waits up to `baseMs`, each further
/// attempt doubles that, never past `maxMs`.
public struct Backoff: Sendable, Equatable {
    public var baseMs: Int
    public var maxMs: Int
    public init(baseMs: Int, maxMs: Int) {
        precondition(baseMs > 0 && maxMs >= baseMs)
        self.baseMs = baseMs
        self.maxMs = maxMs
    }
    public func ceilingMs(attempt: Int) -> Int { min(maxMs, baseMs << min(attempt, 20)) }
    public func delayMs(attempt: Int) -> Int {
        var g = SystemRandomNumberGenerator()
        return delayMs(attempt: attempt, using: &g)
    }
    public func delayMs<G: RandomNumberGenerator>(attempt: Int, using generator: inout G) -> Int {
        Int.random(in: 0...ceilingMs(attempt: attempt), using: &generator)
    }
}
