import EESCore
import EESFlusher
import EESObjectStore
import EESHTTPServer
import EESIngest
import EESProcessor
import EESRedis
import Foundation

/// `ees serve --roles ingest[,flusher,processor]`: runs roles until SIGTERM/SIGINT, then drains.
enum ServeCommand {
    static let knownRoles: Set<String> = ["ingest", "flusher", "processor"]

    static let specs: [OptionSpec] = [
        OptionSpec("roles", env: "EES_ROLES", default: "ingest,flusher,processor", help: "comma-separated roles to run: ingest, flusher, processor"),
        OptionSpec("node-id", env: "EES_NODE_ID", help: "this process's name in leases and consumer groups (default: host name + pid)"),
        OptionSpec("listen", env: "EES_LISTEN", default: "127.0.0.1:8080", help: "HTTP address host:port (IPv4): /ingest with the ingest role; /healthz /readyz /metrics always"),
        OptionSpec("http-threads", env: "EES_HTTP_THREADS", default: "4", help: "HTTP worker threads"),
        OptionSpec("http-connections-max", env: "EES_HTTP_CONNECTIONS_MAX", default: "1024", help: "open HTTP connections at most"),
        OptionSpec("http-idle-timeout-s", env: "EES_HTTP_IDLE_TIMEOUT_S", default: "30", help: "idle keep-alive connections close after this"),
        OptionSpec("body-max-bytes", env: "EES_BODY_MAX_BYTES", default: "1048576", help: "largest request body, also after gunzip"),
        OptionSpec("events-max", env: "EES_EVENTS_MAX", default: "1000", help: "most events per request"),
        OptionSpec("event-max-bytes", env: "EES_EVENT_MAX_BYTES", default: "65536", help: "largest single event"),
        OptionSpec("dedup-window-s", env: "EES_DEDUP_WINDOW_S", default: "600", help: "dedup window W: ids remembered W to 2W"),
        OptionSpec("device-cache-ttl-ms", env: "EES_DEVICE_CACHE_TTL_MS", default: "30000", help: "how long a device record is cached"),
        OptionSpec("device-negative-ttl-ms", env: "EES_DEVICE_NEGATIVE_TTL_MS", default: "5000", help: "how long an unknown device is cached"),
        OptionSpec("rate-events-per-s", env: "EES_RATE_EVENTS_PER_S", default: "20000", help: "per-device event rate on one node (0 = no limit)"),
        OptionSpec("rate-burst-events", env: "EES_RATE_BURST_EVENTS", default: "40000", help: "per-device burst on one node"),
        OptionSpec("buffer-high-water-events", env: "EES_BUFFER_HIGH_WATER_EVENTS", default: "100000", help: "unflushed events per stream before 503"),
        OptionSpec("buffer-high-water-bytes", env: "EES_BUFFER_HIGH_WATER_BYTES", default: "67108864", help: "unflushed bytes per stream before 503"),
        OptionSpec("redis-wait-replicas", env: "EES_REDIS_WAIT_REPLICAS", default: "0",
                   help: "replicas that must hold events (Redis WAIT) before 200; 0 = the primary alone"),
        OptionSpec("redis-wait-timeout-ms", env: "EES_REDIS_WAIT_TIMEOUT_MS", default: "100",
                   help: "longest WAIT for those replicas; a shortfall answers 503"),
        OptionSpec("partitions", env: "EES_PARTITIONS", default: "16", help: "stream partitions (same value on every node)"),
        OptionSpec("retry-after-s", env: "EES_RETRY_AFTER_S", default: "2", help: "Retry-After on 503"),
        OptionSpec("drain-delay-ms", env: "EES_DRAIN_DELAY_MS", default: "0", help: "after SIGTERM, keep serving while /readyz is 503"),
        OptionSpec("drain-timeout-ms", env: "EES_DRAIN_TIMEOUT_MS", default: "10000", help: "then wait at most this for in-flight requests"),
    ] + flusherSpecs + ProcessorRole.specs + SegmentsCommands.store + CommonOptions.redis + CommonOptions.logging

