/// One good segment line: the envelope's identity and times plus the payload's numeric fields.
public struct SegmentEvent: Sendable, Equatable {
    /// 1-based line number in the segment object.
    public var line: Int
    public var seq: Int64
    public var deviceId: String
    public var eventId: String
    public var tsDeviceMs: Int64
    public var tsIngestMs: Int64
    /// Numeric top-level payload fields in payload order (a repeated name keeps its last value).
    public var metrics: [Metric]

    public struct Metric: Sendable, Equatable {
        public var name: String
        public var value: Double
        public init(name: String, value: Double) { self.name = name; self.value = value }
    }

    public init(line: Int, seq: Int64, deviceId: String, eventId: String, tsDeviceMs: Int64, tsIngestMs: Int64,
                metrics: [Metric]) {
        self.line = line
        self.seq = seq
        self.deviceId = deviceId
        self.eventId = eventId
        self.tsDeviceMs = tsDeviceMs
        self.tsIngestMs = tsIngestMs
        self.metrics = metrics
    }

    /// The value of metric `name`, if the payload had it as a number.
    public func value(of name: String) -> Double? { metrics.last { $0.name == name }?.value }
}

/// A line the processor could not (fully) use. Reported to the dead-letter queue by position; the
/// detail names a field or a JSON syntax error, never a value from the payload.
public struct LineProblem: Error, Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        /// Not JSON (or empty, or not UTF-8).
        case badJSON = "bad_json"
        /// A required envelope or event field is missing or has the wrong type.
        case badField = "bad_field"
        /// `seq` is outside the segment key's range, or repeats an earlier line's seq.
        case badSeq = "bad_seq"
        /// The line belongs to another stream than the segment.
        case streamMismatch = "stream_mismatch"
        /// A detector's metric (e.g. `temperature`) is present but not a finite number. The line's
        /// other metrics are still written.
        case nonNumericMetric = "non_numeric_metric"
    }
    /// 1-based line number.
    public var line: Int
    /// The line's seq when it could be read.
    public var seq: Int64?
    public var kind: Kind
    public var detail: String

    public init(line: Int, seq: Int64?, kind: Kind, detail: String) {
        self.line = line
        self.seq = seq
        self.kind = kind
        self.detail = detail
    }

    /// Whether the line was dropped (true) or only partly used (a non-numeric detector metric).
    public var dropsLine: Bool { kind != .nonNumericMetric }
}

/// What a segment's bytes yielded.
public struct ParsedSegment: Sendable, Equatable {
    /// Usable events, in line order.
    public var events: [SegmentEvent] = []
    public var problems: [LineProblem] = []
    /// Lines in the object (a final newline does not start another line).
    public var lineCount = 0
    /// Seqs of the key's range that no line carried (a truncated or damaged object).
    public var missingSeqs = 0

    public init() {}
}

/// Reads a segment object (`{"seq":N,"stream_key":…,"device_id":…,"batch_id":…,"ts_ingest_ms":N,
/// "event":{…}}` per line, docs/data-formats.md) into events. A damaged line is reported with its
/// line number and skipped; the rest of the segment is still used.
public struct SegmentParser: Sendable {
    /// Metrics that must be numeric when present (the detectors' inputs).
    public let requiredNumeric: Set<String>
    /// Payload field names longer than this (UTF-8 bytes), or with control characters, are not
    /// metrics: they are skipped, so one odd field cannot make Postgres refuse a whole segment.
    public static let metricNameBytesMax = 128

    public init(requiredNumeric: Set<String>) { self.requiredNumeric = requiredNumeric }

