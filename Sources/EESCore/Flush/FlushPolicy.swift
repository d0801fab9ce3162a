/// When a stream's buffer is flushed, and how much goes into one segment.
public struct FlushPolicy: Sendable, Equatable {
    /// Flush once this many events are buffered (and cap a segment near it).
    public var eventsMax: Int = 1000
    /// Flush once this many event bytes are buffered (and cap a segment near it).
    public var bytesMax: Int = 1 << 20
    /// Flush once the oldest buffered event is this old.
    public var ageMaxMs: Int64 = 5000

    public init() {}

    public func shouldFlush(bufferedEvents: Int, bufferedBytes: Int, oldestMs: Int64, nowMs: Int64) -> Bool {
        guard bufferedEvents > 0 else { return false }
        return bufferedEvents >= eventsMax || bufferedBytes >= bytesMax || nowMs - oldestMs >= ageMaxMs
    }

    /// How many leading entries make the next segment: whole entries, at least one, stopping at
    /// the first entry boundary where the count or size limit is reached.
    public func entriesForSegment(_ entries: [BufferEntry]) -> Int {
        var events = 0
        var bytes = 0
        for (i, e) in entries.enumerated() {
            events += e.count
            bytes += e.events.count
            if events >= eventsMax || bytes >= bytesMax { return i + 1 }
        }
        return entries.count
    }
}

/// Flusher leadership for one partition, as the holder sees it. Pure: the I/O (SET NX PX, the
/// fenced scripts) is done by the caller; this decides when to renew and whether the lease can
/// still be trusted. A lease is trusted only until `ttl - safety` after the last successful
/// acquire/renew *started* (measured before the round trip, so network delay only shortens it).
public struct LeaseState: Sendable, Equatable {
    public let ttlMs: Int64
    /// Margin for clock drift between this process and Redis.
    public let safetyMs: Int64
    public private(set) var epoch: Int64?
    private var validUntilMs: Int64 = 0
    private var renewedAtMs: Int64 = 0

    public init(ttlMs: Int64, safetyMs: Int64? = nil) {
        precondition(ttlMs >= 300, "lease TTL must be at least 300 ms")
        self.ttlMs = ttlMs
        self.safetyMs = safetyMs ?? max(50, ttlMs / 10)
    }

    public func isHeld(nowMs: Int64) -> Bool { epoch != nil && nowMs < validUntilMs }

    /// Renew at a third of the TTL, so two renewals may fail before the lease lapses.
    public func needsRenewal(nowMs: Int64) -> Bool { epoch != nil && nowMs - renewedAtMs >= ttlMs / 3 }

    public mutating func acquired(epoch: Int64, requestStartedMs: Int64) {
        self.epoch = epoch
        renewedAtMs = requestStartedMs
        validUntilMs = requestStartedMs + ttlMs - safetyMs
    }

    public mutating func renewed(requestStartedMs: Int64) {
        renewedAtMs = requestStartedMs
        validUntilMs = requestStartedMs + ttlMs - safetyMs
    }

    /// The lease was lost (renewal refused, or it lapsed): stop acting for the partition.
    public mutating func lost() {
        epoch = nil
        validUntilMs = 0
    }
}
