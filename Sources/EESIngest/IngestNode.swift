import EESCore
import EESHTTPServer
import EESRedis
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The ingest role: HTTP server + ingestor + device-invalidation listener, with a graceful drain.
public final class IngestNode: Sendable {
    public let config: IngestConfig
    private let server: HTTPServer
    private let subscriber: RedisSubscriber
    private let store: RedisIngestStore
    private let draining = AtomicFlag()
    private let logger: Logger

    public init(config: IngestConfig, redis: RedisConfig, keys: RedisKeys, metrics registry: MetricsRegistry,
                logger: Logger, time: any TimeSource = SystemTime()) throws(ConfigError) {
        try config.check()
        self.config = config
        self.logger = logger
        let metrics = IngestMetrics(registry: registry)
        let client = RedisClient(config: redis, latency: metrics.redisSeconds)
        let cache = DeviceCache(config: config.cache)
        store = RedisIngestStore(client: client, keys: keys, window: DedupWindow(widthMs: config.dedupWindowMs),
                                 limits: config.buffer, partitions: config.partitions, replicas: config.replicas)
        let auth = DeviceAuthenticator(registry: RedisDeviceRegistry(client: client, keys: keys), cache: cache, time: time)
        let ingestor = Ingestor(config: config, store: store, auth: auth, limiter: RateLimiter(config: config.rate),
                                metrics: metrics, time: time)
        let draining = self.draining
        let store = self.store
        let handler = IngestHTTPHandler(ingestor: ingestor, metrics: metrics, logger: logger, time: time) {
            !draining.isSet && store.isReachable()
        }
        // One body limit: the server stops buffering at the same size the ingestor enforces, so a
        // body without Content-Length (chunked) is held to it too.
        var http = config.http
        http.bodyBytesMax = config.limits.bodyBytesMax
        server = HTTPServer(config: http, handler: handler)
        subscriber = RedisSubscriber(config: redis, channel: keys.deviceInvalidationChannel, logger: logger,
                                     onMessage: { cache.invalidate($0) }, onSubscribed: { cache.invalidate(nil) })
    }

    /// The port listened on (after `start`).
    public var port: Int { server.port }

    public func start() throws(ConfigError) {
        try server.start()
        subscriber.start()
        logger.info("ingest listening", [(.listen, "\(config.http.host):\(server.port)")])
    }

    /// Graceful stop, bounded by `drainDelayMs + drainTimeoutMs`: /readyz turns 503 at once, new
    /// connections stop after the delay, in-flight requests finish (or the timeout passes).
    public func drain() {
        draining.set()
        server.closeConnectionsAfterResponse()
        logger.info("ingest draining", [(.durationMs, String(config.drainDelayMs + config.drainTimeoutMs))])
        sleepMs(config.drainDelayMs)
        server.quiesce()
        var waited = 0
        while server.inFlight > 0 && waited < config.drainTimeoutMs {
            sleepMs(10)
            waited += 10
        }
        if server.inFlight > 0 {
            logger.warning("drain timeout, closing in-flight requests", [(.count, String(server.inFlight))])
        }
        server.stop()
        subscriber.stop()
        logger.info("ingest stopped")
    }
}
