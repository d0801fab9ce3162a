/// The new events of one (request, stream) pair, ready for the buffer: the unit that is stored
/// all-or-nothing.
public struct ChunkWrite: Sendable {
    public let streamKey: String
    public let deviceID: String
    public let batchID: String
    public let tsIngestMs: Int64
    /// `count` dedup ids of `DedupID.width` bytes each, concatenated, in event order.
    public let dedupIDs: [UInt8]
    /// The events' JSON objects as sent, joined by `\n` (events contain no line breaks).
    public let events: [UInt8]
    public let count: Int

    public init(streamKey: String, deviceID: String, batchID: String, tsIngestMs: Int64, dedupIDs: [UInt8],
                events: [UInt8], count: Int) {
        self.streamKey = streamKey
        self.deviceID = deviceID
        self.batchID = batchID
        self.tsIngestMs = tsIngestMs
        self.dedupIDs = dedupIDs
        self.events = events
        self.count = count
    }
}

/// What happened to a chunk.
public enum ChunkResult: Sendable, Equatable {
    /// Stored: `accepted` new events got seqs `firstSeq...lastSeq`; `duplicates` were already known
    /// (or repeated within the request) and were dropped. With `accepted == 0` the seqs are 0.
    case stored(accepted: Int, duplicates: Int, firstSeq: Int64, lastSeq: Int64)
    /// Refused: the stream's unflushed buffer is over its high-water mark. Nothing was stored.
    case overloaded
}

/// Stores chunks atomically per stream: dedup window → seq allocation → one buffer entry.
public protocol IngestStore: Sendable {
    /// One result per chunk, in order. Throws when the store is unreachable (some chunks may have
    /// been stored; a retry of the same request is deduplicated).
    func append(_ chunks: [ChunkWrite]) throws -> [ChunkResult]
    /// True when the store answers.
    func isReachable() -> Bool
}

/// Flow-control bounds on the Redis buffer (per stream).
public struct BufferLimits: Sendable, Equatable {
    /// Unflushed events per stream above which ingest answers 503.
    public var highWaterEvents: Int = 100_000
    /// Unflushed event bytes per stream above which ingest answers 503.
    public var highWaterBytes: Int = 64 << 20
    public init() {}
}

/// Replicas that must hold a request's events before it is acknowledged (Redis `WAIT`).
public struct ReplicaAck: Sendable, Equatable {
    /// 0: acknowledge once the primary has the events (and its AOF policy applies).
    public var count: Int = 0
    public var timeoutMs: Int = 100
    public init(count: Int = 0, timeoutMs: Int = 100) {
        self.count = count
        self.timeoutMs = timeoutMs
    }
}
