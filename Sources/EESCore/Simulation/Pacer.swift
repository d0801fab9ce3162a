import Synchronization

/// Paces work to a rate (virtual scheduling, a token bucket in time form): each reservation of
/// `n` units moves a virtual clock on by `n / rate`; the caller waits until the clock's old value.
/// Idle time earns credit up to `burstNs`, so a short stall is caught up but never a long one.
public struct Pacer: Sendable, Equatable {
    /// Units per second; 0 means unpaced.
    public let ratePerSecond: Double
    public let burstNs: UInt64
    private var nextNs: UInt64?

    public init(ratePerSecond: Double, burstNs: UInt64 = 100_000_000) {
        precondition(ratePerSecond >= 0 && ratePerSecond.isFinite, "rate must be finite and non-negative")
        self.ratePerSecond = ratePerSecond
        self.burstNs = burstNs
    }

    /// Reserves `units`; returns how long to wait before using them (0: at once).
    public mutating func reserve(_ units: Int, nowNs: UInt64) -> UInt64 {
        guard ratePerSecond > 0 else { return 0 }
        let earliest = nowNs > burstNs ? nowNs - burstNs : 0
        let start = max(nextNs ?? nowNs, earliest)
        nextNs = start + UInt64((Double(units) * 1e9 / ratePerSecond).rounded())
        return start > nowNs ? start - nowNs : 0
    }
}

/// A `Pacer` shared by several threads (one global rate for all simulator workers).
public final class SharedPacer: Sendable {
    private let pacer: Mutex<Pacer>

    public init(_ pacer: Pacer) { self.pacer = Mutex(pacer) }

    public func reserve(_ units: Int, nowNs: UInt64) -> UInt64 {
        pacer.withLock { $0.reserve(units, nowNs: nowNs) }
    }
}
