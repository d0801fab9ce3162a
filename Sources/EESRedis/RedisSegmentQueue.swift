import EESCore

/// The processor's side of the segment notifications (`ees:p:{n}:segments`, one stream per
/// partition) as a Redis consumer group, plus the processor's output streams (dead letters,
/// derived events).
///
/// Reads use one XREADGROUP over every partition's stream, so this needs standalone Redis (the
/// partitions' hash tags differ; see docs/decisions/0004-redis-topology.md).
public final class RedisSegmentQueue: Sendable {
    /// One notification delivered to this consumer.
    public struct Entry: Sendable, Equatable {
        public let partition: Int
        public let id: String
        public let fields: [String: String]
        /// Times Redis has delivered it (1 on the first read; each XAUTOCLAIM adds one).
        public let deliveries: Int

        public init(partition: Int, id: String, fields: [String: String], deliveries: Int) {
            self.partition = partition
            self.id = id
            self.fields = fields
            self.deliveries = deliveries
        }
    }

    /// What one XAUTOCLAIM sweep over all partitions found.
    public struct Claimed: Sendable, Equatable {
        public var entries: [Entry] = []
        /// Pending entries that were trimmed from their stream (MAXLEN) before anyone acked them:
        /// Redis drops them from the pending list; their segments were never processed.
        public var trimmed: [(partition: Int, id: String)] = []

        public static func == (a: Claimed, b: Claimed) -> Bool {
            a.entries == b.entries && a.trimmed.map { "\($0.partition)/\($0.id)" } == b.trimmed.map { "\($0.partition)/\($0.id)" }
        }
    }

    public let client: RedisClient
    public let keys: RedisKeys
    public let partitions: Int
    public let group: String
    private let streamKeys: [String]
    private let partitionOfKey: [String: Int]

    public init(client: RedisClient, keys: RedisKeys, partitions: Int, group: String = "processor") {
        precondition(partitions > 0)
        self.client = client
        self.keys = keys
        self.partitions = partitions
        self.group = group
        streamKeys = (0..<partitions).map { keys.notifications(partition: $0) }
        partitionOfKey = Dictionary(uniqueKeysWithValues: streamKeys.enumerated().map { ($1, $0) })
    }

    /// Creates the group on every partition's stream (and the stream itself), starting at the
    /// beginning so notifications written before the first processor started are processed too.
    /// An existing group is left as it is.
    public func ensureGroups() throws(RedisError) {
        let replies = try client.pipeline(streamKeys.map { redisArgs("XGROUP", "CREATE", $0, group, "0", "MKSTREAM") })
        for r in replies {
            if case .error(let e) = r, !e.hasPrefix("BUSYGROUP") { throw RedisError(.server, "XGROUP CREATE: \(e)") }
        }
    }

    /// New entries for `consumer`: at most `count` per partition, waiting at most `blockMs` when
    /// there are none. Empty on timeout.
    public func read(consumer: String, count: Int, blockMs: Int) throws(RedisError) -> [Entry] {
        let args = ["XREADGROUP", "GROUP", group, consumer, "COUNT", String(count), "BLOCK", String(blockMs), "STREAMS"]
            + streamKeys + Array(repeating: ">", count: streamKeys.count)
        let reply = try client.command(args)
        if case .error(let e) = reply { throw RedisError(.server, "XREADGROUP: \(e)") }
        guard case .array(let streams) = reply else { return [] }   // null: timed out
        var out: [Entry] = []
        for s in streams {
            guard let pair = s.array, pair.count == 2, let key = pair[0].text, let p = partitionOfKey[key],
                  let items = pair[1].array else {
                throw RedisError(.protocolViolation, "XREADGROUP: unexpected reply")
            }
            for item in items { if let e = try entry(item, partition: p, deliveries: 1) { out.append(e) } }
        }
        return out
    }

