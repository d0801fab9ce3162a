import EESCore
import EESCrypto
import EESIngest
import EESRedis
import EESTestSupport
import Foundation
import Synchronization
import Testing

/// The ingest node in-process against the real redis-server at EES_TEST_REDIS_URL, spoken to over
/// HTTP. Each test has its own node, port and key prefix, and deletes its keys when done.
@Suite struct IngestTests {
    // MARK: sequences and dedup

    @Test func seqsAreGapFreeAndMonotonicUnderConcurrency() throws {
        try withNode({ $0.rate.eventsPerSecond = 0; $0.http.threads = 8 }) { n in
            let key = try n.addDevice("dev-c")
            let threads = 8, requests = 500, perRequest = 3
            let ranges = Mutex<[(first: Int, last: Int)]>([])
            let failures = Mutex<[String]>([])
            let group = DispatchGroup()
            for t in 0..<threads {
                group.enter()
                let port = n.port
                let thread = Thread {
                    defer { group.leave() }
                    do {
                        let conn = try RawHTTPConnection(port: port)   // one keep-alive connection per thread
                        for r in 0..<requests {
                            let events = (0..<perRequest).map { ev("t\(t)-r\(r)-e\($0)") }
                            let reply = try conn.request("POST", "/ingest", headers: TestNode.headers(device: "dev-c", key: key),
                                                         body: Array(batchBody(device: "dev-c", events: events).utf8))
                            guard reply.status == 200, reply.int("accepted_count") == perRequest,
                                  let first = reply.int("first_seq"), let last = reply.int("last_seq") else {
                                failures.withLock { $0.append("thread \(t) request \(r): \(reply)") }
                                return
                            }
                            ranges.withLock { $0.append((first, last)) }
                        }
                    } catch {
                        failures.withLock { $0.append("thread \(t): \(error)") }
                    }
                }
                thread.start()
            }
            #expect(group.wait(timeout: .now() + 300) == .success, "requests did not finish in time")
            try #require(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(3) })")

            let total = threads * requests * perRequest
            // Every response got its own range of exactly its events, and the ranges tile 1...total.
            let sorted = ranges.withLock { $0 }.sorted { $0.first < $1.first }
            #expect(sorted.count == threads * requests)
            var next = 1
            for r in sorted {
                #expect(r.first == next && r.last == r.first + perRequest - 1, "range \(r) after \(next - 1)")
                next = r.last + 1
            }
            #expect(next == total + 1)

            // The buffer: one entry per request, entry id = first seq, n fields summing to N, seqs
            // 1...N exactly once, each entry holding its n events.
            let entries = try n.buffer("dev-c")
            #expect(entries.count == threads * requests)
            var expected = 1
            var sum = 0
            for e in entries {
                #expect(e.id == "\(expected)-0")
                #expect(e.n == perRequest)
                #expect(e.ev.split(separator: "\n").count == e.n)
                expected += e.n
                sum += e.n
            }
            #expect(sum == total)
            #expect(try n.seq("dev-c") == Int64(total))
            #expect(Set(entries.map(\.id)) == Set(sorted.map { "\($0.first)-0" }))
        }
    }

    @Test func resentBatchIsAllDuplicatesAndStoresNothing() throws {
        try withNode { n in
            let key = try n.addDevice("dev-r")
            let body = batchBody(device: "dev-r", batch: "b-1", events: [ev("e1"), ev("e2"), ev("e3")])
            let first = try n.post(body, device: "dev-r", key: key)
            #expect(first.status == 200)
            #expect(first.int("accepted_count") == 3 && first.int("duplicate_count") == 0)
            #expect(first.int("first_seq") == 1 && first.int("last_seq") == 3)
            let before = try n.snapshot()

            let again = try n.post(body, device: "dev-r", key: key)
            #expect(again.status == 200)
            #expect(again.int("accepted_count") == 0)
            #expect(again.int("duplicate_count") == 3)
            #expect(again.isNull("first_seq") && again.isNull("last_seq"))
            #expect(again.streams.count == 1)
            #expect(again.streams.first?["first_seq"] is NSNull)
            #expect(try n.snapshot() == before, "a duplicate-only request must not change Redis")
            #expect(try n.buffer("dev-r").count == 1)
        }
    }

    @Test func mixedBatchStoresOnlyNewEventsInOrder() throws {
        try withNode { n in
            let key = try n.addDevice("dev-m")
            #expect(try n.post(batchBody(device: "dev-m", events: [ev("e1"), ev("e2")]), device: "dev-m", key: key).status == 200)
            // e1, e2 seen before; the second e3 repeats one within the request.
            let events = [ev("e0", payload: "{\"n\":0}"), ev("e1"), ev("e3", payload: "{\"n\":3}"), ev("e2"),
                          ev("e4", payload: "{\"n\":4}"), ev("e3", payload: "{\"n\":33}")]
            let reply = try n.post(batchBody(device: "dev-m", batch: "b-2", events: events), device: "dev-m", key: key)
            #expect(reply.status == 200)
            #expect(reply.int("accepted_count") == 3)
            #expect(reply.int("duplicate_count") == 3)
            #expect(reply.int("first_seq") == 3 && reply.int("last_seq") == 5)
            let entries = try n.buffer("dev-m")
            #expect(entries.map(\.id) == ["1-0", "3-0"])
            let last = try #require(entries.last)
            #expect(last.n == 3)
            #expect(last.ev == [events[0], events[2], events[4]].joined(separator: "\n"))
            #expect(last.text("dev") == "dev-m")
            #expect(last.text("batch") == "b-2")
            let ts = Int64(last.text("ts") ?? "") ?? 0
            #expect(abs(ts - Int64(Date().timeIntervalSince1970 * 1000)) < 60_000, "ts is the ingest time in ms")
        }
    }

