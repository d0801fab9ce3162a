/// Bounds on what one request may carry. Every bound is documented in docs/http-api.md.
public struct IngestLimits: Sendable, Equatable {
    /// Largest body accepted, before and after gzip decompression.
    public var bodyBytesMax: Int = 1 << 20
    /// Most events in one request.
    public var eventsPerRequestMax: Int = 1000
    /// Largest single event object, in bytes as sent.
    public var eventBytesMax: Int = 64 << 10
    /// Longest id (`device_id`, `batch_id`, `event_id`, `stream_key`, `event_type`), in UTF-8 bytes.
    public var idBytesMax: Int = 128

    public init() {}
}

/// Millisecond timestamps must be non-negative and exact in a double (what JSON readers use).
public let timestampMsMax: Int64 = (1 << 53) - 1
