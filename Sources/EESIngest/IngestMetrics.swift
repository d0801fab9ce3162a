import EESCore

/// The ingest role's series on /metrics.
public struct IngestMetrics: Sendable {
    public let registry: MetricsRegistry
    public let accepted: Counter
    public let duplicates: Counter
    public let requestSeconds: Histogram
    public let redisSeconds: Histogram
    public let cacheEntries: Gauge

    public init(registry: MetricsRegistry) {
        self.registry = registry
        accepted = registry.counter("ees_ingest_events_accepted_total", "Events stored with a new seq")
        duplicates = registry.counter("ees_ingest_events_duplicate_total", "Events dropped as already seen within the dedup window")
        requestSeconds = registry.histogram("ees_http_request_duration_seconds", "Time to answer POST /ingest",
                                            [("route", "/ingest")])
        redisSeconds = registry.histogram("ees_redis_command_duration_seconds", "Redis round-trip time, per call or pipeline")
        cacheEntries = registry.gauge("ees_device_cache_entries", "Device records cached in this process")
    }

    public func request(route: String, status: Int) {
        registry.counter("ees_http_requests_total", "HTTP requests answered, by route and status",
                         [("route", route), ("status", String(status))]).inc()
    }

    public func rejected(_ reason: String) {
        registry.counter("ees_ingest_rejected_total", "Requests refused, by reason", [("reason", reason)]).inc()
    }
}