    @Test func eventsAreStoredExactlyAsSent() throws {
        try withNode { n in
            let key = try n.addDevice("dev-x")
            let odd = #"{ "event_id" : "é\"1\u00e9😀" , "event_type":"reading","ts_device_ms":1,"payload":{"s":"a\nb\t\u0000","n":[1.50,-0,1e2,18446744073709551616]}, "extra":{"k":null} }"#
            let pretty = "{\n  \"event_id\": \"p1\",\r\n  \"event_type\": \"reading\",\n  \"ts_device_ms\": 2,\n  \"payload\": {}\n}"
            let body = "{\"device_id\":\"dev-x\",\"batch_id\":\"b\",\"sent_at_ms\":0,\"events\":[\n  " + odd + " ,\n  " + pretty + "\n]}\n"
            let reply = try n.post(body, device: "dev-x", key: key)
            #expect(reply.status == 200, "\(reply)")
            let entry = try #require(try n.buffer("dev-x").first)
            let lines = entry.ev.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            #expect(lines.count == 2)
            #expect(lines.first == odd, "byte for byte, escapes and inner whitespace included")
            // Raw line breaks inside an event are insignificant whitespace: they become spaces so the
            // buffer stays one event per line, and the length is kept.
            #expect(lines.last == pretty.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " "))
            #expect(lines.last?.utf8.count == pretty.utf8.count)
        }
    }

    @Test func dedupWindowRemembersIdsBetweenWAnd2W() throws {
        // The node's clock is manual: ingest time, dedup buckets, cache and rate limiter follow it.
        let time = ManualTime(nowMs: 1_700_000_000_000)   // a multiple of W: the start of a bucket
        let n = try TestNode(time: time) { $0.dedupWindowMs = 10_000 }
        defer { n.stop() }
        let key = try n.addDevice("dev-w")
        func send(_ id: String) throws -> HTTPReply {
            try n.post(batchBody(device: "dev-w", events: [ev(id)]), device: "dev-w", key: key)
        }
        #expect(try send("e1").int("accepted_count") == 1)
        let bucket = 1_700_000_000_000 / 10_000
        // The id went into the current bucket's set, which expires after 2W (20 s).
        let set = n.keys.dedup("dev-w", bucket: Int64(bucket))
        #expect(try n.command("SCARD", set).int == 1)
        let ttl = try #require(try n.command("TTL", set).int)
        #expect((19...20).contains(ttl))
        time.advance(ms: 9_999)      // same bucket
        #expect(try send("e1").int("duplicate_count") == 1)
        time.advance(ms: 10_000)     // next bucket: e1 is in the previous one
        #expect(try send("e1").int("duplicate_count") == 1)
        time.advance(ms: 1)          // two buckets later: forgotten (remembered W to 2W)
        let again = try send("e1")
        #expect(again.int("accepted_count") == 1)
        #expect(again.int("first_seq") == 2)
        // The stored entry carries the node's ingest time.
        #expect(try n.buffer("dev-w").last?.text("ts") == String(1_700_000_020_000))
    }

    // MARK: streams

    @Test func twoStreamsInOneRequest() throws {
        try withNode { n in
            let key = try n.addDevice("dev-s", streamKey: "dev-stream")
            let events = [ev("a1", streamKey: "stream-a"), ev("d1"), ev("a2", streamKey: "stream-a"), ev("d2")]
            let reply = try n.post(batchBody(device: "dev-s", events: events), device: "dev-s", key: key)
            #expect(reply.status == 200)
            #expect(reply.int("accepted_count") == 4)
            #expect(reply.isNull("first_seq"), "no single range when a request spans streams")
            let streams = reply.streams
            #expect(streams.count == 2)
            #expect(streams.first?["stream_key"] as? String == "stream-a")
            #expect(streams.first?["first_seq"] as? Int == 1 && streams.first?["last_seq"] as? Int == 2)
            #expect(streams.last?["stream_key"] as? String == "dev-stream")
            #expect(streams.last?["first_seq"] as? Int == 1 && streams.last?["last_seq"] as? Int == 2)
            let a = try n.buffer("stream-a"), d = try n.buffer("dev-stream")
            #expect(a.count == 1 && d.count == 1)
            #expect(a.first?.ev == events[0] + "\n" + events[2])
            #expect(d.first?.ev == events[1] + "\n" + events[3])
            #expect(try n.buffer("dev-s").isEmpty, "the device id is only the last fallback")
            // Both streams are marked dirty in their partitions.
            for s in ["stream-a", "dev-stream"] {
                let dirty = n.keys.dirty(partition: Partitioning.partition(of: s, count: 16))
                #expect(try n.command("ZSCORE", dirty, s).text != nil, "\(s) in \(dirty)")
            }
            // The next request continues each stream's own sequence.
            let more = try n.post(batchBody(device: "dev-s", events: [ev("a3", streamKey: "stream-a")]), device: "dev-s", key: key)
            #expect(more.int("first_seq") == 3 && more.int("last_seq") == 3)
        }
    }

