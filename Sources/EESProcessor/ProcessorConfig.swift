import EESCore

/// Every limit of the processor role, checked once at start-up (`check()`).
public struct ProcessorConfig: Sendable {
    /// Partitions of the notification streams: the same value as the flusher's.
    public var partitions: Int = 16
    /// This process's name; the consumer name in the `processor` group (one per worker thread).
    public var nodeID: String = "processor"
    /// Worker threads; each reads, processes and acknowledges on its own, with its own Postgres
    /// connection.
    public var workers: Int = 1
    /// Notifications read per partition per XREADGROUP (and scanned per partition per XAUTOCLAIM).
    public var readCount: Int = 16
    /// Longest wait of one XREADGROUP for new notifications; also bounds how long `stop()` waits
    /// for an idle worker.
    public var blockMs: Int = 2_000
    /// An entry unacknowledged for this long is taken over by another processor (its owner crashed
    /// or hung). Owners that are only waiting for Postgres keep their entries by touching them
    /// every third of this, so an outage does not count as deliveries. Must exceed the longest
    /// single write (the Postgres statement timeout), or a slow write gets processed twice.
    public var claimIdleMs: Int = 60_000
    /// An entry delivered more often than this goes to the dead-letter queue without processing.
    public var maxDeliveries: Int = 5
    /// Wait between attempts while Postgres, the object store or Redis is unavailable.
    public var retryBackoff = Backoff(baseMs: 100, maxMs: 5_000)
    /// Bound on `ees:dlq:segments` (approximate MAXLEN; the DLQ objects are kept regardless).
    public var deadLetterStreamMax: Int = 100_000
    /// Bound on `ees:derived:anomalies` (approximate MAXLEN).
    public var derivedStreamMax: Int = 1_000_000
    /// Consumers of the group with nothing pending that have not read for this long (dead
    /// processes) are removed.
    public var consumerIdleRemoveMs: Int = 3_600_000
    /// On SIGTERM: longest wait for a segment in progress.
    public var stopTimeoutMs: Int = 15_000

    public init() {}

    public func check() throws(ConfigError) {
        if partitions < 1 || partitions > 4096 { throw ConfigError("partitions must be 1-4096") }
        if workers < 1 || workers > 16 { throw ConfigError("processor workers must be 1-16") }
        if readCount < 1 || readCount > 1000 { throw ConfigError("processor read count must be 1-1000") }
        if blockMs < 10 || blockMs > 30_000 { throw ConfigError("processor block time must be 10-30000 ms") }
        if claimIdleMs < 1000 || claimIdleMs > 86_400_000 { throw ConfigError("--claim-idle-ms must be 1000-86400000") }
        if maxDeliveries < 1 || maxDeliveries > 1000 { throw ConfigError("--max-deliveries must be 1-1000") }
        if deadLetterStreamMax < 100 || derivedStreamMax < 100 { throw ConfigError("processor stream bounds must be at least 100") }
        if !Identifier.isValid(nodeID, maxBytes: 64) { throw ConfigError("node id: letters, digits and . _ : - only") }
    }

    /// The consumer name of worker `w`: the node id, suffixed when there are several workers.
    public func consumerName(worker w: Int) -> String { workers == 1 ? nodeID : "\(nodeID)-w\(w)" }

    /// Between XAUTOCLAIM sweeps.
    var sweepIntervalMs: Int { min(30_000, max(250, claimIdleMs / 2)) }
    /// Between touches of held entries: a third of the claim time.
    var touchIntervalMs: Int { max(100, claimIdleMs / 3) }
}
