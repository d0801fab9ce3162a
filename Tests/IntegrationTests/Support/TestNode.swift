import EESCore
import EESCrypto
import EESIngest
import EESRedis
import EESTestSupport
import Foundation
import Testing

/// The shared test Redis, from `EES_TEST_REDIS_URL`. A missing variable fails the test: an
/// integration test that silently does not run is worse than one that fails.
enum TestRedis {
    static func config() throws -> RedisConfig {
        guard let url = ProcessInfo.processInfo.environment["EES_TEST_REDIS_URL"], !url.isEmpty else {
            throw RawHTTPError("EES_TEST_REDIS_URL is not set: integration tests need a real redis-server "
                + "(scripts/services start prints it; or start one and export EES_TEST_REDIS_URL=redis://127.0.0.1:PORT)")
        }
        return try RedisConfig(url: url)
    }

    /// A key prefix no other test uses.
    static func uniquePrefix() -> String {
        "t" + String(UInt64.random(in: 0...UInt64.max), radix: 36)
    }
}

/// An `IngestNode` on 127.0.0.1:0 with its own random key prefix, plus what a test needs to look
/// into Redis. `stop()` drains the node and deletes every key under the prefix.
final class TestNode: Sendable {
    let node: IngestNode
    let keys: RedisKeys
    let redis: RedisClient
    let registry: RedisDeviceRegistry
    let metrics = MetricsRegistry()
    let port: Int

    init(redisConfig: RedisConfig? = nil, time: any TimeSource = SystemTime(), _ configure: (inout IngestConfig) -> Void = { _ in }) throws {
        let rc = try redisConfig ?? TestRedis.config()
        keys = RedisKeys(prefix: TestRedis.uniquePrefix())
        var config = IngestConfig()
        config.http.port = 0
        config.http.threads = 4
        config.drainTimeoutMs = 5_000
        configure(&config)
        redis = RedisClient(config: try TestRedis.config())
        registry = RedisDeviceRegistry(client: redis, keys: keys)
        node = try IngestNode(config: config, redis: rc, keys: keys, metrics: metrics, logger: Logger(minimum: .error), time: time)
        try node.start()
        port = node.port
    }

    func stop() {
        node.drain()
        try? deleteAll()
    }

    /// Creates a device and returns its API key.
    @discardableResult
    func addDevice(_ id: String, streamKey: String? = nil, status: DeviceRecord.Status = .active) throws -> String {
        let key = APIKeys.generate()
        let created = try registry.create(DeviceRecord(deviceID: id, status: status, apiKeyHash: APIKeys.hash(key), streamKey: streamKey))
        #expect(created)
        return key
    }

    /// POST /ingest on a new connection.
    func post(_ body: String, device: String?, key: String?, headers: [(String, String)] = [],
              contentType: String? = "application/json") throws -> HTTPReply {
        try post(bytes: Array(body.utf8), device: device, key: key, headers: headers, contentType: contentType)
    }

    func post(bytes: [UInt8], device: String?, key: String?, headers: [(String, String)] = [],
              contentType: String? = "application/json") throws -> HTTPReply {
        try HTTP.request(port: port, "POST", "/ingest", headers: Self.headers(device: device, key: key, contentType: contentType) + headers,
                         body: bytes)
    }

    static func headers(device: String?, key: String?, contentType: String? = "application/json") -> [(String, String)] {
        var h: [(String, String)] = []
        if let contentType { h.append(("Content-Type", contentType)) }
        if let device { h.append(("X-Device-Id", device)) }
        if let key { h.append(("X-Api-Key", key)) }
        return h
    }

    // MARK: looking into Redis

    func command(_ args: String...) throws -> RedisReply { try redis.command(args) }

