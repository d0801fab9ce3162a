/// `anomaly.detected` derived events, appended to `ees:derived:anomalies` for downstream consumers
/// after the segment's rows are committed. Delivery there is at-least-once (a processor that crashes
/// after COMMIT re-publishes on the retry): consumers deduplicate on the `id` field, which is the
/// anomaly's identity in Postgres.
extension AnomalyRow {
    public static let derivedEventType = "anomaly.detected"

    /// `<stream_key>:<seq>:<metric>:<algorithm>` — unique per anomaly, the same on every re-publish.
    public var derivedEventID: String { "\(streamKey):\(seq):\(metric):\(algorithm)" }

    /// The stream entry's fields.
    public func derivedEventFields(segmentKey: String) -> [(String, String)] {
        [("type", Self.derivedEventType), ("id", derivedEventID), ("stream_key", streamKey), ("device_id", deviceId),
         ("seq", String(seq)), ("metric", metric), ("value", String(value)), ("threshold", String(threshold)),
         ("algorithm", algorithm), ("severity", severity), ("ts_ms", String(tsMs)),
         ("detected_at_ms", String(detectedAtMs)), ("details", detailsJSON), ("segment", segmentKey)]
    }
}
