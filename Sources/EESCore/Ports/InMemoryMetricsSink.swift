import Synchronization

/// A `MetricsSink` in memory, for unit tests of the processor. Same identity rules as the Postgres
/// sink: a segment is written once; metric rows are unique by `(streamKey, seq, metric)` and
/// anomalies by `(streamKey, seq, metric, algorithm)`.
public final class InMemoryMetricsSink: MetricsSink {
    private struct MetricKey: Hashable { let streamKey: String, seq: Int64, metric: String }
    private struct AnomalyKey: Hashable { let streamKey: String, seq: Int64, metric: String, algorithm: String }
    private struct State {
        var segments: [String: ProcessedSegment] = [:]
        var metricKeys: Set<MetricKey> = []
        var anomalyKeys: Set<AnomalyKey> = []
        var metrics: [MetricRow] = []
        var anomalies: [AnomalyRow] = []
        var failure: MetricsSinkError?
    }
    private let state = Mutex(State())

    public init() {}

    public func write(segment: ProcessedSegment, metrics: [MetricRow], anomalies: [AnomalyRow])
        throws(MetricsSinkError) -> WriteOutcome {
        try state.withLock { (s: inout State) throws(MetricsSinkError) -> WriteOutcome in
            if let failure = s.failure { throw failure }
            if s.segments[segment.segKey] != nil { return .alreadyProcessed }
            s.segments[segment.segKey] = segment
            var m = 0
            for row in metrics where s.metricKeys.insert(MetricKey(streamKey: row.streamKey, seq: row.seq,
                                                                   metric: row.metric)).inserted {
                s.metrics.append(row)
                m += 1
            }
            var a = 0
            for row in anomalies where s.anomalyKeys.insert(AnomalyKey(streamKey: row.streamKey, seq: row.seq,
                                                                       metric: row.metric,
                                                                       algorithm: row.algorithm)).inserted {
                s.anomalies.append(row)
                a += 1
            }
            return .written(metricsInserted: m, anomaliesInserted: a)
        }
    }

    public func isProcessed(segKey: String) throws(MetricsSinkError) -> Bool {
        try state.withLock { (s: inout State) throws(MetricsSinkError) -> Bool in
            if let failure = s.failure { throw failure }
            return s.segments[segKey] != nil
        }
    }

    /// Makes every following call throw `error` (or work again with `nil`), to test retry paths.
    public func setFailure(_ error: MetricsSinkError?) { state.withLock { $0.failure = error } }
    /// Metric rows stored so far, in insertion order.
    public var storedMetrics: [MetricRow] { state.withLock { $0.metrics } }
    /// Anomalies stored so far, in insertion order.
    public var storedAnomalies: [AnomalyRow] { state.withLock { $0.anomalies } }
    /// Keys of the segments written so far.
    public var processedSegmentKeys: Set<String> { state.withLock { Set($0.segments.keys) } }
}
