import EESCore
import Synchronization

extension RedisConnection: @unchecked Sendable {}   // handed between threads by the pool, used by one at a time

/// A pool of blocking connections. Each call borrows a connection for its duration; a connection
/// that broke is dropped and the next call dials a new one, so the client recovers by itself when
/// Redis comes back. At most `poolIdleMax` idle connections are kept.
public final class RedisClient: Sendable {
    public let config: RedisConfig
    private let idle = Mutex<[RedisConnection]>([])
    private let latency: Histogram?

    /// `latency` observes each round trip in seconds (the Redis latency histogram on /metrics).
    public init(config: RedisConfig, latency: Histogram? = nil) {
        self.config = config
        self.latency = latency
    }

    /// Runs `body` with a connection from the pool (dialled if none is idle).
    public func withConnection<T>(_ body: (RedisConnection) throws(RedisError) -> T) throws(RedisError) -> T {
        // Idle connections the server has closed meanwhile (say Redis restarted) are dropped here,
        // not handed out to fail the caller's command. At most poolIdleMax are looked at.
        var pooled: RedisConnection?
        while pooled == nil, let c = idle.withLock({ $0.popLast() }) {
            if c.isUsableAfterIdle { pooled = c }
        }
        let conn: RedisConnection
        if let pooled { conn = pooled } else { conn = try RedisConnection(config) }
        let start = SystemTime().monotonicNs()
        defer {
            latency?.observe(Double(SystemTime().monotonicNs() - start) / 1e9)
            if !conn.broken {
                idle.withLock { if $0.count < config.poolIdleMax { $0.append(conn) } }
            }
        }
        return try body(conn)
    }

    public func command(_ args: [String]) throws(RedisError) -> RedisReply {
        try withConnection { c throws(RedisError) in try c.command(args) }
    }

    public func command(_ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        try withConnection { c throws(RedisError) in try c.command(args) }
    }

    public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        try withConnection { c throws(RedisError) in try c.pipeline(commands) }
    }

    /// True when Redis answers PING.
    public func ping() -> Bool {
        (try? command(["PING"])) == .status("PONG")
    }

    /// Drops idle connections (after Redis restarted, say).
    public func reset() { idle.withLock { $0.removeAll() } }
}

/// Command arguments from strings.
public func redisArgs(_ strings: String...) -> [[UInt8]] { strings.map { Array($0.utf8) } }
