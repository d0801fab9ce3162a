import EESCore

struct FlusherMetrics: Sendable {
    let registry: MetricsRegistry
    let segments: Counter
    let segmentBytes: Counter
    let events: Counter
    let flushSeconds: Histogram
    let lagSeconds: Gauge
    let leasesHeld: Gauge
    let fenced: Counter

    init(registry: MetricsRegistry) {
        self.registry = registry
        segments = registry.counter("ees_flusher_segments_total", "Segments written and committed")
        segmentBytes = registry.counter("ees_flusher_segment_bytes_total", "Bytes of committed segments")
        events = registry.counter("ees_flusher_events_total", "Events in committed segments")
        flushSeconds = registry.histogram("ees_flusher_flush_duration_seconds", "Time from begin to commit of one segment")
        lagSeconds = registry.gauge("ees_flusher_lag_seconds", "Age of the oldest unflushed event in partitions this node leads")
        leasesHeld = registry.gauge("ees_flusher_leases_held", "Partitions this node leads")
        fenced = registry.counter("ees_flusher_fenced_total", "Begins or commits refused because the lease was lost")
    }

    func objectStoreError(_ code: String) {
        registry.counter("ees_object_store_errors_total", "Object store calls failed after retries, by code", [("code", code)]).inc()
    }

    func redisError() {
        registry.counter("ees_flusher_redis_errors_total", "Flusher Redis calls that failed").inc()
    }
}
