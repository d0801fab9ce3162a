import EESCore
import EESCrypto
import EESIngest
import EESRedis
import Foundation
import Synchronization

/// Ceiling (b): the node's ingest path — `Ingestor.ingest` (authenticate through the device cache,
/// index with simdjson, validate, one Redis script per stream) — wired exactly as `IngestNode`
/// wires it, called from several threads with bodies built before the clock starts. What it
/// leaves out is HTTP (libmicrohttpd, sockets, the load generator's client), so the gap to the
/// HTTP run is the cost of HTTP on this machine.
enum DirectIngest {
    static let specs = [
        OptionSpec("redis", default: "redis://127.0.0.1:6379", help: "Redis URL"),
        OptionSpec("redis-prefix", default: "ees", help: "key prefix"),
        OptionSpec("device-id", default: "direct", help: "devices are <ID>-1 … <ID>-N (created here)"),
        OptionSpec("devices", default: "32", help: "devices (one stream each)"),
        OptionSpec("threads", default: "4", help: "calling threads (the node's default HTTP worker count)"),
        OptionSpec("batch-size", default: "100", help: "events per request"),
        OptionSpec("events", default: "1000000", help: "events in all (bodies are prebuilt: ~130 bytes each in memory)"),
        OptionSpec("seconds-max", default: "60", help: "stop early after this long"),
    ]

    /// One prebuilt request.
    struct Prepared: Sendable {
        let deviceID: String
        let apiKey: String
        let body: [UInt8]
    }

    static func run(_ o: ParsedOptions) throws {
        let redis = try RedisConfig(url: o.require("redis"))
        let keys = RedisKeys(prefix: try o.require("redis-prefix"))
        let prefix = try o.require("device-id")
        let deviceCount = try o.int("devices", in: 1...100_000)!
        let threads = try o.int("threads", in: 1...64)!
        let batch = try o.int("batch-size", in: 1...1000)!
        let events = try o.int("events", in: batch...50_000_000)!
        let secondsMax = try o.int("seconds-max", in: 1...600)!

        // The node's configuration with the two limits a benchmark must lift: the per-device rate
        // and the per-stream high-water mark (nothing flushes during the run).
        var config = IngestConfig()
        config.rate.eventsPerSecond = 0
        config.buffer.highWaterEvents = 1_000_000_000
        config.buffer.highWaterBytes = 1 << 40
        try config.check()
        let metrics = IngestMetrics(registry: MetricsRegistry())
        let client = RedisClient(config: redis, latency: metrics.redisSeconds)
        let registry = RedisDeviceRegistry(client: client, keys: keys)
        let time = SystemTime()
        let store = RedisIngestStore(client: client, keys: keys, window: DedupWindow(widthMs: config.dedupWindowMs),
                                     limits: config.buffer, partitions: config.partitions)
        let auth = DeviceAuthenticator(registry: registry, cache: DeviceCache(config: config.cache), time: time)
        let ingestor = Ingestor(config: config, store: store, auth: auth, limiter: RateLimiter(config: config.rate),
                                metrics: metrics, time: time)

        let devices = try (1...deviceCount).map { i in
            let id = "\(prefix)-\(i)"
            let key = APIKeys.generate()
            guard try registry.create(DeviceRecord(deviceID: id, status: .active, apiKeyHash: APIKeys.hash(key))) else {
                throw ConfigError("device \(id) exists already: use a fresh --device-id or --redis-prefix")
            }
            return (id: id, key: key, ids: SimulationIDs(seed: 1, deviceID: id))
        }

        // Round-robin over devices, like the simulator; thread t sends the requests t, t+T, ….
        let requests = events / batch
        let nowMs = time.nowMs()
        var perThread = [[Prepared]](repeating: [], count: threads)
        var nextSeq = [Int](repeating: 1, count: deviceCount)
        for r in 0..<requests {
            let d = r % deviceCount
            let first = nextSeq[d]
            nextSeq[d] += batch
            let readings = (0..<batch).map { Reading(seq: first + $0, centiCelsius: 2000 + (first + $0) % 1500) }
            let body = SimulatedBatch(ids: devices[d].ids, batchIndex: r / deviceCount, readings: readings,
                                      timestampsMs: readings.map { nowMs + Int64($0.seq) }, sentAtMs: nowMs).body
            perThread[r % threads].append(Prepared(deviceID: devices[d].id, apiKey: devices[d].key, body: body))
        }

        let ready = Atomic<Int>(0)
        let go = Atomic<Bool>(false)
        let done = Atomic<Int>(0)
        let accepted = Atomic<Int>(0)
        let sent = Atomic<Int>(0)
        let failures = Mutex<[String]>([])
        let deadline = Atomic<UInt64>(0)
        for t in 0..<threads {
            let mine = perThread[t]
            let thread = Thread {
                ready.add(1, ordering: .relaxed)
                while !go.load(ordering: .acquiring) { usleep(100) }
                let stopAt = deadline.load(ordering: .relaxed)
                for p in mine {
                    if time.monotonicNs() > stopAt { break }
                    let (result, reason) = ingestor.ingest(Ingestor.Request(deviceID: p.deviceID, apiKey: p.apiKey,
                                                                            contentEncoding: nil, body: p.body))
                    sent.add(batch, ordering: .relaxed)
                    switch result {
                    case .success(let streams): accepted.add(streams.reduce(0) { $0 + $1.accepted }, ordering: .relaxed)
                    case .failure(let e):
                        failures.withLock { $0.append("\(e.code.rawValue) \(reason ?? "") \(e.message)") }
                    }
                }
                done.add(1, ordering: .releasing)
            }
            thread.name = "direct-\(t)"
            thread.start()
        }
        while ready.load(ordering: .relaxed) < threads { usleep(1000) }
        let cpu0 = processCPUSeconds()
        let t0 = time.monotonicNs()
        deadline.store(t0 + UInt64(secondsMax) * 1_000_000_000, ordering: .relaxed)
        go.store(true, ordering: .releasing)
        while done.load(ordering: .acquiring) < threads { usleep(1000) }
        let seconds = Double(time.monotonicNs() - t0) / 1e9
        let cpu = processCPUSeconds() - cpu0
        let errors = failures.withLock { $0 }
        if let first = errors.first { throw BenchFailure("\(errors.count) requests failed, first: \(first)") }
        let n = accepted.load(ordering: .relaxed)
        guard n == sent.load(ordering: .relaxed) else { throw BenchFailure("only \(n) of \(sent.load(ordering: .relaxed)) events were new") }
        print("{\"events\":\(n),\"requests\":\(n / batch),\"seconds\":\(json3(seconds)),\"events_per_s\":\(json3(Double(n) / seconds))"
              + ",\"cpu_s\":\(json3(cpu)),\"cpu_us_per_event\":\(json3(cpu * 1e6 / Double(max(n, 1))))}")
    }
}