    @Test func streamKeyResolutionOrder() throws {
        try withNode { n in
            let key = try n.addDevice("dev-o", streamKey: "from-device")
            let r = try n.post(batchBody(device: "dev-o", streamKey: "from-request", events: [ev("1"), ev("2", streamKey: "from-event")]),
                               device: "dev-o", key: key)
            #expect(r.streams.compactMap { $0["stream_key"] as? String } == ["from-request", "from-event"])
            let plain = try n.addDevice("dev-p")
            let p = try n.post(batchBody(device: "dev-p", events: [ev("1")]), device: "dev-p", key: plain)
            #expect(p.streams.compactMap { $0["stream_key"] as? String } == ["dev-p"])
            #expect(try n.buffer("from-request").count == 1 && n.buffer("from-event").count == 1 && n.buffer("dev-p").count == 1)
            #expect(try n.buffer("from-device").isEmpty)
        }
    }

    // MARK: authentication

    @Test func authFailuresAre401WithOneShapeAndWriteNothing() throws {
        try withNode { n in
            let key = try n.addDevice("dev-a")
            let offKey = try n.addDevice("dev-off")
            var off = try #require(try n.registry.device(id: "dev-off"))
            off.status = .disabled
            try n.registry.update(off)
            let before = try n.snapshot()
            let body = { (d: String) in batchBody(device: d, events: [ev("e1")]) }
            let cases: [(String, String?, String?, String)] = [
                ("unknown device", "dev-ghost", key, body("dev-ghost")),
                ("wrong key", "dev-a", APIKeys.generate(), body("dev-a")),
                ("key of another device", "dev-a", offKey, body("dev-a")),
                ("disabled device", "dev-off", offKey, body("dev-off")),
                ("missing x-device-id", nil, key, body("dev-a")),
                ("missing x-api-key", "dev-a", nil, body("dev-a")),
                ("missing both", nil, nil, body("dev-a")),
                ("empty key", "dev-a", "", body("dev-a")),
                ("device id not an identifier", "dev a", key, body("dev a")),
                ("bad body and bad key", "dev-a", "nope", "{not json"),
            ]
            var shapes = Set<String>()
            for (name, device, apiKey, b) in cases {
                let r = try n.post(b, device: device, key: apiKey)
                #expect(r.status == 401, "\(name): \(r)")
                #expect(Set(r.json.keys) == ["error", "message", "request_id"], "\(name)")
                #expect(r.string("error") == "unauthorized")
                #expect(r.headers["x-request-id"] == r.string("request_id"))
                shapes.insert(r.string("message") ?? "?")
                #expect(r.headers["retry-after"] == nil)
            }
            #expect(shapes == ["invalid credentials"], "the reason is never returned")
            #expect(try n.snapshot() == before)
            // The reasons are counted (bounded label set), never shown to the client.
            #expect(try n.metric("ees_ingest_rejected_total{reason=\"wrong_key\"}") == 3)
            #expect(try n.metric("ees_ingest_rejected_total{reason=\"device_disabled\"}") == 1)
            #expect(try n.metric("ees_ingest_rejected_total{reason=\"missing_credentials\"}") == 4)
            // And the good device still gets in.
            #expect(try n.post(body("dev-a"), device: "dev-a", key: key).status == 200)
        }
    }

    @Test func headerAndBodyDeviceMustMatch() throws {
        try withNode { n in
            let key = try n.addDevice("dev-h")
            try n.addDevice("dev-other")
            let before = try n.snapshot()
            let r = try n.post(batchBody(device: "dev-other", events: [ev("e1")]), device: "dev-h", key: key)
            #expect(r.status == 400)
            #expect(r.string("message") == "device_id: does not match the x-device-id header")
            #expect(try n.snapshot() == before)
        }
    }

    /// Waits until the node's invalidation listener is subscribed, so a PUBLISH cannot be missed.
    func waitForSubscriber(_ n: TestNode) throws {
        let subscribed = try eventually(within: 10) {
            let r = try n.command("PUBSUB", "NUMSUB", n.keys.deviceInvalidationChannel)
            return (r.array?.last?.int ?? 0) >= 1
        }
        try #require(subscribed, "the node never subscribed to \(n.keys.deviceInvalidationChannel)")
    }

