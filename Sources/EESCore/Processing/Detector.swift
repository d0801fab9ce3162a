/// Finds anomalies in one segment's events. Detectors are pure: the same events and `detectedAtMs`
/// give the same rows, so a re-processed segment produces the same anomaly identities
/// (`streamKey, seq, metric, algorithm`) and the sink stores each once.
///
/// The processor runs a small list of them (today one threshold detector). Detectors that need
/// history across segments (EMA, robust z-score, CUSUM) will get their state passed in here
/// rather than keeping it themselves, so the processor stays restartable.
public protocol Detector: Sendable {
    /// Stored in `anomaly_events.algorithm`; part of an anomaly's identity.
    var algorithm: String { get }
    /// Payload fields this detector reads. A line where one is present but not a number is
    /// reported to the dead-letter queue (it would otherwise be silently ignored).
    var metrics: Set<String> { get }
    /// Anomalies among `events` (all of stream `streamKey`, in seq order).
    func detect(_ events: [SegmentEvent], streamKey: String, detectedAtMs: Int64) -> [AnomalyRow]
}

/// A value above (or below) a fixed threshold. Severity is `critical` when the value passes the
/// threshold by at least `criticalMargin` (same unit as the metric), else `warning`.
public struct ThresholdDetector: Detector, Equatable {
    public enum Direction: String, Sendable, CaseIterable {
        /// Anomalous when value > threshold.
        case above
        /// Anomalous when value < threshold.
        case below
    }

    public let metric: String
    public let threshold: Double
    public let direction: Direction
    public let criticalMargin: Double

    public var algorithm: String { "threshold" }
    public var metrics: Set<String> { [metric] }

    /// - Precondition: `threshold` and `criticalMargin` are finite, the margin not negative
    ///   (configuration is checked before this is built).
    public init(metric: String = "temperature", threshold: Double = 80.0, direction: Direction = .above,
                criticalMargin: Double = 10.0) {
        precondition(threshold.isFinite && criticalMargin.isFinite && criticalMargin >= 0, "threshold detector limits must be finite")
        self.metric = metric
        self.threshold = threshold
        self.direction = direction
        self.criticalMargin = criticalMargin
    }

    public func detect(_ events: [SegmentEvent], streamKey: String, detectedAtMs: Int64) -> [AnomalyRow] {
        var out: [AnomalyRow] = []
        for e in events {
            guard let v = e.value(of: metric) else { continue }
            let margin = direction == .above ? v - threshold : threshold - v
            guard margin > 0 else { continue }
            var details = "{\"threshold\":\(threshold),\"direction\":\"\(direction.rawValue)\",\"margin\":\(margin),\"event_id\":"
            JSONText.appendString(e.eventId, to: &details)
            details += "}"
            out.append(AnomalyRow(detectedAtMs: detectedAtMs, tsMs: e.tsDeviceMs, deviceId: e.deviceId, streamKey: streamKey,
                                  seq: e.seq, metric: metric, value: v, threshold: threshold, algorithm: algorithm,
                                  severity: margin >= criticalMargin ? "critical" : "warning", detailsJSON: details))
        }
        return out
    }
}
