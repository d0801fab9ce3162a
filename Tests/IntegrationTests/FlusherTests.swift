import EESCore
import EESCrypto
import EESFlusher
import EESObjectStore
import EESRedis
import Foundation
import Testing

/// The flush protocol against a real Redis (EES_TEST_REDIS_URL) and a file object store.
@Suite struct FlusherTests {
    let keys = RedisKeys(prefix: "it-flush-\(UInt32.random(in: 0...UInt32.max))")

    func redis() throws -> RedisClient {
        guard let url = ProcessInfo.processInfo.environment["EES_TEST_REDIS_URL"] else {
            throw TestEnvironmentError("EES_TEST_REDIS_URL is not set: start the test services (scripts/services start)")
        }
        return RedisClient(config: try RedisConfig(url: url))
    }

    func tempStore() throws -> FileObjectStore {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ees-flush-\(UUID().uuidString)").path
        let store = FileObjectStore(root: dir)
        try store.createRootIfMissing()
        return store
    }

    /// Appends `count` events to `stream` through the real ingest script.
    func ingest(_ client: RedisClient, stream: String, count: Int, idPrefix: String) throws -> ChunkResult {
        let store = RedisIngestStore(client: client, keys: keys, window: DedupWindow(widthMs: 600_000), limits: BufferLimits(),
                                     partitions: 4)
        var ids = [UInt8]()
        var events = [UInt8]()
        for i in 0..<count {
            DedupID.append(deviceID: "dev", eventID: Array("\(idPrefix)\(i)".utf8), to: &ids)
            if i > 0 { events.append(0x0A) }
            events += Array(#"{"event_id":"\#(idPrefix)\#(i)","event_type":"t","ts_device_ms":1,"payload":{"temperature":\#(i)}}"#.utf8)
        }
        let chunk = ChunkWrite(streamKey: stream, deviceID: "dev", batchID: "b-\(idPrefix)", tsIngestMs: 1_000, dedupIDs: ids,
                               events: events, count: count)
        return try store.append([chunk])[0]
    }

    @Test func staleLeaderIsFencedAtBeginAndCommit() throws {
        let client = try redis()
        let store = RedisFlushStore(client: client, keys: keys)
        _ = try ingest(client, stream: "s", count: 5, idPrefix: "a")
        let p = 2
        let a = try #require(try store.acquire(partition: p, node: "a", ttlMs: 60_000))
        #expect(try store.acquire(partition: p, node: "b", ttlMs: 60_000) == nil, "the lease is exclusive")
        #expect(try store.begin(stream: "s", range: SeqRange(start: 1, end: 5), fence: a) == .flush(SeqRange(start: 1, end: 5)))

        // A's lease lapses (as after a long pause); B takes the partition with a higher epoch.
        _ = try client.command(["DEL", keys.lease(partition: p)])
        let b = try #require(try store.acquire(partition: p, node: "b", ttlMs: 60_000))
        #expect(b.epoch == a.epoch + 1)
        #expect(try !store.renew(a, ttlMs: 60_000))
        #expect(try store.commit(stream: "s", range: SeqRange(start: 1, end: 5), segmentKey: "k", bytes: 1, newestTsMs: 1,
                                 fence: a, notificationsMax: 100) == .fenced)
        #expect(try store.begin(stream: "s", range: SeqRange(start: 1, end: 5), fence: a) == .fenced)
        #expect(try store.state(stream: "s").flushedSeq == 0, "nothing was committed by the stale leader")

        // B finds A's pending range and must flush exactly that.
        #expect(try store.begin(stream: "s", range: SeqRange(start: 1, end: 3), fence: b) == .flush(SeqRange(start: 1, end: 5)))
        let entries = try store.entries(stream: "s", fromSeq: 1, toSeq: 5, limit: 10)
        #expect(try store.commit(stream: "s", range: SeqRange(start: 1, end: 5), segmentKey: "k", bytes: entries[0].events.count,
                                 newestTsMs: 1, fence: b, notificationsMax: 100) == .committed)
        let st = try store.state(stream: "s")
        #expect(st.flushedSeq == 5 && st.pending == nil && st.bufferedEvents == 0 && st.bufferedBytes == 0)
        #expect(try client.command(["XLEN", keys.buffer("s")]).int == 0, "the flushed entries were trimmed")
        #expect(try client.command(["XLEN", keys.notifications(partition: p)]).int == 1)
        // A second commit of the same range is refused: it is no longer pending.
        #expect(try store.commit(stream: "s", range: SeqRange(start: 1, end: 5), segmentKey: "k", bytes: 1, newestTsMs: 1,
                                 fence: b, notificationsMax: 100) == .notPending)
        try store.release(b)
        #expect(try client.command(["EXISTS", keys.lease(partition: p)]).int == 0)
    }

    @Test func flusherWritesContiguousSegmentsAndEmptiesTheBuffers() throws {
        let client = try redis()
        let objects = try tempStore()
        var expected: [String: Int] = [:]
        for (n, stream) in ["s-a", "s-b", "s-c"].enumerated() {
            for round in 0..<3 {
                _ = try ingest(client, stream: stream, count: 7 + n, idPrefix: "r\(round)-")
                expected[stream, default: 0] += 7 + n
            }
        }
        var config = FlusherConfig()
        config.partitions = 4
        config.policy.eventsMax = 10
        config.policy.ageMaxMs = 1
        config.leaseTTLMs = 2000
        config.pollMs = 10
        config.nodeID = "it-\(keys.prefix)"
        let flusher = try Flusher(config: config, store: RedisFlushStore(client: client, keys: keys), objects: objects,
                                  metrics: MetricsRegistry(), logger: Logger(minimum: .error))
        flusher.start()
        defer { flusher.stop() }
        let deadline = Date().addingTimeInterval(20)
        func drained() throws -> Bool {
            try expected.keys.allSatisfy { try RedisFlushStore(client: client, keys: keys).state(stream: $0).bufferedEvents == 0 }
        }
        while try !drained() && Date() < deadline { usleep(20_000) }
        #expect(try drained(), "buffers drained within 20 s")

        for (stream, count) in expected {
            let segKeys = try objects.list(prefix: SegmentFormat.streamPrefix(stream), startAfter: nil, limit: 1000)
            var seqs: [Int64] = []
            for key in segKeys {
                let range = try #require(SegmentFormat.range(ofKey: key))
                let lines = try #require(try objects.get(key: key)).split(separator: 0x0A)
                #expect(lines.count == range.count)
                seqs += lines.compactMap { SegmentFormat.seq(ofLine: $0) }
            }
            #expect(seqs == Array(1...Int64(count)), "\(stream): seqs 1...\(count) once each, in order")
            let indexed = try client.command(["ZRANGE", keys.segments(stream), "0", "-1"]).array?.compactMap(\.text) ?? []
            #expect(indexed.sorted() == segKeys.sorted(), "every object is in the index and vice versa")
        }
    }
}

struct TestEnvironmentError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
