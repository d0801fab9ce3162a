import EESCore

/// The processor's series on the shared registry (names in docs; labels from closed sets).
struct ProcessorMetrics: Sendable {
    let registry: MetricsRegistry
    let segmentsWritten: Counter
    let segmentsAlreadyProcessed: Counter
    let rows: Counter
    let anomalies: Counter
    let lagSeconds: Gauge
    let postgresErrors: Counter
    let redisErrors: Counter
    let claimed: Counter
    let derivedEvents: Counter
    let segmentSeconds: Histogram

    init(registry: MetricsRegistry) {
        self.registry = registry
        let segments = "Segments processed and acknowledged, by outcome (already_processed: written before, e.g. by a processor that crashed before XACK)"
        segmentsWritten = registry.counter("ees_processor_segments_total", segments, [("outcome", "written")])
        segmentsAlreadyProcessed = registry.counter("ees_processor_segments_total", segments, [("outcome", "already_processed")])
        rows = registry.counter("ees_processor_rows_total", "Metric rows inserted into device_metrics")
        anomalies = registry.counter("ees_processor_anomalies_total", "Anomalies inserted into anomaly_events")
        lagSeconds = registry.gauge("ees_processor_lag_seconds",
                                    "Now minus the newest ingest time of the last processed segment (0 when caught up)")
        postgresErrors = registry.counter("ees_processor_postgres_errors_total", "Postgres calls that failed (retried or dead-lettered)")
        redisErrors = registry.counter("ees_processor_redis_errors_total", "Processor Redis calls that failed (retried)")
        claimed = registry.counter("ees_processor_claimed_total", "Notifications taken over from another consumer (XAUTOCLAIM)")
        derivedEvents = registry.counter("ees_processor_derived_events_total", "anomaly.detected events appended (at-least-once)")
        segmentSeconds = registry.histogram("ees_processor_segment_duration_seconds", "Time from reading a segment to its XACK")
        for r in DeadLetterReason.allCases { _ = dlq(r) }   // every reason shows up at 0
    }

    func dlq(_ reason: DeadLetterReason) -> Counter {
        registry.counter("ees_processor_dlq_total", "Segments sent to the dead-letter queue, by reason", [("reason", reason.rawValue)])
    }

    func objectStoreError(_ code: String) {
        registry.counter("ees_object_store_errors_total", "Object store calls failed after retries, by code", [("code", code)]).inc()
    }
}
