import EESCore
import EESRedis
import Foundation

/// One subcommand: its options (each with an environment variable) and what it does.
struct Command: Sendable {
    let path: [String]
    let usage: String
    let summary: String
    let specs: [OptionSpec]
    let run: @Sendable (ParsedOptions) throws -> Int32
}

enum Exit {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 2
}

/// Options every command that talks to Redis shares.
enum CommonOptions {
    static let redis = [
        OptionSpec("redis", env: "EES_REDIS_URL", default: "redis://127.0.0.1:6379", help: "Redis URL redis://[:password@]host:port[/db]"),
        OptionSpec("redis-prefix", env: "EES_REDIS_PREFIX", default: "ees", help: "prefix of every Redis key"),
    ]
    static let logging = [
        OptionSpec("log-level", env: "EES_LOG_LEVEL", default: "info", help: "debug, info, warn or error"),
    ]

    static func redisConfig(_ o: ParsedOptions) throws(ConfigError) -> RedisConfig {
        try RedisConfig(url: o.require("redis"))
    }

    static func keys(_ o: ParsedOptions) throws(ConfigError) -> RedisKeys {
        let prefix = try o.require("redis-prefix")
        guard Identifier.isValid(prefix, maxBytes: 32) else { throw ConfigError("--redis-prefix: letters, digits and . _ : - only") }
        return RedisKeys(prefix: prefix)
    }

    static func logger(_ o: ParsedOptions) throws(ConfigError) -> Logger {
        let name = try o.require("log-level")
        guard let level = Logger.Level(name: name) else { throw ConfigError("--log-level: '\(name)' is not debug, info, warn or error") }
        return Logger(minimum: level)
    }
}

extension ParsedOptions {
    /// Commands without positional arguments refuse them: a stray `-x` or word must not, say, start
    /// a server with the default settings.
    func noPositionals() throws(ConfigError) {
        if let extra = positionals.first { throw ConfigError("unexpected argument '\(extra)'") }
    }
}

/// Writes to stdout at once (Swift 6 forbids touching the C `stdout` global).
func out(_ s: String) {
    var bytes = Array((s + "\n").utf8)
    bytes.withUnsafeMutableBytes { p in _ = write(1, p.baseAddress, p.count) }
}

func err(_ s: String) {
    var bytes = Array((s + "\n").utf8)
    bytes.withUnsafeMutableBytes { p in _ = write(2, p.baseAddress, p.count) }
}