    static let flusherSpecs: [OptionSpec] = [
        OptionSpec("flush-events", env: "EES_FLUSH_EVENTS", default: "1000", help: "flush a stream at this many buffered events"),
        OptionSpec("flush-bytes", env: "EES_FLUSH_BYTES", default: "1048576", help: "flush a stream at this many buffered bytes"),
        OptionSpec("flush-age-ms", env: "EES_FLUSH_AGE_MS", default: "5000", help: "flush a stream when its oldest event is this old"),
        OptionSpec("lease-ttl-ms", env: "EES_LEASE_TTL_MS", default: "10000", help: "partition lease TTL (failover time)"),
        OptionSpec("flush-workers", env: "EES_FLUSH_WORKERS", default: "2", help: "flusher threads"),
    ]

    static let command = Command(path: ["serve"], usage: "ees serve [--roles ingest] [--listen 127.0.0.1:8080] [--redis redis://127.0.0.1:6379]",
                                 summary: "Runs the given roles until SIGTERM or SIGINT, then drains gracefully.",
                                 specs: specs, run: run)

    static func ingestConfig(_ o: ParsedOptions) throws(ConfigError) -> IngestConfig {
        var c = IngestConfig()
        let listen = try ListenAddress(o.require("listen"))
        c.http.host = listen.host
        c.http.port = listen.port
        c.http.threads = try o.int("http-threads", in: 1...256)!
        c.http.connectionsMax = try o.int("http-connections-max", in: 1...100_000)!
        c.http.connectionTimeoutSeconds = try o.int("http-idle-timeout-s", in: 1...3600)!
        c.limits.bodyBytesMax = try o.int("body-max-bytes", in: 1024...(64 << 20))!
        c.http.bodyBytesMax = c.limits.bodyBytesMax
        c.limits.eventsPerRequestMax = try o.int("events-max", in: 1...100_000)!
        c.limits.eventBytesMax = try o.int("event-max-bytes", in: 256...(16 << 20))!
        c.dedupWindowMs = Int64(try o.int("dedup-window-s", in: 1...86_400)!) * 1000
        c.cache.ttlMs = Int64(try o.int("device-cache-ttl-ms", in: 0...3_600_000)!)
        c.cache.negativeTTLMs = Int64(try o.int("device-negative-ttl-ms", in: 0...3_600_000)!)
        c.rate.eventsPerSecond = try o.double("rate-events-per-s", in: 0...1e9)!
        c.rate.burstEvents = try o.double("rate-burst-events", in: 1...1e9)!
        c.buffer.highWaterEvents = try o.int("buffer-high-water-events", in: 1...1_000_000_000)!
        c.buffer.highWaterBytes = try o.int("buffer-high-water-bytes", in: 1024...(1 << 40))!
        c.partitions = try o.int("partitions", in: 1...4096)!
        c.replicas = ReplicaAck(count: try o.int("redis-wait-replicas", in: 0...16)!,
                                timeoutMs: try o.int("redis-wait-timeout-ms", in: 1...60_000)!)
        c.retryAfterSeconds = try o.int("retry-after-s", in: 1...3600)!
        c.drainDelayMs = try o.int("drain-delay-ms", in: 0...600_000)!
        c.drainTimeoutMs = try o.int("drain-timeout-ms", in: 0...600_000)!
        try c.check()
        return c
    }

    static func flusherConfig(_ o: ParsedOptions, nodeID: String) throws(ConfigError) -> FlusherConfig {
        var c = FlusherConfig()
        c.policy.eventsMax = try o.int("flush-events", in: 1...1_000_000)!
        c.policy.bytesMax = try o.int("flush-bytes", in: 1024...(1 << 30))!
        c.policy.ageMaxMs = Int64(try o.int("flush-age-ms", in: 1...3_600_000)!)
        c.leaseTTLMs = Int64(try o.int("lease-ttl-ms", in: 1000...600_000)!)
        c.workers = try o.int("flush-workers", in: 1...64)!
        c.partitions = try o.int("partitions", in: 1...4096)!
        c.nodeID = nodeID
        try c.check()
        return c
    }

