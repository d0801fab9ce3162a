import EESCore
import Synchronization

/// A Lua script run with EVALSHA. The SHA-1 comes from Redis itself (SCRIPT LOAD), and a NOSCRIPT
/// reply (Redis restarted without the script cache) loads it again and retries once.
public final class RedisScript: Sendable {
    public let source: String
    private let sha = Mutex<[UInt8]?>(nil)

    public init(source: String) { self.source = source }

    /// One EVALSHA per call, pipelined on one connection: one round trip for all of them.
    public func run(on conn: RedisConnection, calls: [(keys: [String], args: [[UInt8]])]) throws(RedisError) -> [RedisReply] {
        var digest = try loadedSHA(conn)
        var replies = try conn.pipeline(calls.map { command(digest, $0.keys, $0.args) })
        let missing = replies.indices.filter { if case .error(let e) = replies[$0] { e.hasPrefix("NOSCRIPT") } else { false } }
        if !missing.isEmpty {
            digest = try load(conn)
            let retried = try conn.pipeline(missing.map { command(digest, calls[$0].keys, calls[$0].args) })
            for (i, r) in zip(missing, retried) { replies[i] = r }
        }
        return replies
    }

    private func command(_ digest: [UInt8], _ keys: [String], _ args: [[UInt8]]) -> [[UInt8]] {
        var cmd: [[UInt8]] = [Array("EVALSHA".utf8), digest, Array(String(keys.count).utf8)]
        cmd.reserveCapacity(3 + keys.count + args.count)
        for k in keys { cmd.append(Array(k.utf8)) }
        cmd.append(contentsOf: args)
        return cmd
    }

    private func loadedSHA(_ conn: RedisConnection) throws(RedisError) -> [UInt8] {
        if let s = sha.withLock({ $0 }) { return s }
        return try load(conn)
    }

    private func load(_ conn: RedisConnection) throws(RedisError) -> [UInt8] {
        let r = try conn.command(["SCRIPT", "LOAD", source])
        guard let digest = r.bytes else { throw RedisError(.server, "SCRIPT LOAD failed: \(r)") }
        sha.withLock { $0 = digest }
        return digest
    }
}