    @Test func disablingTakesEffectOnInvalidationWithoutWaitingForTheTTL() throws {
        try withNode({ $0.cache.ttlMs = 600_000 }) { n in
            let key = try n.addDevice("dev-d")
            try waitForSubscriber(n)
            #expect(try n.post(batchBody(device: "dev-d", events: [ev("e0")]), device: "dev-d", key: key).status == 200)
            var record = try #require(try n.registry.device(id: "dev-d"))
            record.status = .disabled
            let start = Date()
            try n.registry.update(record)
            var i = 0
            let refused = try eventually(within: 5) {
                i += 1
                return try n.post(batchBody(device: "dev-d", events: [ev("p\(i)")]), device: "dev-d", key: key).status == 401
            }
            #expect(refused, "still accepted 5 s after the invalidation (cache TTL is 10 min)")
            #expect(Date().timeIntervalSince(start) < 5)
            // Enabling again works the same way.
            record.status = .active
            try n.registry.update(record)
            #expect(try eventually(within: 5) {
                i += 1
                return try n.post(batchBody(device: "dev-d", events: [ev("q\(i)")]), device: "dev-d", key: key).status == 200
            })
        }
    }

    @Test func aDeviceAddedAfterAFailedAttemptIsAcceptedAtOnce() throws {
        // An unknown device is cached as unknown (negative TTL); creating it must drop that entry,
        // or a freshly provisioned device is refused until the negative TTL runs out.
        try withNode({ $0.cache.negativeTTLMs = 600_000 }) { n in
            try waitForSubscriber(n)
            let early = try n.post(batchBody(device: "dev-new", events: [ev("e0")]), device: "dev-new", key: APIKeys.generate())
            #expect(early.status == 401)
            let key = try n.addDevice("dev-new")
            var i = 0
            #expect(try eventually(within: 5) {
                i += 1
                return try n.post(batchBody(device: "dev-new", events: [ev("e\(i)")]), device: "dev-new", key: key).status == 200
            }, "a new device is refused until the negative cache entry expires")
        }
    }

    @Test func rotatedKeyTakesEffectOnInvalidation() throws {
        try withNode({ $0.cache.ttlMs = 600_000 }) { n in
            let old = try n.addDevice("dev-k")
            try waitForSubscriber(n)
            #expect(try n.post(batchBody(device: "dev-k", events: [ev("e0")]), device: "dev-k", key: old).status == 200)
            let new = APIKeys.generate()
            var record = try #require(try n.registry.device(id: "dev-k"))
            record.apiKeyHash = APIKeys.hash(new)
            try n.registry.update(record)
            #expect(try eventually(within: 5) {
                try n.post(batchBody(device: "dev-k", events: [ev("e1")]), device: "dev-k", key: new).status == 200
            })
            #expect(try n.post(batchBody(device: "dev-k", events: [ev("e2")]), device: "dev-k", key: old).status == 401)
        }
    }

    @Test func invalidationsArrivingTogetherAreAllApplied() throws {
        // Several invalidations in one TCP read must all be applied, not only the first one.
        try withNode({ $0.cache.ttlMs = 600_000 }) { n in
            let ids = ["dev-i1", "dev-i2", "dev-i3"]
            var keys: [String: String] = [:]
            for id in ids { keys[id] = try n.addDevice(id) }
            try waitForSubscriber(n)
            for id in ids { #expect(try n.post(batchBody(device: id, events: [ev("e0")]), device: id, key: keys[id]).status == 200) }
            // Disable all three in Redis, then publish the three invalidations in one pipeline.
            var publish: [[[UInt8]]] = []
            for id in ids {
                _ = try n.command("HSET", n.keys.device(id), "status", "disabled")
                publish.append(redisArgs("PUBLISH", n.keys.deviceInvalidationChannel, id))
            }
            _ = try n.redis.pipeline(publish)
            for id in ids {
                var i = 0
                let refused = try eventually(within: 5) {
                    i += 1
                    return try n.post(batchBody(device: id, events: [ev("p\(i)")]), device: id, key: keys[id]).status == 401
                }
                #expect(refused, "\(id) still accepted after its invalidation was published")
            }
        }
    }

    // MARK: bodies, encodings, content types

    @Test func oversizedBodiesAre413() throws {
        try withNode({ $0.limits.bodyBytesMax = 4096 }) { n in
            let key = try n.addDevice("dev-big")
            let before = try n.snapshot()
            // Padded with an unknown top-level field to an exact size.
            func sized(_ size: Int) -> [UInt8] {
                let head = "{\"device_id\":\"dev-big\",\"batch_id\":\"b\",\"sent_at_ms\":1,\"events\":[" + ev("e-\(size)") + "],\"pad\":\""
                return Array((head + String(repeating: "x", count: size - head.utf8.count - 2) + "\"}").utf8)
            }
            #expect(sized(4097).count == 4097)
            let declared = try n.post(bytes: sized(4097), device: "dev-big", key: key)
            #expect(declared.status == 413)
            #expect(declared.string("error") == "payload_too_large")
            let chunked = try RawHTTPConnection(port: n.port).requestChunked("/ingest", headers: TestNode.headers(device: "dev-big", key: key),
                                                                          body: sized(4097), chunkBytes: 1000)
            #expect(chunked.status == 413, "\(chunked)")
            let huge = try RawHTTPConnection(port: n.port).requestChunked("/ingest", headers: TestNode.headers(device: "dev-big", key: key),
                                                                       body: [UInt8](repeating: 0x20, count: 1 << 20), chunkBytes: 65536)
            #expect(huge.status == 413)
            #expect(try n.snapshot() == before)
            // Exactly the limit is fine, declared or chunked.
            #expect(try n.post(bytes: sized(4096), device: "dev-big", key: key).status == 200)
            let exact = try RawHTTPConnection(port: n.port).requestChunked("/ingest", headers: TestNode.headers(device: "dev-big", key: key),
                                                                        body: sized(4095), chunkBytes: 1000)
            #expect(exact.status == 200, "\(exact)")
        }
    }

    @Test func gzipBodyIsAccepted() throws {
        try withNode { n in
            let key = try n.addDevice("dev-gz")
            let events = [ev("g1"), ev("g2", payload: "{\"s\":\"" + String(repeating: "ab", count: 2000) + "\"}")]
            let packed = try gzip(Array(batchBody(device: "dev-gz", events: events).utf8))
            let r = try n.post(bytes: packed, device: "dev-gz", key: key, headers: [("Content-Encoding", "gzip")])
            #expect(r.status == 200, "\(r)")
            #expect(r.int("accepted_count") == 2)
            #expect(try n.buffer("dev-gz").first?.ev == events.joined(separator: "\n"))
            let upper = try n.post(bytes: try gzip(Array(batchBody(device: "dev-gz", events: [ev("g3")]).utf8)), device: "dev-gz", key: key,
                                   headers: [("Content-Encoding", "GZIP")])
            #expect(upper.status == 200)
            let identity = try n.post(batchBody(device: "dev-gz", events: [ev("g4")]), device: "dev-gz", key: key,
                                      headers: [("Content-Encoding", "identity")])
            #expect(identity.status == 200)
        }
    }

    @Test func gzipBombIs413AndCorruptGzipIs400() throws {
        try withNode({ $0.limits.bodyBytesMax = 64 << 10 }) { n in
            let key = try n.addDevice("dev-bomb")
            let before = try n.snapshot()
            let bomb = try gzip([UInt8](repeating: 0x20, count: 32 << 20), level: 9)
            #expect(bomb.count < 64 << 10, "the bomb itself is under the limit")
            let r = try n.post(bytes: bomb, device: "dev-bomb", key: key, headers: [("Content-Encoding", "gzip")])
            #expect(r.status == 413, "\(r)")
            #expect(r.string("message") == "body: larger than 65536 bytes after gunzip")
            // A valid body that only passes the limit once decompressed is refused too.
            let padded = batchBody(device: "dev-bomb", events: [ev("e", payload: "{\"s\":\"" + String(repeating: "z", count: 70_000) + "\"}")])
            #expect(try n.post(bytes: try gzip(Array(padded.utf8)), device: "dev-bomb", key: key, headers: [("Content-Encoding", "gzip")]).status == 413)
            let corrupt = try n.post(bytes: Array("definitely not gzip".utf8), device: "dev-bomb", key: key, headers: [("Content-Encoding", "gzip")])
            #expect(corrupt.status == 400)
            #expect(corrupt.string("message") == "body: invalid gzip data")
            let good = try gzip(Array(batchBody(device: "dev-bomb", events: [ev("t")]).utf8))
            #expect(try n.post(bytes: Array(good.dropLast(4)), device: "dev-bomb", key: key, headers: [("Content-Encoding", "gzip")]).status == 400)
            #expect(try n.snapshot() == before)
        }
    }

    @Test func contentTypeAndEncodingAre415() throws {
        try withNode { n in
            let key = try n.addDevice("dev-ct")
            let before = try n.snapshot()
            let body = batchBody(device: "dev-ct", events: [ev("e1")])
            for ct in ["text/plain", "application/x-www-form-urlencoded", "application/jsonl", "json", ""] {
                let r = try n.post(body, device: "dev-ct", key: key, contentType: ct)
                #expect(r.status == 415, "content-type '\(ct)': \(r)")
                #expect(r.string("error") == "unsupported_media_type")
            }
            #expect(try n.post(body, device: "dev-ct", key: key, contentType: nil).status == 415)
            for enc in ["br", "deflate", "compress", "gzip, br"] {
                let r = try n.post(body, device: "dev-ct", key: key, headers: [("Content-Encoding", enc)])
                #expect(r.status == 415, "content-encoding '\(enc)': \(r)")
                #expect(r.string("message") == "content-encoding: only gzip is supported")
            }
            #expect(try n.snapshot() == before)
            // Parameters and case are fine.
            #expect(try n.post(body, device: "dev-ct", key: key, contentType: "Application/JSON; charset=utf-8").status == 200)
        }
    }

    // MARK: overload

    @Test func rateLimitIs429WithRetryAfter() throws {
        try withNode({ $0.rate.eventsPerSecond = 1; $0.rate.burstEvents = 5; $0.limits.eventsPerRequestMax = 5 }) { n in
            let key = try n.addDevice("dev-rl")
            let ok = try n.post(batchBody(device: "dev-rl", events: (1...5).map { ev("e\($0)") }), device: "dev-rl", key: key)
            #expect(ok.status == 200)
            let before = try n.snapshot()
            let r = try n.post(batchBody(device: "dev-rl", events: [ev("e6"), ev("e7")]), device: "dev-rl", key: key)
            #expect(r.status == 429)
            #expect(r.string("error") == "rate_limited")
            let retry = try #require(r.headers["retry-after"].flatMap(Int.init))
            #expect((1...2).contains(retry))
            #expect(try n.snapshot() == before, "a refused request stores nothing")
            // Another device has its own bucket.
            let other = try n.addDevice("dev-rl2")
            #expect(try n.post(batchBody(device: "dev-rl2", events: [ev("x")]), device: "dev-rl2", key: other).status == 200)
        }
    }

    @Test func bufferOverHighWaterIs503AndStoresNothing() throws {
        try withNode({ $0.limits.eventsPerRequestMax = 10; $0.buffer.highWaterEvents = 10; $0.retryAfterSeconds = 7 }) { n in
            let key = try n.addDevice("dev-hw")
            #expect(try n.post(batchBody(device: "dev-hw", events: (1...8).map { ev("e\($0)") }), device: "dev-hw", key: key).status == 200)
            let before = try n.snapshot()
            let r = try n.post(batchBody(device: "dev-hw", events: [ev("n1"), ev("n2"), ev("n3")]), device: "dev-hw", key: key)
            #expect(r.status == 503)
            #expect(r.string("error") == "unavailable")
            #expect(r.headers["retry-after"] == "7")
            #expect(try n.snapshot() == before, "nothing stored: no seq, no dedup ids, no buffer entry")
            // Duplicates do not count towards the mark; two new events exactly reach it.
            let fits = try n.post(batchBody(device: "dev-hw", events: [ev("e1"), ev("n1"), ev("n2")]), device: "dev-hw", key: key)
            #expect(fits.status == 200)
            #expect(fits.int("first_seq") == 9 && fits.int("last_seq") == 10)
            #expect(try n.post(batchBody(device: "dev-hw", events: [ev("n3")]), device: "dev-hw", key: key).status == 503)
        }
    }

    @Test func bufferOverHighWaterBytesIs503() throws {
        try withNode({ $0.limits.bodyBytesMax = 2048; $0.buffer.highWaterBytes = 2048 }) { n in
            let key = try n.addDevice("dev-hb")
            let big = { (id: String) in ev(id, payload: "{\"s\":\"" + String(repeating: "b", count: 900) + "\"}") }
            #expect(try n.post(batchBody(device: "dev-hb", events: [big("a")]), device: "dev-hb", key: key).status == 200)
            #expect(try n.post(batchBody(device: "dev-hb", events: [big("b")]), device: "dev-hb", key: key).status == 200)
            let before = try n.snapshot()
            let r = try n.post(batchBody(device: "dev-hb", events: [big("c")]), device: "dev-hb", key: key)
            #expect(r.status == 503)
            #expect(r.headers["retry-after"] == "2")
            #expect(try n.snapshot() == before)
        }
    }

    @Test func replicaShortfallIs503AndTheRetryIsDeduplicated() throws {
        // The test Redis has no replica: WAIT 1 times out with 0 acknowledgements.
        try withNode({ $0.replicas = ReplicaAck(count: 1, timeoutMs: 50) }) { n in
            let key = try n.addDevice("dev-rep")
            let body = batchBody(device: "dev-rep", events: [ev("r1"), ev("r2")])
            let r = try n.post(body, device: "dev-rep", key: key)
            #expect(r.status == 503)
            #expect(r.headers["retry-after"] != nil)
            // The events are on the primary; once acknowledged they are not stored a second time.
            #expect(try n.redis.command(["XLEN", n.keys.buffer("dev-rep")]).int == 1)
        }
        try withNode { n in
            let key = try n.addDevice("dev-rep0")
            #expect(try n.post(batchBody(device: "dev-rep0", events: [ev("r1")]), device: "dev-rep0", key: key).status == 200,
                    "without a replica requirement the same node answers 200")
        }
    }

    @Test func redisUnreachableIs503WithRetryAfter() throws {
        // A node whose Redis is a closed port (the shared Redis is never stopped by Swift tests;
        // stopping and restarting Redis is tests/e2e/10-ingest-redis-outage.sh).
        var dead = try TestRedis.config()
        dead.port = try closedPort()
        dead.connectTimeoutMs = 200
        let n = try TestNode(redisConfig: dead)
        defer { n.stop() }
        let r = try n.post(batchBody(device: "dev-u", events: [ev("e")]), device: "dev-u", key: APIKeys.generate())
        #expect(r.status == 503)
        #expect(r.string("error") == "unavailable")
        #expect(r.headers["retry-after"] == "2")
        #expect(try HTTP.get(port: n.port, "/readyz").status == 503)
        #expect(try HTTP.get(port: n.port, "/healthz").status == 200)
    }

    // MARK: bad input

    @Test func badInputGetsAPrecise4xxAndChangesNothing() throws {
        try withNode({ $0.limits.eventsPerRequestMax = 5 }) { n in
            let key = try n.addDevice("dev-b")
            #expect(try n.post(batchBody(device: "dev-b", events: [ev("seen")]), device: "dev-b", key: key).status == 200)
            let before = try n.snapshot()
            let five = (0..<4).map { ev("ok\($0)") }
            let cases: [(String, Int, String)] = [
                ("{\"device_id\":", 400, "body: malformed JSON"),
                ("", 400, "body: malformed JSON"),
                ("[]", 400, "body: must be an object"),
                (batchBody(device: "dev-b", events: five + [ev("x").replacingOccurrences(of: "\"event_id\":\"x\",", with: "")]), 400,
                 "events[4].event_id: required"),
                (batchBody(device: "dev-b", events: [ev("a"), ev("b").replacingOccurrences(of: "1700000000000", with: "\"x\"")]), 400,
                 "events[1].ts_device_ms: must be an integer"),
                (batchBody(device: "dev-b", events: [ev("a", payload: "[1]")]), 400, "events[0].payload: must be an object"),
                (batchBody(device: "dev-b", events: [ev("a", ts: -1)]), 400, "events[0].ts_device_ms: must be between 0 and 9007199254740991"),
                (batchBody(device: "dev-b", events: [ev("a", streamKey: "no spaces")]), 400,
                 "events[0].stream_key: only letters, digits and . _ : - are allowed"),
                (batchBody(device: "dev-b", events: []), 400, "events: must not be empty"),
                (batchBody(device: "dev-b", events: (0..<6).map { ev("m\($0)") }), 400, "events: at most 5 events per request"),
                (batchBody(device: "dev-b", events: [ev("a")]) + "garbage", 400, "body: malformed JSON"),
                (batchBody(device: "dev-b", events: [ev("a"), ev("b", payload: "{\"x\":\"\u{1}\"}")]), 400, "body: malformed JSON"),
                (batchBody(device: "someone-else", events: [ev("a")]), 400, "device_id: does not match the x-device-id header"),
            ]
            for (body, status, message) in cases {
                let r = try n.post(body, device: "dev-b", key: key)
                #expect(r.status == status, "\(body.prefix(60)): \(r)")
                #expect(r.string("error") == "invalid_request")
                #expect(r.string("message") == message, "\(body.prefix(60))")
                #expect(r.headers["x-request-id"] == r.string("request_id"))
            }
            // Invalid UTF-8 bytes.
            var bytes = Array(batchBody(device: "dev-b", events: [ev("XY")]).utf8)
            bytes[bytes.firstIndex(of: UInt8(ascii: "X"))!] = 0xFF
            #expect(try n.post(bytes: bytes, device: "dev-b", key: key).status == 400)
            #expect(try n.snapshot() == before)
        }
    }

    // MARK: routes, request ids, metrics

    @Test func healthReadyAndRoutes() throws {
        try withNode { n in
            let h = try HTTP.get(port: n.port, "/healthz")
            #expect(h.status == 200 && h.text == "{\"status\":\"ok\"}")
            let r = try HTTP.get(port: n.port, "/readyz")
            #expect(r.status == 200 && r.text == "{\"status\":\"ready\"}")
            #expect(try HTTP.get(port: n.port, "/nope").status == 404)
            #expect(try HTTP.get(port: n.port, "/ingest").status == 405)
            #expect(try HTTP.request(port: n.port, "POST", "/healthz", body: []).status == 405)
        }
    }

    @Test func requestIDIsKeptOrMade() throws {
        try withNode { n in
            let key = try n.addDevice("dev-id")
            let body = batchBody(device: "dev-id", events: [ev("e1")])
            let kept = try n.post(body, device: "dev-id", key: key, headers: [("X-Request-Id", "trace-abc-123")])
            #expect(kept.headers["x-request-id"] == "trace-abc-123")
            #expect(kept.string("request_id") == "trace-abc-123")
            let made = try n.post(body, device: "dev-id", key: key)
            let id = try #require(made.headers["x-request-id"])
            #expect(id.count == 32 && id.allSatisfy(\.isHexDigit))
            #expect(made.string("request_id") == id)
            for bad in ["has space", String(repeating: "x", count: 129), "quote\"d"] {
                let r = try n.post(body, device: "dev-id", key: key, headers: [("X-Request-Id", bad)])
                #expect(r.headers["x-request-id"] != bad)
                #expect(r.headers["x-request-id"]?.count == 32)
            }
            let traced = try n.post(body, device: "dev-id", key: key,
                                    headers: [("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")])
            #expect(traced.string("request_id") == "4bf92f3577b34da6a3ce929d0e0e4736", "the trace id of a W3C traceparent")
            let badTrace = try n.post(body, device: "dev-id", key: key, headers: [("traceparent", "00-xyz-00f067aa0ba902b7-01")])
            #expect(badTrace.string("request_id")?.count == 32 && badTrace.string("request_id") != "xyz")
            let refused = try n.post("{", device: "dev-id", key: key, headers: [("X-Request-Id", "err-1")])
            #expect(refused.headers["x-request-id"] == "err-1" && refused.string("request_id") == "err-1")
        }
    }

    @Test func metricsMove() throws {
        try withNode { n in
            let key = try n.addDevice("dev-mx")
            let body = batchBody(device: "dev-mx", events: [ev("1"), ev("2"), ev("3")])
            #expect(try n.post(body, device: "dev-mx", key: key).status == 200)
            #expect(try n.post(body, device: "dev-mx", key: key).status == 200)
            #expect(try n.post("{", device: "dev-mx", key: key).status == 400)
            #expect(try n.post(body, device: "dev-mx", key: "wrong").status == 401)
            let m = try HTTP.get(port: n.port, "/metrics")
            #expect(m.status == 200)
            #expect(m.headers["content-type"] == "text/plain; version=0.0.4")
            #expect(try n.metric("ees_http_requests_total{route=\"/ingest\",status=\"200\"}") == 2)
            #expect(try n.metric("ees_http_requests_total{route=\"/ingest\",status=\"400\"}") == 1)
            #expect(try n.metric("ees_http_requests_total{route=\"/ingest\",status=\"401\"}") == 1)
            #expect(try n.metric("ees_ingest_events_accepted_total") == 3)
            #expect(try n.metric("ees_ingest_events_duplicate_total") == 3)
            #expect(try n.metric("ees_ingest_rejected_total{reason=\"invalid_request\"}") == 1)
            #expect(try n.metric("ees_http_request_duration_seconds_count{route=\"/ingest\"}") == 4)
            #expect(try (n.metric("ees_redis_command_duration_seconds_count") ?? 0) >= 2)
            #expect(try (n.metric("ees_device_cache_entries") ?? 0) >= 1)
            let text = try n.metricsText()
            #expect(text.contains("# TYPE ees_redis_command_duration_seconds histogram"))
            #expect(!text.contains("dev-mx"), "no ids in label values")
            // /metrics itself is counted (the previous scrapes).
            #expect(try (n.metric("ees_http_requests_total{route=\"/metrics\",status=\"200\"}") ?? 0) >= 1)
        }
    }

    // MARK: drain

    @Test func drainTurnsReadyzOffAndFinishesInFlightRequests() throws {
        let n = try TestNode { $0.drainDelayMs = 1_000; $0.drainTimeoutMs = 10_000 }
        var drained = false
        defer { if !drained { n.stop() } else { try? n.deleteAll() } }
        let key = try n.addDevice("dev-dr")
        // A request in flight: headers and half the body sent.
        let body = Array(batchBody(device: "dev-dr", events: [ev("in-flight")]).utf8)
        let conn = try RawHTTPConnection(port: n.port)
        try conn.send(RawHTTPConnection.head("POST", "/ingest", TestNode.headers(device: "dev-dr", key: key), contentLength: body.count))
        try conn.send(Array(body.prefix(body.count / 2)))

        let done = AtomicFlag()
        let started = Date()
        let drainer = Thread {
            n.node.drain()
            done.set()
        }
        drainer.start()
        // /readyz answers 503 at once (while the delay lets balancers notice).
        #expect(eventually(within: 2) { (try? HTTP.get(port: n.port, "/readyz").status) == 503 })
        // Then the listener closes: new connections are refused.
        #expect(eventually(within: 5) { (try? RawHTTPConnection(port: n.port)) == nil }, "still accepting new connections")
        #expect(!done.isSet, "drain must wait for the request in flight")
        // The in-flight request completes normally.
        try conn.send(Array(body.suffix(from: body.count / 2)))
        let reply = try conn.readReply()
        #expect(reply.status == 200, "\(reply)")
        #expect(reply.headers["connection"]?.lowercased() == "close")
        #expect(try n.buffer("dev-dr").count == 1)
        #expect(eventually(within: 5) { done.isSet }, "drain did not return after the last request")
        drained = done.isSet
        #expect(Date().timeIntervalSince(started) < 11)
    }

    @Test func drainIsBoundedWhenARequestNeverFinishes() throws {
        let n = try TestNode { $0.drainDelayMs = 0; $0.drainTimeoutMs = 500 }
        defer { try? n.deleteAll() }
        let conn = try RawHTTPConnection(port: n.port)
        try conn.send(RawHTTPConnection.head("POST", "/ingest", TestNode.headers(device: "d", key: "k"), contentLength: 1000) + "{")
        let clock = ContinuousClock()
        let elapsed = clock.measure { n.node.drain() }
        #expect(elapsed < .seconds(3), "drain took \(elapsed) with a 500 ms timeout")
    }
}