    /// `--node-id`, else host name and pid: unique per process, readable in `redis-cli`.
    static func nodeID(_ o: ParsedOptions) throws(ConfigError) -> String {
        if let id = o.string("node-id") {
            guard Identifier.isValid(id, maxBytes: 64) else { throw ConfigError("--node-id: letters, digits and . _ : - only") }
            return id
        }
        let host = ProcessInfo.processInfo.hostName.filter { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == ".") }
        return "\(host.isEmpty ? "node" : String(host.prefix(40)))-\(getpid())"
    }

    static func run(_ o: ParsedOptions) throws -> Int32 {
        try o.noPositionals()
        let roles = Set(try o.require("roles").split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
        if let unknown = roles.subtracting(knownRoles).sorted().first {
            throw ConfigError("--roles: unknown role '\(unknown)' (known: \(knownRoles.sorted().joined(separator: ", ")))")
        }
        let logger = try CommonOptions.logger(o)
        let redis = try CommonOptions.redisConfig(o)
        let keys = try CommonOptions.keys(o)
        let registry = MetricsRegistry()
        let signals = Signals.block()   // before any thread starts, so every thread inherits the mask
        // Options first: a bad value exits 2 before anything touches the network.
        let node = try nodeID(o)
        let listen = try ListenAddress(o.require("listen"))
        let ingestSettings = roles.contains("ingest") ? try ingestConfig(o) : nil
        let flusherSettings = roles.contains("flusher") ? try flusherConfig(o, nodeID: node) : nil
        let processorSettings = roles.contains("processor")
            ? (try ProcessorRole.config(o, nodeID: node), try ProcessorRole.detector(o)) : nil
        // One object store (one connection pool) serves the flusher and the processor alike.
        let env = ProcessInfo.processInfo.environment
        let objects = flusherSettings != nil || processorSettings != nil
            ? try ObjectStoreURL.open(try o.require("object-store"), env: env) : nil
        let faults = FaultPoints(environment: env["EES_FAULT"])

        // Then every role is built (the processor checks the schema version) before any starts.
        let processor = try processorSettings.map { config, detector in
            try ProcessorRole.make(o, config: config, detector: detector, objects: objects!, redis: redis, keys: keys,
                                   registry: registry, logger: logger.with([(.role, "processor")]), faults: faults)
        }
        let ingest = try ingestSettings.map { config throws in
            try IngestNode(config: config, redis: redis, keys: keys, metrics: registry, logger: logger.with([(.role, "ingest")]))
        }
        // Without the ingest role, the same address still serves probes and metrics.
        let ops = ingest == nil ? opsServer(listen, redis: redis, registry: registry) : nil
        let flusher = try flusherSettings.map { config throws in
            try Flusher(config: config, store: RedisFlushStore(client: RedisClient(config: redis), keys: keys),
                        objects: writable(objects!), metrics: registry, logger: logger.with([(.role, "flusher")]),
                        faults: faults)
        }

        try ingest?.start()
        if let ops {
            try ops.start()
            logger.info("ops endpoints listening", [(.listen, "\(ops.config.host):\(ops.port)")])
        }
        flusher?.start()
        processor?.start()
        let signal = signals.wait()
        logger.info("shutdown requested", [(.reason, signal == SIGTERM ? "SIGTERM" : "SIGINT")])
        // Pipeline order: stop taking events first, then finish flushing, then processing.
        ingest?.drain()
        flusher?.stop()
        processor?.stop()
        ops?.stop()
        return Exit.ok
    }
}

extension ServeCommand {
    /// The store the flusher writes to: a local directory is created when missing (an S3 bucket is
    /// not: that is the operator's, with its own permissions and lifecycle).
    static func writable(_ store: any ObjectStore) throws -> any ObjectStore {
        if let files = store as? FileObjectStore { try files.createRootIfMissing() }
        return store
    }

    static func opsServer(_ listen: ListenAddress, redis: RedisConfig, registry: MetricsRegistry) -> HTTPServer {
        var http = HTTPServerConfig()
        http.host = listen.host
        http.port = listen.port
        http.threads = 1
        let client = RedisClient(config: redis)
        return HTTPServer(config: http, handler: OpsHTTPHandler(routes: OpsRoutes(registry: registry) { client.ping() }))
    }
}

/// SIGTERM/SIGINT are blocked in every thread and taken synchronously by the main thread.
struct Signals {
    private var set = sigset_t()

    static func block() -> Signals {
        var s = Signals()
        sigemptyset(&s.set)
        sigaddset(&s.set, SIGTERM)
        sigaddset(&s.set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &s.set, nil)
        return s
    }

    func wait() -> Int32 {
        var copy = set
        var sig: Int32 = 0
        while sigwait(&copy, &sig) != 0 {}
        return sig
    }
}
