import EESCore

/// What the flusher reads and writes in Redis: leases, the dirty sets, stream buffers, and the
/// fenced begin/commit of a flush.
public final class RedisFlushStore: Sendable {
    public struct Fence: Sendable, Equatable {
        public let partition: Int
        public let epoch: Int64
        public let token: String
    }

    /// A stream's buffer bookkeeping (`meta` hash).
    public struct StreamState: Sendable, Equatable {
        public let pending: SeqRange?
        public let bufferedEvents: Int
        public let bufferedBytes: Int
        public let flushedSeq: Int64
    }

    public enum BeginOutcome: Sendable, Equatable {
        case fenced
        /// Flush exactly this range (ours, or left pending by an earlier leader).
        case flush(SeqRange)
    }

    public enum CommitOutcome: Sendable, Equatable { case committed, fenced, notPending }

    public let client: RedisClient
    public let keys: RedisKeys
    private let acquireScript = RedisScript(source: FlusherScripts.acquire)
    private let renewScript = RedisScript(source: FlusherScripts.renew)
    private let releaseScript = RedisScript(source: FlusherScripts.release)
    private let beginScript = RedisScript(source: FlusherScripts.begin)
    private let commitScript = RedisScript(source: FlusherScripts.commit)

    public init(client: RedisClient, keys: RedisKeys) {
        self.client = client
        self.keys = keys
    }

    private func run(_ script: RedisScript, _ keys: [String], _ args: [String]) throws(RedisError) -> RedisReply {
        let reply = try client.withConnection { c throws(RedisError) in
            try script.run(on: c, calls: [(keys, args.map { Array($0.utf8) })])[0]
        }
        if case .error(let e) = reply { throw RedisError(.server, e) }
        return reply
    }

    // MARK: leases

    /// The new fence, or nil when another node holds the partition.
    public func acquire(partition: Int, node: String, ttlMs: Int64) throws(RedisError) -> Fence? {
        let r = try run(acquireScript, [keys.lease(partition: partition), keys.epoch(partition: partition)], [node, String(ttlMs)])
        guard let epoch = r.int, epoch > 0 else { return nil }
        return Fence(partition: partition, epoch: epoch, token: "\(node):\(epoch)")
    }

    public func renew(_ fence: Fence, ttlMs: Int64) throws(RedisError) -> Bool {
        try run(renewScript, [keys.lease(partition: fence.partition)], [fence.token, String(ttlMs)]).int == 1
    }

    public func release(_ fence: Fence) throws(RedisError) {
        _ = try run(releaseScript, [keys.lease(partition: fence.partition)], [fence.token])
    }

    /// Registers this flusher as alive and returns how many flushers are alive (for fair shares).
    public func heartbeat(node: String, nowMs: Int64, ttlMs: Int64) throws(RedisError) -> Int {
        let key = keys.flushers
        let r = try client.pipeline([
            redisArgs("ZADD", key, String(nowMs), node),
            redisArgs("ZREMRANGEBYSCORE", key, "-inf", String(nowMs - ttlMs)),
            redisArgs("ZCARD", key),
        ])
        return Int(r[2].int ?? 1)
    }

    public func leave(node: String) throws(RedisError) {
        _ = try client.command(["ZREM", keys.flushers, node])
    }

    // MARK: buffers

    /// Streams with unflushed events in a partition, oldest first, at most `limit`.
    public func dirtyStreams(partition: Int, limit: Int) throws(RedisError) -> [(stream: String, oldestMs: Int64)] {
        let r = try client.command(["ZRANGE", keys.dirty(partition: partition), "0", String(limit - 1), "WITHSCORES"])
        guard let a = r.array else { return [] }
        var out: [(String, Int64)] = []
        var i = 0
        while i + 1 < a.count {
            if let s = a[i].text, let score = a[i + 1].text.flatMap(Double.init) { out.append((s, Int64(score))) }
            i += 2
        }
        return out
    }

    public func state(stream: String) throws(RedisError) -> StreamState {
        let r = try client.command(["HMGET", keys.meta(stream), "pending", "buf_events", "buf_bytes", "flushed_seq"])
        let a = r.array ?? []
        func int(_ i: Int) -> Int64 { i < a.count ? (a[i].int ?? 0) : 0 }
        return StreamState(pending: a.first?.text.flatMap(SeqRange.init(parsing:)), bufferedEvents: Int(int(1)),
                           bufferedBytes: Int(int(2)), flushedSeq: int(3))
    }

    /// Buffer entries whose first seq is in `fromSeq...toSeq`, at most `limit`, in order.
    public func entries(stream: String, fromSeq: Int64, toSeq: Int64?, limit: Int) throws(RedisError) -> [BufferEntry] {
        let r = try client.command(["XRANGE", keys.buffer(stream), "\(fromSeq)-0", toSeq.map { "\($0)-0" } ?? "+",
                                    "COUNT", String(limit)])
        guard let items = r.array else { throw RedisError(.protocolViolation, "XRANGE: unexpected reply") }
        return try items.map { item throws(RedisError) in
            guard let pair = item.array, pair.count == 2, let id = pair[0].text,
                  let first = Int64(id.prefix { $0 != "-" }), let fields = pair[1].array else {
                throw RedisError(.protocolViolation, "XRANGE: unexpected entry")
            }
            var n = 0, ts: Int64 = 0, dev = "", batch = "", ev: [UInt8] = []
            var i = 0
            while i + 1 < fields.count {
                switch fields[i].text {
                case "n": n = Int(fields[i + 1].int ?? 0)
                case "ts": ts = fields[i + 1].int ?? 0
                case "dev": dev = fields[i + 1].text ?? ""
                case "batch": batch = fields[i + 1].text ?? ""
                case "ev": ev = fields[i + 1].bytes ?? []
                default: break
                }
                i += 2
            }
            guard n > 0, !ev.isEmpty else { throw RedisError(.protocolViolation, "buffer entry \(id) is incomplete") }
            return BufferEntry(firstSeq: first, count: n, deviceID: dev, batchID: batch, tsIngestMs: ts, events: ev)
        }
    }

    // MARK: the flush protocol

    public func begin(stream: String, range: SeqRange, fence: Fence) throws(RedisError) -> BeginOutcome {
        let r = try run(beginScript, [keys.lease(partition: fence.partition), keys.meta(stream)], [fence.token, range.description])
        guard let a = r.array, a.count == 2, let status = a[0].int else { throw RedisError(.protocolViolation, "begin: \(r)") }
        if status < 0 { return .fenced }
        guard let text = a[1].text, let pending = SeqRange(parsing: text) else {
            throw RedisError(.protocolViolation, "begin: bad pending range")
        }
        return .flush(pending)
    }

    public func commit(stream: String, range: SeqRange, segmentKey: String, bytes: Int, newestTsMs: Int64,
                       fence: Fence, notificationsMax: Int) throws(RedisError) -> CommitOutcome {
        let p = fence.partition
        let r = try run(commitScript,
                        [keys.lease(partition: p), keys.meta(stream), keys.segments(stream), keys.buffer(stream),
                         keys.dirty(partition: p), keys.notifications(partition: p)],
                        [fence.token, range.description, segmentKey, String(range.start), String(range.end),
                         String(range.count), String(bytes), stream, String(notificationsMax), String(newestTsMs)])
        switch r.int {
        case 1: return .committed
        case -1: return .fenced
        default: return .notPending
        }
    }
}
