import EESCore

public struct FlusherConfig: Sendable {
    public var policy = FlushPolicy()
    /// Leadership lease per partition; another flusher takes over within this after a crash.
    public var leaseTTLMs: Int64 = 10_000
    public var partitions: Int = 16
    /// Flush threads; partition p is served by thread p % workers.
    public var workers: Int = 2
    /// Idle wait between passes over the dirty sets when nothing was due.
    public var pollMs: Int = 100
    /// Streams examined per partition per pass (oldest first).
    public var streamsPerPass: Int = 100
    /// Buffer entries read per XRANGE page while assembling a segment.
    public var entriesPerRead: Int = 64
    /// Bound on each partition's notification stream (approximate MAXLEN). Unprocessed
    /// notifications beyond it are dropped, so it must exceed the processor's worst backlog.
    public var notificationsMax: Int = 1_000_000
    /// Wait after an object-store failure before the next attempt (the client already retried).
    public var failureBackoff = Backoff(baseMs: 200, maxMs: 5_000)
    /// On SIGTERM: longest wait for a flush in progress before leases are released anyway.
    public var stopTimeoutMs: Int = 15_000
    public var nodeID: String = "flusher"

    public init() {}

    public func check() throws(ConfigError) {
        if leaseTTLMs < 1000 { throw ConfigError("lease TTL must be at least 1000 ms") }
        if policy.ageMaxMs < 1 || policy.eventsMax < 1 || policy.bytesMax < 1024 {
            throw ConfigError("flush limits must be positive (bytes at least 1024)")
        }
        if Int64(pollMs) * 2 >= leaseTTLMs { throw ConfigError("flush poll interval must be below half the lease TTL") }
        if workers < 1 || workers > 64 { throw ConfigError("flusher workers must be 1-64") }
        if partitions < 1 || partitions > 4096 { throw ConfigError("partitions must be 1-4096") }
    }
}
