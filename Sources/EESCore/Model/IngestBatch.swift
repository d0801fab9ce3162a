/// A `POST /ingest` body indexed once. Events are never decoded: each keeps its raw bytes
/// (a range of `body`), and the few fields the node needs are spans of `scratch` (unescaped).
public struct IngestBatch: Sendable {
    /// The request body (events are ranges of it). May be edited in place only by `JSONLineSafety`.
    public var body: [UInt8]
    /// Unescaped strings the indexer pulled out (ids, keys); events refer to it by range.
    public let scratch: [UInt8]
    public let deviceID: String
    public let batchID: String
    public let streamKey: String?
    public let sentAtMs: Int64
    public var events: [IngestEvent]

    public init(body: [UInt8], scratch: [UInt8], deviceID: String, batchID: String, streamKey: String?,
                sentAtMs: Int64, events: [IngestEvent]) {
        self.body = body
        self.scratch = scratch
        self.deviceID = deviceID
        self.batchID = batchID
        self.streamKey = streamKey
        self.sentAtMs = sentAtMs
        self.events = events
    }

    /// The event's unescaped `event_id` bytes.
    @inlinable public func eventID(_ e: IngestEvent) -> ArraySlice<UInt8> { scratch[e.eventID] }
    /// The event's unescaped `event_type` bytes.
    @inlinable public func eventType(_ e: IngestEvent) -> ArraySlice<UInt8> { scratch[e.eventType] }
    /// The event's JSON object exactly as sent.
    @inlinable public func raw(_ e: IngestEvent) -> ArraySlice<UInt8> { body[e.raw] }
}

/// One event of a batch: where its bytes and fields are, plus the parsed timestamp.
public struct IngestEvent: Sendable, Equatable {
    public let raw: Range<Int>
    public let eventID: Range<Int>
    public let eventType: Range<Int>
    /// The event's own `stream_key`, when it set one (rare; resolved per event).
    public let streamKey: String?
    public let tsDeviceMs: Int64

    public init(raw: Range<Int>, eventID: Range<Int>, eventType: Range<Int>, streamKey: String?, tsDeviceMs: Int64) {
        self.raw = raw
        self.eventID = eventID
        self.eventType = eventType
        self.streamKey = streamKey
        self.tsDeviceMs = tsDeviceMs
    }
}