/// A loopback port nothing listens on (bound, then released).
func closedPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard ok else { throw RawHTTPError("bind: errno \(errno)") }
    return Int(UInt16(bigEndian: addr.sin_port))
}

@Suite struct IngestConfigTests {
    @Test func relationshipsAreCheckedAtStartUp() {
        var c = IngestConfig()
        #expect(throws: Never.self) { try c.check() }
        c.buffer.highWaterEvents = c.limits.eventsPerRequestMax - 1
        #expect(throws: ConfigError("buffer high-water mark (999 events) must hold at least one full request (1000)")) { try c.check() }
        c = IngestConfig()
        c.buffer.highWaterBytes = c.limits.bodyBytesMax - 1
        #expect(throws: ConfigError.self) { try c.check() }
        c = IngestConfig()
        c.limits.bodyBytesMax = 1023
        #expect(throws: ConfigError("body limit must be at least 1024 bytes")) { try c.check() }
        c = IngestConfig()
        c.dedupWindowMs = 999
        #expect(throws: ConfigError("dedup window must be at least 1 s")) { try c.check() }
        c = IngestConfig()
        c.http.threads = 0
        #expect(throws: ConfigError.self) { try c.check() }
        c = IngestConfig()
        c.partitions = 0
        #expect(throws: ConfigError.self) { try c.check() }
        // A burst smaller than a full request would answer such requests 429 forever.
        c = IngestConfig()
        c.rate.burstEvents = 999
        #expect(throws: ConfigError("rate burst (999 events) must hold at least one full request (1000)")) { try c.check() }
        c.rate.eventsPerSecond = 0   // no limit: the burst does not matter
        #expect(throws: Never.self) { try c.check() }
    }

