import EESCore

/// Where Redis is and how long to wait for it. Every wait is bounded.
public struct RedisConfig: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 6379
    public var password: String?
    public var username: String?
    public var database: Int = 0
    public var connectTimeoutMs: Int = 1000
    /// Per command (read/write) timeout; a script holds Redis ~1 ms per 100 events.
    public var commandTimeoutMs: Int = 2000
    /// Idle connections kept for reuse; busy ones are not limited here but by the caller's
    /// threads (one connection per HTTP worker or role thread at a time).
    public var poolIdleMax: Int = 16

    public init() {}

    /// `redis://[[user]:password@]host[:port][/db]`.
    public init(url: String) throws(ConfigError) {
        self.init()
        guard url.hasPrefix("redis://") else { throw ConfigError("redis URL must start with redis:// (got a different scheme)") }
        var rest = Substring(url.dropFirst("redis://".count))
        if let at = rest.lastIndex(of: "@") {
            let cred = rest[..<at]
            rest = rest[rest.index(after: at)...]
            if let colon = cred.firstIndex(of: ":") {
                let user = String(cred[..<colon])
                username = user.isEmpty ? nil : user
                password = String(cred[cred.index(after: colon)...])
            } else {
                password = String(cred)
            }
        }
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            if !db.isEmpty {
                guard let n = Int(db), n >= 0 else { throw ConfigError("redis URL: database must be a number") }
                database = n
            }
            rest = rest[..<slash]
        }
        if let colon = rest.lastIndex(of: ":") {
            guard let p = Int(rest[rest.index(after: colon)...]), (1...65535).contains(p) else {
                throw ConfigError("redis URL: port must be 1-65535")
            }
            port = p
            rest = rest[..<colon]
        }
        if !rest.isEmpty { host = String(rest) }
    }

    /// host:port only: safe to log.
    public var endpoint: String { "\(host):\(port)" }
}
