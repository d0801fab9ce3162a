import EESCore
import EESObjectStore
import EESPostgres
import EESProcessor
import EESRedis
import Foundation
import Synchronization
import Testing

/// The Redis under test, from `EES_TEST_REDIS_URL` (scripts/services exports it). Missing: a failure.
func testRedisConfig() throws -> RedisConfig {
    guard let url = ProcessInfo.processInfo.environment["EES_TEST_REDIS_URL"], !url.isEmpty else {
        throw PostgresTestSetupError(description: "EES_TEST_REDIS_URL is not set: processor tests need a real Redis (scripts/services)")
    }
    return try RedisConfig(url: url)
}

/// A MetricsSink that fails with `.unavailable` while `down` is set (a Postgres outage on demand),
/// otherwise passing calls to the real sink.
final class SwitchableSink: MetricsSink {
    let inner: any MetricsSink
    let down = Atomic<Bool>(false)
    let failures = Atomic<Int>(0)
    init(_ inner: any MetricsSink) { self.inner = inner }

    func write(segment: ProcessedSegment, metrics: [MetricRow], anomalies: [AnomalyRow]) throws(MetricsSinkError) -> WriteOutcome {
        if down.load(ordering: .relaxed) {
            failures.add(1, ordering: .relaxed)
            throw MetricsSinkError(.unavailable, "test outage")
        }
        return try inner.write(segment: segment, metrics: metrics, anomalies: anomalies)
    }

    func isProcessed(segKey: String) throws(MetricsSinkError) -> Bool {
        if down.load(ordering: .relaxed) { throw MetricsSinkError(.unavailable, "test outage") }
        return try inner.isProcessed(segKey: segKey)
    }
}

/// One test's world: its own Redis key prefix, object-store directory and Postgres database.
final class ProcessorHarness: @unchecked Sendable {
    static let partitions = 4
    let redisConfig: RedisConfig
    let redis: RedisClient
    let keys: RedisKeys
    let queue: RedisSegmentQueue
    let objects: FileObjectStore
    let postgres: PostgresConfiguration
    let db: PostgresConnection
    private var processors: [Processor] = []

    private init(redis: RedisConfig, root: String, postgres: PostgresConfiguration) throws {
        redisConfig = redis
        self.redis = RedisClient(config: redis)
        keys = RedisKeys(prefix: "t-" + String(UInt64.random(in: 0...UInt64.max), radix: 16))
        queue = RedisSegmentQueue(client: self.redis, keys: keys, partitions: Self.partitions)
        objects = FileObjectStore(root: root)
        self.postgres = postgres
        db = try PostgresConnection(configuration: postgres)
    }

