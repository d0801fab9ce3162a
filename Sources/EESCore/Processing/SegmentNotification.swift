/// One entry of a partition's notification stream (`ees:p:{n}:segments`), as the flusher's commit
/// script writes it: fields `stream`, `key`, `start`, `end`, `count`, `ts`.
public struct SegmentNotification: Sendable, Equatable {
    public let streamKey: String
    /// The segment's object key; always `SegmentFormat.key(stream:range:)` of the other fields.
    public let key: String
    public let range: SeqRange
    /// Newest `ts_ingest_ms` in the segment: the processor's lag is measured from it.
    public let newestIngestMs: Int64

    public init(streamKey: String, range: SeqRange, newestIngestMs: Int64) {
        self.streamKey = streamKey
        self.range = range
        self.key = SegmentFormat.key(stream: streamKey, range: range)
        self.newestIngestMs = newestIngestMs
    }

    /// Parses and cross-checks the fields. A notification that fails here can never be processed
    /// (dead-letter reason `bad_notification`); the reason names the field, never its value.
    public static func parse(fields: [String: String]) -> Result<SegmentNotification, NotificationError> {
        guard let stream = fields["stream"], Identifier.isValid(stream) else { return .failure(.init("stream: missing or not a stream key")) }
        guard let start = fields["start"].flatMap({ Int64($0) }), let end = fields["end"].flatMap({ Int64($0) }),
              start >= 1, end >= start else {
            return .failure(.init("start/end: missing or not a seq range"))
        }
        let range = SeqRange(start: start, end: end)
        guard fields["key"] == SegmentFormat.key(stream: stream, range: range) else {
            return .failure(.init("key: does not match stream, start and end"))
        }
        if let count = fields["count"], Int(count) != range.count {
            return .failure(.init("count: does not match start and end"))
        }
        guard let ts = fields["ts"].flatMap({ Int64($0) }), ts >= 0 else { return .failure(.init("ts: missing or not a timestamp")) }
        return .success(SegmentNotification(streamKey: stream, range: range, newestIngestMs: ts))
    }

    /// The fields the flusher writes, for tests and tools that enqueue a segment by hand.
    public var fields: [(String, String)] {
        [("stream", streamKey), ("key", key), ("start", String(range.start)), ("end", String(range.end)),
         ("count", String(range.count)), ("ts", String(newestIngestMs))]
    }
}

/// Why a notification entry cannot be used.
public struct NotificationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
