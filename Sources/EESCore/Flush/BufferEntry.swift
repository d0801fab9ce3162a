/// One buffer entry as the ingest script wrote it: a chunk of `count` events with seqs
/// `firstSeq ..< firstSeq + count`, their JSON objects joined by `\n`.
public struct BufferEntry: Sendable, Equatable {
    public let firstSeq: Int64
    public let count: Int
    public let deviceID: String
    public let batchID: String
    public let tsIngestMs: Int64
    public let events: [UInt8]

    public init(firstSeq: Int64, count: Int, deviceID: String, batchID: String, tsIngestMs: Int64, events: [UInt8]) {
        self.firstSeq = firstSeq
        self.count = count
        self.deviceID = deviceID
        self.batchID = batchID
        self.tsIngestMs = tsIngestMs
        self.events = events
    }

    public var lastSeq: Int64 { firstSeq + Int64(count) - 1 }
}

/// An inclusive seq range `start...end`, written `start-end` in Redis.
public struct SeqRange: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let start: Int64
    public let end: Int64

    public init(start: Int64, end: Int64) {
        precondition(start >= 1 && end >= start, "seq range must be non-empty and positive")
        self.start = start
        self.end = end
    }

    public init?(parsing s: String) {
        let parts = s.split(separator: "-")
        guard parts.count == 2, let a = Int64(parts[0]), let b = Int64(parts[1]), a >= 1, b >= a else { return nil }
        self.init(start: a, end: b)
    }

    public var count: Int { Int(end - start + 1) }
    public var description: String { "\(start)-\(end)" }
}