    @Test func badConfigurationStopsTheNodeBeforeItListens() {
        var c = IngestConfig()
        c.limits.eventsPerRequestMax = 0
        #expect(throws: ConfigError("events per request must be at least 1")) {
            _ = try IngestNode(config: c, redis: RedisConfig(), keys: RedisKeys(), metrics: MetricsRegistry(), logger: Logger(minimum: .error))
        }
    }
}

@Suite struct IngestLimitTests {
    @Test(arguments: [1_000, 10_000])
    func aFullRequestAtTheConfiguredEventLimitIsStored(limit: Int) throws {
        try withNode({ $0.limits.eventsPerRequestMax = limit; $0.limits.bodyBytesMax = 4 << 20; $0.rate.eventsPerSecond = 0 }) { n in
            let key = try n.addDevice("dev-full")
            let events = (0..<limit).map { ev("e\($0)", payload: "{}") }
            let r = try n.post(batchBody(device: "dev-full", events: events), device: "dev-full", key: key)
            #expect(r.status == 200, "\(r)")
            #expect(r.int("accepted_count") == limit)
            #expect(r.int("last_seq") == limit)
            #expect(try n.buffer("dev-full").first?.n == limit)
            // And half of them again with as many new ones: the duplicate path splits the chunk.
            let mixed = (limit / 2..<(limit + limit / 2)).map { ev("e\($0)", payload: "{}") }
            let again = try n.post(batchBody(device: "dev-full", events: mixed), device: "dev-full", key: key)
            #expect(again.status == 200, "\(again)")
            #expect(again.int("accepted_count") == limit / 2 && again.int("duplicate_count") == limit / 2)
            #expect(try n.buffer("dev-full").last?.ev == mixed.suffix(limit / 2).joined(separator: "\n"))
        }
    }
}
