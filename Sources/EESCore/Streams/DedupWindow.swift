/// The duplicate-detection window. Event ids are remembered in one Redis set per time bucket of
/// width W; an id is a duplicate while it is in the current or the previous bucket, so every id is
/// remembered for at least W and at most 2W after it was first accepted. Buckets expire after 2W.
public struct DedupWindow: Sendable, Equatable {
    public let widthMs: Int64

    public init(widthMs: Int64) {
        precondition(widthMs > 0, "dedup window must be positive")
        self.widthMs = widthMs
    }

    /// The bucket that `nowMs` falls in.
    public func bucket(atMs nowMs: Int64) -> Int64 { nowMs >= 0 ? nowMs / widthMs : (nowMs - widthMs + 1) / widthMs }

    /// Buckets to check at `nowMs`: the current one (written to) and the one before it.
    public func buckets(atMs nowMs: Int64) -> (current: Int64, previous: Int64) {
        let b = bucket(atMs: nowMs)
        return (b, b - 1)
    }

    /// How long a bucket's set lives: long enough to be the "previous" bucket for a whole width.
    public var bucketTTLSeconds: Int64 { (2 * widthMs + 999) / 1000 }

    /// Shortest and longest time an accepted id is remembered.
    public var guaranteedMs: Int64 { widthMs }
    public var maximumMs: Int64 { 2 * widthMs }
}
