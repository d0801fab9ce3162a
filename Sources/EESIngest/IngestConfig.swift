import EESCore
import EESHTTPServer

/// Everything the ingest role needs to know, validated at start-up.
public struct IngestConfig: Sendable {
    public var http = HTTPServerConfig()
    public var limits = IngestLimits()
    public var buffer = BufferLimits()
    public var cache = DeviceCache.Config()
    public var rate = RateLimiter.Config()
    /// Dedup window width W: an id is remembered for W to 2W.
    public var dedupWindowMs: Int64 = 600_000
    public var partitions: Int = 16
    /// Replicas that must acknowledge (Redis WAIT) before a 200; 0 = the primary alone.
    public var replicas = ReplicaAck()
    /// `Retry-After` on 503 (Redis down or buffer full).
    public var retryAfterSeconds: Int = 2
    /// After SIGTERM: time /readyz reports 503 while still serving, so balancers stop sending.
    public var drainDelayMs: Int = 0
    /// After that: longest wait for in-flight requests before the process exits anyway.
    public var drainTimeoutMs: Int = 10_000

    public init() {}

    /// Relationships between values that no single flag can check.
    public func check() throws(ConfigError) {
        if limits.bodyBytesMax < 1024 { throw ConfigError("body limit must be at least 1024 bytes") }
        if limits.eventsPerRequestMax < 1 { throw ConfigError("events per request must be at least 1") }
        if dedupWindowMs < 1000 { throw ConfigError("dedup window must be at least 1 s") }
        if buffer.highWaterEvents < limits.eventsPerRequestMax {
            throw ConfigError("buffer high-water mark (\(buffer.highWaterEvents) events) must hold at least one full request (\(limits.eventsPerRequestMax))")
        }
        if buffer.highWaterBytes < limits.bodyBytesMax {
            throw ConfigError("buffer high-water mark (\(buffer.highWaterBytes) bytes) must hold at least one full body (\(limits.bodyBytesMax))")
        }
        if rate.eventsPerSecond > 0 && rate.burstEvents < Double(limits.eventsPerRequestMax) {
            throw ConfigError("rate burst (\(Int(rate.burstEvents)) events) must hold at least one full request (\(limits.eventsPerRequestMax))")
        }
        if http.threads < 1 || http.threads > 256 { throw ConfigError("http threads must be 1-256") }
        if partitions < 1 || partitions > 4096 { throw ConfigError("partitions must be 1-4096") }
    }
}
