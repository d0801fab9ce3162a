/// Everything one segment becomes: the sink's rows and the lines to report.
public struct SegmentWork: Sendable, Equatable {
    public var segment: ProcessedSegment
    public var metrics: [MetricRow]
    public var anomalies: [AnomalyRow]
    public var problems: [LineProblem]
    public var missingSeqs: Int

    /// The dead-letter reason for this segment's damaged lines, or nil when it had none.
    public var deadLetterReason: DeadLetterReason? {
        if problems.contains(where: \.dropsLine) { return .corruptLine }
        if !problems.isEmpty { return .nonNumericMetric }
        if missingSeqs > 0 { return .incompleteSegment }
        return nil
    }
}

/// The pure part of the processor: segment bytes in, rows and anomalies out. The service around
/// it does the I/O (GET, the sink's one transaction, XACK) and the retries.
public struct SegmentProcessor: Sendable {
    public let detectors: [any Detector]
    public let parser: SegmentParser
    public let time: any TimeSource

    public init(detectors: [any Detector], time: any TimeSource = SystemTime()) {
        self.detectors = detectors
        self.parser = SegmentParser(requiredNumeric: detectors.reduce(into: Set<String>()) { $0.formUnion($1.metrics) })
        self.time = time
    }

    public func prepare(_ note: SegmentNotification, bytes: [UInt8]) -> SegmentWork {
        let parsed = parser.parse(bytes, streamKey: note.streamKey, range: note.range)
        var metrics: [MetricRow] = []
        metrics.reserveCapacity(parsed.events.reduce(0) { $0 + $1.metrics.count })
        for e in parsed.events {
            for m in e.metrics {
                metrics.append(MetricRow(tsMs: e.tsDeviceMs, deviceId: e.deviceId, streamKey: note.streamKey, seq: e.seq,
                                         metric: m.name, value: m.value, ingestedAtMs: e.tsIngestMs))
            }
        }
        let now = time.nowMs()
        let anomalies = detectors.flatMap { $0.detect(parsed.events, streamKey: note.streamKey, detectedAtMs: now) }
        let segment = ProcessedSegment(segKey: note.key, streamKey: note.streamKey, seqStart: note.range.start,
                                       seqEnd: note.range.end, rows: parsed.lineCount)
        return SegmentWork(segment: segment, metrics: metrics, anomalies: anomalies, problems: parsed.problems,
                           missingSeqs: parsed.missingSeqs)
    }
}