    public func parse(_ bytes: [UInt8], streamKey: String, range: SeqRange) -> ParsedSegment {
        var out = ParsedSegment()
        var seen = Set<Int64>()
        seen.reserveCapacity(range.count)
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }   // the final newline
        out.lineCount = lines.count
        for (index, line) in lines.enumerated() {
            let number = index + 1
            switch parseLine(line, number: number, streamKey: streamKey) {
            case .failure(let problem):
                // A line that names a seq still accounts for it: the seq is reported, not missing.
                if let s = problem.seq, range.contains(s) { seen.insert(s) }
                out.problems.append(problem)
            case .success(let (event, problem)):
                guard range.contains(event.seq) else {
                    out.problems.append(LineProblem(line: number, seq: event.seq, kind: .badSeq,
                                                    detail: "seq: outside the segment's range \(range)"))
                    continue
                }
                guard seen.insert(event.seq).inserted else {
                    out.problems.append(LineProblem(line: number, seq: event.seq, kind: .badSeq, detail: "seq: repeated"))
                    continue
                }
                if let problem { out.problems.append(problem) }
                out.events.append(event)
            }
        }
        out.missingSeqs = range.count - seen.count
        return out
    }

    private func parseLine(_ line: ArraySlice<UInt8>, number: Int, streamKey: String)
        -> Result<(SegmentEvent, LineProblem?), LineProblem> {
        let doc: JSONValue
        do { doc = try JSONReader.parse(line) } catch {
            return .failure(LineProblem(line: number, seq: SegmentFormat.seq(ofLine: line), kind: .badJSON,
                                        detail: line.isEmpty ? "empty line" : error.description))
        }
        func bad(_ detail: String, seq: Int64? = nil) -> Result<(SegmentEvent, LineProblem?), LineProblem> {
            .failure(LineProblem(line: number, seq: seq, kind: .badField, detail: detail))
        }
        guard doc.members != nil else { return bad("line: not a JSON object") }
        guard let seq = doc.member("seq")?.int64, seq >= 1 else { return bad("seq: required, a positive integer") }
        guard let stream = doc.member("stream_key")?.string else { return bad("stream_key: required, a string", seq: seq) }
        guard stream == streamKey else {
            return .failure(LineProblem(line: number, seq: seq, kind: .streamMismatch,
                                        detail: "stream_key: differs from the segment's stream"))
        }
        guard let device = doc.member("device_id")?.string, Identifier.isValid(device) else {
            return bad("device_id: required, a device id", seq: seq)
        }
        guard let tsIngest = doc.member("ts_ingest_ms")?.int64, tsIngest >= 0 else {
            return bad("ts_ingest_ms: required, a non-negative integer", seq: seq)
        }
        guard let event = doc.member("event"), event.members != nil else { return bad("event: required, an object", seq: seq) }
        guard let eventId = event.member("event_id")?.string, !eventId.isEmpty,
              !eventId.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else {
            return bad("event.event_id: required, a string without control characters", seq: seq)
        }
        guard let tsDevice = event.member("ts_device_ms")?.int64, tsDevice >= 0 else {
            return bad("event.ts_device_ms: required, a non-negative integer", seq: seq)
        }
        guard let payload = event.member("payload")?.members else { return bad("event.payload: required, an object", seq: seq) }

        // A repeated name counts once, with its last value (as JSON readers generally do); the
        // index of each name's last member keeps this linear in the payload's size.
        var last: [String: Int] = [:]
        last.reserveCapacity(payload.count)
        for (k, m) in payload.enumerated() { last[m.name] = k }
        var metrics: [SegmentEvent.Metric] = []
        metrics.reserveCapacity(payload.count)
        for (k, m) in payload.enumerated() where last[m.name] == k && Self.isMetricName(m.name) {
            if let v = m.value.finiteDouble { metrics.append(.init(name: m.name, value: v)) }
        }
        var problem: LineProblem?
        for name in requiredNumeric.sorted() {
            if let k = last[name], payload[k].value.finiteDouble == nil {
                problem = LineProblem(line: number, seq: seq, kind: .nonNumericMetric,
                                      detail: "event.payload.\(name): not a finite number")
                break
            }
        }
        return .success((SegmentEvent(line: number, seq: seq, deviceId: device, eventId: eventId, tsDeviceMs: tsDevice,
                                      tsIngestMs: tsIngest, metrics: metrics), problem))
    }

    /// Whether a payload field name can be a metric (1-128 UTF-8 bytes, no control characters).
    public static func isMetricName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= metricNameBytesMax
            && !name.unicodeScalars.contains { $0.value < 0x20 || $0.value == 0x7F }
    }
}

extension SeqRange {
    public func contains(_ seq: Int64) -> Bool { seq >= start && seq <= end }
}