    /// Takes over entries idle for at least `minIdleMs` on every partition (at most `count` scanned
    /// per partition per call; `cursors` carries each partition's XAUTOCLAIM position between
    /// calls) and reports their delivery counts.
    public func claimIdle(consumer: String, minIdleMs: Int, count: Int, cursors: inout [String]) throws(RedisError) -> Claimed {
        precondition(cursors.count == partitions)
        let replies = try client.pipeline((0..<partitions).map {
            redisArgs("XAUTOCLAIM", streamKeys[$0], group, consumer, String(minIdleMs), cursors[$0], "COUNT", String(count))
        })
        var claimed = Claimed()
        var byPartition: [Int: [(id: String, fields: [String: String])]] = [:]
        for (p, r) in replies.enumerated() {
            if case .error(let e) = r { throw RedisError(.server, "XAUTOCLAIM: \(e)") }
            guard let a = r.array, a.count >= 2, let next = a[0].text, let items = a[1].array else {
                throw RedisError(.protocolViolation, "XAUTOCLAIM: unexpected reply")
            }
            cursors[p] = next
            for item in items {
                if let e = try entry(item, partition: p, deliveries: 0) { byPartition[p, default: []].append((e.id, e.fields)) }
            }
            for id in (a.count > 2 ? a[2].array ?? [] : []) { if let id = id.text { claimed.trimmed.append((p, id)) } }
        }
        guard !byPartition.isEmpty else { return claimed }
        // Delivery counts: XAUTOCLAIM does not return them; the pending list does (one exact
        // lookup per entry, pipelined).
        let wanted = byPartition.keys.sorted().flatMap { p in byPartition[p]!.map { (p, $0.id, $0.fields) } }
        let pending = try client.pipeline(wanted.map { p, id, _ in
            redisArgs("XPENDING", streamKeys[p], group, id, id, "1", consumer)
        })
        for (i, (p, id, fields)) in wanted.enumerated() {
            // Absent from the list: acked by its old owner meanwhile; nothing to do.
            guard let row = pending[i].array?.first?.array, row.count == 4, let n = row[3].int else { continue }
            claimed.entries.append(Entry(partition: p, id: id, fields: fields, deliveries: Int(n)))
        }
        return claimed
    }

    /// Resets the idle time of entries this consumer is still working on, so other processors do
    /// not claim them (`XCLAIM … JUSTID` leaves the delivery count alone). Entries idle less than
    /// `minIdleMs` are left alone: one that another consumer has just claimed is not taken back.
    public func touch(consumer: String, _ entries: [Entry], minIdleMs: Int) throws(RedisError) {
        let byPartition = Dictionary(grouping: entries, by: \.partition)
        guard !byPartition.isEmpty else { return }
        _ = try client.pipeline(byPartition.keys.sorted().map { p in
            redisArgs("XCLAIM", streamKeys[p], group, consumer, String(minIdleMs)) + byPartition[p]!.map { Array($0.id.utf8) }
                + redisArgs("JUSTID")
        })
    }

    public func ack(_ entry: Entry) throws(RedisError) {
        let r = try client.command(["XACK", streamKeys[entry.partition], group, entry.id])
        if case .error(let e) = r { throw RedisError(.server, "XACK: \(e)") }
    }

    /// Appends entries to a bounded stream (`MAXLEN ~ maxLen`), pipelined in one round trip.
    public func append(to stream: String, _ entries: [[(String, String)]], maxLen: Int) throws(RedisError) {
        guard !entries.isEmpty else { return }
        let replies = try client.pipeline(entries.map { fields in
            redisArgs("XADD", stream, "MAXLEN", "~", String(maxLen), "*") + fields.flatMap { [Array($0.0.utf8), Array($0.1.utf8)] }
        })
        for r in replies { if case .error(let e) = r { throw RedisError(.server, "XADD: \(e)") } }
    }

    /// Removes consumers of the group that hold no entries and have not read for `idleMs` (dead
    /// processes: every process has its own consumer name), so the group does not grow forever.
    /// Returns how many were removed.
    @discardableResult
    public func removeIdleConsumers(idleMs: Int) throws(RedisError) -> Int {
        let infos = try client.pipeline(streamKeys.map { redisArgs("XINFO", "CONSUMERS", $0, group) })
        var deletions: [[[UInt8]]] = []
        for (p, info) in infos.enumerated() {
            for c in info.array ?? [] {
                let f = c.fieldMap
                if let name = f["name"], f["pending"].flatMap({ Int($0) }) == 0, let idle = f["idle"].flatMap({ Int($0) }),
                   idle >= idleMs {
                    deletions.append(redisArgs("XGROUP", "DELCONSUMER", streamKeys[p], group, name))
                }
            }
        }
        guard !deletions.isEmpty else { return 0 }
        _ = try client.pipeline(deletions)
        return deletions.count
    }

    /// `[id, [field, value, …]]` → an entry; nil for an entry whose fields are gone.
    private func entry(_ item: RedisReply, partition: Int, deliveries: Int) throws(RedisError) -> Entry? {
        guard let pair = item.array, pair.count == 2, let id = pair[0].text else {
            throw RedisError(.protocolViolation, "stream entry: unexpected shape")
        }
        guard pair[1].array != nil else { return nil }
        return Entry(partition: partition, id: id, fields: pair[1].fieldMap, deliveries: deliveries)
    }
}
