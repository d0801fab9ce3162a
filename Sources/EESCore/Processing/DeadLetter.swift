/// Why a segment (or part of it) went to the dead-letter queue. A closed set: it labels
/// `ees_processor_dlq_total{reason}`.
public enum DeadLetterReason: String, Sendable, CaseIterable {
    /// The notification names an object that does not exist (and the segment was never processed).
    case missingObject = "missing_object"
    /// Some lines were not JSON or lacked required fields; the other lines were written.
    case corruptLine = "corrupt_line"
    /// Some lines had a detector's metric that is not a number; everything else was written.
    case nonNumericMetric = "non_numeric_metric"
    /// The object holds fewer seqs than its key's range; what it holds was written.
    case incompleteSegment = "incomplete_segment"
    /// The notification entry itself is malformed; nothing was read.
    case badNotification = "bad_notification"
    /// The object store refused the GET as invalid (not an outage); nothing was written.
    case unreadableObject = "unreadable_object"
    /// Postgres refused the segment's rows as data (not an outage); nothing was written.
    case rejected
    /// The entry was delivered more than the configured maximum without being acknowledged
    /// (processors crashed or hung on it); nothing more was attempted.
    case maxDeliveries = "max_deliveries"

    /// Whether the segment's good rows were written before it was dead-lettered.
    public var rowsWritten: Bool {
        switch self {
        case .corruptLine, .nonNumericMetric, .incompleteSegment: true
        default: false
        }
    }
}

/// A dead-letter record: an object `dlq/segments/<stream>/<start>-<end>.json` (JSON, below) plus a
/// short entry on the `ees:dlq:segments` stream pointing at it. Holds the reason, the notification,
/// the damaged lines' positions and the error text — never payload values or credentials.
public struct DeadLetter: Sendable, Equatable {
    /// At most this many damaged lines are listed (the total is always given).
    public static let problemsListedMax = 10_000
    /// Error texts and raw notification values are cut to this many characters.
    static let textMax = 1024

    public var reason: DeadLetterReason
    public var partition: Int
    /// The notification entry's id in its stream.
    public var entryID: String
    /// The notification's raw fields (kept even when they could not be parsed).
    public var fields: [String: String]
    public var note: SegmentNotification?
    public var problems: [LineProblem] = []
    public var missingSeqs = 0
    public var error: String?
    public var deliveries: Int
    public var consumer: String
    public var atMs: Int64

    public init(reason: DeadLetterReason, partition: Int, entryID: String, fields: [String: String],
                note: SegmentNotification?, deliveries: Int, consumer: String, atMs: Int64) {
        self.reason = reason
        self.partition = partition
        self.entryID = entryID
        self.fields = fields
        self.note = note
        self.deliveries = deliveries
        self.consumer = consumer
        self.atMs = atMs
    }

    /// Deterministic per segment, so a repeated dead-lettering overwrites instead of piling up.
    public var objectKey: String {
        if let note {
            return "dlq/segments/\(note.streamKey)/\(SegmentFormat.pad(note.range.start))-\(SegmentFormat.pad(note.range.end)).json"
        }
        // No trustworthy stream or range: name it by the entry (ids are digits and one '-').
        let safeID = entryID.filter { $0.isASCII && ($0.isNumber || $0 == "-") }
        return "dlq/notifications/\(partition)/\(safeID.isEmpty ? "unknown" : safeID).json"
    }

    /// The object's body: one JSON object.
    public func json() -> [UInt8] {
        var s = "{\"reason\":\"\(reason.rawValue)\",\"rows_written\":\(reason.rowsWritten),\"at_ms\":\(atMs)"
        s += ",\"partition\":\(partition),\"entry_id\":"
        JSONText.appendString(entryID, to: &s)
        s += ",\"consumer\":"
        JSONText.appendString(consumer, to: &s)
        s += ",\"deliveries\":\(deliveries),\"notification\":{"
        for (i, name) in fields.keys.sorted().enumerated() {
            if i > 0 { s += "," }
            JSONText.appendString(String(name.prefix(64)), to: &s)
            s += ":"
            JSONText.appendString(String(fields[name]!.prefix(Self.textMax)), to: &s)
        }
        s += "}"
        if let error {
            s += ",\"error\":"
            JSONText.appendString(String(error.prefix(Self.textMax)), to: &s)
        }
        s += ",\"missing_seqs\":\(missingSeqs),\"line_problem_count\":\(problems.count),\"line_problems\":["
        for (i, p) in problems.prefix(Self.problemsListedMax).enumerated() {
            if i > 0 { s += "," }
            s += "{\"line\":\(p.line),\"seq\":\(p.seq.map(String.init) ?? "null"),\"kind\":\"\(p.kind.rawValue)\",\"detail\":"
            JSONText.appendString(p.detail, to: &s)
            s += "}"
        }
        s += "]}\n"
        return Array(s.utf8)
    }

    /// Fields of the `ees:dlq:segments` entry: enough to find and triage the record.
    public var streamFields: [(String, String)] {
        var out: [(String, String)] = [("reason", reason.rawValue), ("object", objectKey), ("partition", String(partition)),
                                       ("entry", entryID), ("deliveries", String(deliveries)), ("at_ms", String(atMs)),
                                       ("lines", String(problems.count))]
        if let note {
            out += [("stream", note.streamKey), ("key", note.key), ("start", String(note.range.start)),
                    ("end", String(note.range.end))]
        }
        if let error { out.append(("error", String(error.prefix(Self.textMax)))) }
        return out
    }
}
