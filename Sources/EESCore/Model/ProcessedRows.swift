/// Rows the processor derives from one segment, ready for the metrics sink.
///
/// Times are Unix epoch milliseconds (UTC); the sink stores them as `timestamptz`.
/// `(streamKey, seq, metric)` identifies a metric row, and `(streamKey, seq, metric, algorithm)` an
/// anomaly, so writing the same segment again can never duplicate a row.

/// One numeric value taken from one event (for example the `temperature` field of the payload).
public struct MetricRow: Sendable, Equatable {
    /// The device's own timestamp for the event (`ts_device_ms`).
    public var tsMs: Int64
    public var deviceId: String
    public var streamKey: String
    /// The event's gap-free sequence number within its stream.
    public var seq: Int64
    /// The payload field name, e.g. `temperature`.
    public var metric: String
    public var value: Double
    /// When the ingest node accepted the event (`ts_ingest_ms`).
    public var ingestedAtMs: Int64

    public init(tsMs: Int64, deviceId: String, streamKey: String, seq: Int64, metric: String, value: Double,
                ingestedAtMs: Int64) {
        self.tsMs = tsMs
        self.deviceId = deviceId
        self.streamKey = streamKey
        self.seq = seq
        self.metric = metric
        self.value = value
        self.ingestedAtMs = ingestedAtMs
    }
}

/// One detector finding about one metric value of one event.
public struct AnomalyRow: Sendable, Equatable {
    /// When the processor detected it.
    public var detectedAtMs: Int64
    /// The event's device timestamp.
    public var tsMs: Int64
    public var deviceId: String
    public var streamKey: String
    public var seq: Int64
    public var metric: String
    public var value: Double
    /// The limit the value was compared with (for the threshold detector, the configured threshold).
    public var threshold: Double
    /// Detector name, e.g. `threshold`; part of the anomaly's identity.
    public var algorithm: String
    /// Closed set chosen by the detector, e.g. `warning`, `critical`.
    public var severity: String
    /// A JSON object with detector-specific details; stored as `jsonb`, so it must be valid JSON.
    public var detailsJSON: String

    public init(detectedAtMs: Int64, tsMs: Int64, deviceId: String, streamKey: String, seq: Int64, metric: String,
                value: Double, threshold: Double, algorithm: String, severity: String, detailsJSON: String = "{}") {
        self.detectedAtMs = detectedAtMs
        self.tsMs = tsMs
        self.deviceId = deviceId
        self.streamKey = streamKey
        self.seq = seq
        self.metric = metric
        self.value = value
        self.threshold = threshold
        self.algorithm = algorithm
        self.severity = severity
        self.detailsJSON = detailsJSON
    }
}

/// The segment a batch of rows came from: the unit of idempotency for the sink.
public struct ProcessedSegment: Sendable, Equatable {
    /// The object key, `stream/<stream_key>/seg/<start>-<end>.jsonl`; unique per segment.
    public var segKey: String
    public var streamKey: String
    /// First and last seq in the segment, inclusive.
    public var seqStart: Int64
    public var seqEnd: Int64
    /// Number of events (lines) in the segment, recorded for audits.
    public var rows: Int

    public init(segKey: String, streamKey: String, seqStart: Int64, seqEnd: Int64, rows: Int) {
        self.segKey = segKey
        self.streamKey = streamKey
        self.seqStart = seqStart
        self.seqEnd = seqEnd
        self.rows = rows
    }
}