    /// Every key under this node's prefix.
    func allKeys() throws -> [String] {
        var cursor = "0"
        var out: [String] = []
        repeat {
            let r = try redis.command(["SCAN", cursor, "MATCH", keys.prefix + ":*", "COUNT", "1000"])
            guard let a = r.array, a.count == 2, let next = a[0].text else { throw RawHTTPError("SCAN: \(r)") }
            cursor = next
            out += (a[1].array ?? []).compactMap(\.text)
        } while cursor != "0"
        return out.sorted()
    }

    /// Key → serialized value (DUMP): equal snapshots mean nothing under the prefix changed.
    /// Every key's content. Sets are compared by their sorted members, not by DUMP: Redis may finish
    /// rehashing a set's table in the background, which reorders DUMP's bytes without a write.
    func snapshot() throws -> [String: [UInt8]] {
        var out: [String: [UInt8]] = [:]
        for k in try allKeys() {
            if try redis.command(["TYPE", k]).text == "set" {
                let members = try redis.command(["SMEMBERS", k]).array?.compactMap(\.bytes) ?? []
                out[k] = members.sorted { $0.lexicographicallyPrecedes($1) }.flatMap { $0 + [0xFF] }
            } else {
                out[k] = try redis.command(["DUMP", k]).bytes ?? []
            }
        }
        return out
    }

    func deleteAll() throws {
        let all = try allKeys()
        if !all.isEmpty { _ = try redis.command(["DEL"] + all) }
    }

    struct Entry {
        let id: String
        let fields: [String: [UInt8]]
        var n: Int { Int(String(decoding: fields["n"] ?? [], as: UTF8.self)) ?? -1 }
        var ev: String { String(decoding: fields["ev"] ?? [], as: UTF8.self) }
        func text(_ f: String) -> String? { fields[f].map { String(decoding: $0, as: UTF8.self) } }
    }

    /// The stream's buffer entries, in order.
    func buffer(_ stream: String) throws -> [Entry] {
        let r = try redis.command(["XRANGE", keys.buffer(stream), "-", "+"])
        return (r.array ?? []).map { item in
            let parts = item.array ?? []
            var fields: [String: [UInt8]] = [:]
            let flat = parts.count > 1 ? parts[1].array ?? [] : []
            var i = 0
            while i + 1 < flat.count {
                if let k = flat[i].text { fields[k] = flat[i + 1].bytes ?? [] }
                i += 2
            }
            return Entry(id: parts.first?.text ?? "", fields: fields)
        }
    }

    func seq(_ stream: String) throws -> Int64? { try redis.command(["GET", keys.seq(stream)]).int }

    func metricsText() throws -> String { try HTTP.get(port: port, "/metrics").text }

    /// The value of one series on /metrics (e.g. `ees_ingest_events_accepted_total`), nil when absent.
    func metric(_ series: String) throws -> Double? {
        for line in try metricsText().split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}

/// Runs `body` with a fresh node; stops it and deletes its keys afterwards, also on failure.
func withNode(_ configure: (inout IngestConfig) -> Void = { _ in }, _ body: (TestNode) throws -> Void) throws {
    let n = try TestNode(configure)
    defer { n.stop() }
    try body(n)
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double = 5, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    return try condition()
}

// MARK: request bodies

/// An event object as a device would send it.
func ev(_ id: String, streamKey: String? = nil, ts: Int64 = 1_700_000_000_000, payload: String = "{\"temperature\":21.5}") -> String {
    var s = "{\"event_id\":\(JSONText.quoted(id)),\"event_type\":\"reading\",\"ts_device_ms\":\(ts),\"payload\":\(payload)"
    if let streamKey { s += ",\"stream_key\":\(JSONText.quoted(streamKey))" }
    return s + "}"
}

func batchBody(device: String, batch: String = UUID().uuidString, streamKey: String? = nil, events: [String]) -> String {
    var s = "{\"device_id\":\(JSONText.quoted(device)),\"batch_id\":\(JSONText.quoted(batch)),\"sent_at_ms\":1700000000000"
    if let streamKey { s += ",\"stream_key\":\(JSONText.quoted(streamKey))" }
    return s + ",\"events\":[" + events.joined(separator: ",") + "]}"
}

