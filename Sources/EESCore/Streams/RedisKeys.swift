/// Redis key names (docs/data-formats.md). Every key of one stream carries the stream's hash tag
/// `{<stream_key>}` so one stream's work stays on one Redis Cluster slot.
public struct RedisKeys: Sendable, Equatable {
    public let prefix: String

    public init(prefix: String = "ees") { self.prefix = prefix }

    public func device(_ id: String) -> String { "\(prefix):device:{\(id)}" }
    /// Pattern for SCAN over device records.
    public var devicePattern: String { "\(prefix):device:*" }
    /// Pub/Sub channel carrying device ids whose cached record must be dropped.
    public var deviceInvalidationChannel: String { "\(prefix):device-invalidate" }

    public func seq(_ stream: String) -> String { "\(prefix):s:{\(stream)}:seq" }
    public func dedup(_ stream: String, bucket: Int64) -> String { "\(prefix):s:{\(stream)}:dd:\(bucket)" }
    public func buffer(_ stream: String) -> String { "\(prefix):s:{\(stream)}:buf" }
    public func meta(_ stream: String) -> String { "\(prefix):s:{\(stream)}:meta" }
    public func segments(_ stream: String) -> String { "\(prefix):s:{\(stream)}:segs" }

    public func dirty(partition: Int) -> String { "\(prefix):p:{\(partition)}:dirty" }
    public func lease(partition: Int) -> String { "\(prefix):p:{\(partition)}:lease" }
    public func epoch(partition: Int) -> String { "\(prefix):p:{\(partition)}:epoch" }
    public func notifications(partition: Int) -> String { "\(prefix):p:{\(partition)}:segments" }
    /// Sorted set of live flusher nodes (score = last heartbeat), for fair lease shares.
    public var flushers: String { "\(prefix):flushers" }

    /// Dead-letter stream of the processor (details in the `dlq/segments/…` objects).
    public var deadLetterSegments: String { "\(prefix):dlq:segments" }
    /// Derived `anomaly.detected` events, at-least-once.
    public var derivedAnomalies: String { "\(prefix):derived:anomalies" }
}

/// Streams are spread over a fixed number of partitions by a stable hash (FNV-1a, 32 bit), so every
/// node and every version agrees on a stream's partition.
public enum Partitioning {
    public static func partition(of streamKey: String, count: Int) -> Int {
        precondition(count > 0)
        var h: UInt32 = 2_166_136_261
        for b in streamKey.utf8 {
            h ^= UInt32(b)
            h = h &* 16_777_619
        }
        return Int(h % UInt32(count))
    }
}
