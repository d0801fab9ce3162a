import EESCore

/// `IngestStore` on Redis: one script call per stream, all of a request's streams pipelined on
/// one connection.
public final class RedisIngestStore: IngestStore {
    private let client: RedisClient
    private let keys: RedisKeys
    private let window: DedupWindow
    private let limits: BufferLimits
    private let partitions: Int
    private let script = RedisScript(source: ingestScriptSource)
    private let replicas: ReplicaAck

    public init(client: RedisClient, keys: RedisKeys, window: DedupWindow, limits: BufferLimits, partitions: Int,
                replicas: ReplicaAck = ReplicaAck()) {
        self.client = client
        self.keys = keys
        self.window = window
        self.limits = limits
        self.partitions = partitions
        self.replicas = replicas
    }

    public func append(_ chunks: [ChunkWrite]) throws -> [ChunkResult] {
        let calls = chunks.map { c -> (keys: [String], args: [[UInt8]]) in
            let (current, previous) = window.buckets(atMs: c.tsIngestMs)
            let k = [keys.seq(c.streamKey), keys.dedup(c.streamKey, bucket: current),
                     keys.dedup(c.streamKey, bucket: previous), keys.buffer(c.streamKey), keys.meta(c.streamKey),
                     keys.dirty(partition: Partitioning.partition(of: c.streamKey, count: partitions))]
            let a: [[UInt8]] = [Array(String(c.tsIngestMs).utf8), Array(String(window.bucketTTLSeconds).utf8),
                                Array(String(limits.highWaterEvents).utf8), Array(String(limits.highWaterBytes).utf8),
                                Array(c.deviceID.utf8), Array(c.batchID.utf8), Array(c.streamKey.utf8),
                                c.dedupIDs, c.events]
            return (k, a)
        }
        let replies = try client.withConnection { conn throws(RedisError) in
            let replies = try script.run(on: conn, calls: calls)
            if replicas.count > 0 {
                // Acknowledge only what enough replicas hold: WAIT blocks this connection up to the
                // timeout. On a shortfall the events stay stored; the client's retry is deduplicated.
                let acked = try conn.command(["WAIT", String(replicas.count), String(replicas.timeoutMs)]).int ?? 0
                if acked < Int64(replicas.count) {
                    throw RedisError(.unavailable, "WAIT: \(acked) of \(replicas.count) replicas acknowledged within \(replicas.timeoutMs) ms")
                }
            }
            return replies
        }
        return try replies.map { r throws(RedisError) in
            guard let a = r.array, a.count == 5, let status = a[0].int, let acc = a[1].int, let dup = a[2].int,
                  let first = a[3].int, let last = a[4].int else {
                throw RedisError(.server, "ingest script: unexpected reply \(r)")
            }
            return status == 1 ? .overloaded
                : .stored(accepted: Int(acc), duplicates: Int(dup), firstSeq: first, lastSeq: last)
        }
    }

    public func isReachable() -> Bool { client.ping() }
}