    /// Runs `body` in a fresh world; stops its processors and removes its keys, files and database
    /// afterwards, also when the test fails.
    static func run(_ body: (ProcessorHarness) throws -> Void) throws {
        let redis = try testRedisConfig()
        var template = Array("/tmp/ees-processor-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let root = String(cString: try #require(made))
        defer { try? FileManager.default.removeItem(atPath: root) }
        try withMigratedPostgresDatabase { config in
            let h = try ProcessorHarness(redis: redis, root: root, postgres: config)
            defer { h.tearDown() }
            try body(h)
        }
    }

    private func tearDown() {
        for p in processors { p.stop() }
        var cursor = "0"
        repeat {
            guard let r = try? redis.command(["SCAN", cursor, "MATCH", "\(keys.prefix):*", "COUNT", "1000"]).array, r.count == 2
            else { break }
            cursor = r[0].text ?? "0"
            let found = (r[1].array ?? []).compactMap(\.text)
            if !found.isEmpty { _ = try? redis.command(["DEL"] + found) }
        } while cursor != "0"
    }

    // MARK: processors

    func config(node: String, claimIdleMs: Int = 60_000, maxDeliveries: Int = 5) -> ProcessorConfig {
        var c = ProcessorConfig()
        c.partitions = Self.partitions
        c.nodeID = node
        c.blockMs = 200
        c.claimIdleMs = claimIdleMs
        c.maxDeliveries = maxDeliveries
        c.retryBackoff = Backoff(baseMs: 20, maxMs: 200)
        return c
    }

    /// Starts a processor; it is stopped at the end of the test.
    @discardableResult
    func start(_ config: ProcessorConfig, sink: (any MetricsSink)? = nil, registry: MetricsRegistry = MetricsRegistry()) throws -> Processor {
        let p = try Processor(config: config, redis: redisConfig, keys: keys, objects: objects,
                              sinks: [sink ?? PostgresMetricsSink(configuration: postgres)], detectors: [ThresholdDetector()],
                              metrics: registry, logger: Logger(minimum: .error))
        p.start()
        processors.append(p)
        return p
    }

    // MARK: segments and notifications

    /// Event JSON with the given payload (as JSON text).
    static func event(_ id: String, ts: Int64, payload: String) -> String {
        #"{"event_id":"\#(id)","event_type":"reading","ts_device_ms":\#(ts),"payload":\#(payload)}"#
    }

    /// Stores a segment of `payloads` (one event each, seqs from `start`) the way the flusher does.
    func putSegment(stream: String, start: Int64 = 1, payloads: [String], device: String = "dev-1") throws -> SegmentNotification {
        var bytes: [UInt8] = []
        for (i, p) in payloads.enumerated() {
            let seq = start + Int64(i)
            let entry = BufferEntry(firstSeq: seq, count: 1, deviceID: device, batchID: "b", tsIngestMs: 1_700_000_000_000 + seq,
                                    events: Array(Self.event("e\(seq)", ts: 1_700_000_000_000 + seq, payload: p).utf8))
            SegmentFormat.appendLines(streamKey: stream, entries: [entry], to: &bytes)
        }
        let note = SegmentNotification(streamKey: stream, range: SeqRange(start: start, end: start + Int64(payloads.count) - 1),
                                       newestIngestMs: 1_700_000_000_000 + start + Int64(payloads.count) - 1)
        try objects.put(key: note.key, bytes: bytes)
        return note
    }

    func putRaw(_ note: SegmentNotification, _ text: String) throws { try objects.put(key: note.key, bytes: Array(text.utf8)) }

    func partition(of stream: String) -> Int { Partitioning.partition(of: stream, count: Self.partitions) }

    /// XADDs the notification as the flusher's commit script does; returns the entry id.
    @discardableResult
    func notify(_ note: SegmentNotification) throws -> String {
        try notify(fields: note.fields, partition: partition(of: note.streamKey))
    }

    @discardableResult
    func notify(fields: [(String, String)], partition: Int) throws -> String {
        try queue.ensureGroups()   // so that `unfinished()` counts the entry before a processor runs
        let r = try redis.command(["XADD", keys.notifications(partition: partition), "*"] + fields.flatMap { [$0.0, $0.1] })
        return try #require(r.text)
    }

    // MARK: observations

    /// Entries delivered but not acknowledged, over all partitions.
    func pending() throws -> Int {
        var n = 0
        for p in 0..<Self.partitions {
            let r = try redis.command(["XPENDING", keys.notifications(partition: p), "processor"])
            if let a = r.array, let c = a.first?.int { n += Int(c) }
        }
        return n
    }

    /// Entries not yet delivered to anyone, plus pending ones: zero when everything was handled.
    /// The undelivered count is read FIRST: an entry delivered after that read was counted as
    /// undelivered, and one delivered before it is still pending when `pending()` runs unless it
    /// was acknowledged — so a processor working meanwhile can never make this read 0 too early.
    func unfinished() throws -> Int {
        var n = 0
        for p in 0..<Self.partitions {
            let info = try redis.command(["XINFO", "GROUPS", keys.notifications(partition: p)])
            for g in info.array ?? [] { n += Int(g.fieldMap["lag"].flatMap { Int($0) } ?? 0) }
        }
        return n + (try pending())
    }

    func deadLetters() throws -> [[String: String]] {
        try (redis.command(["XRANGE", keys.deadLetterSegments, "-", "+"]).array ?? []).map { $0.array?[1].fieldMap ?? [:] }
    }

    func derivedEvents() throws -> [[String: String]] {
        try (redis.command(["XRANGE", keys.derivedAnomalies, "-", "+"]).array ?? []).map { $0.array?[1].fieldMap ?? [:] }
    }

    func count(_ sql: String) throws -> Int { Int(try db.exec(sql).scalar ?? "") ?? -1 }

    /// Polls `condition` every 20 ms until it holds; fails the test after `seconds`.
    func waitUntil(_ what: String, seconds: Double = 15, _ condition: () throws -> Bool) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if try condition() { return }
            Thread.sleep(forTimeInterval: 0.02)
        }
        Issue.record("timed out after \(seconds) s waiting for: \(what)")
        throw PostgresTestSetupError(description: "timed out waiting for \(what)")
    }
}
