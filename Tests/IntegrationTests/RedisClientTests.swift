import EESRedis
import Testing

/// The Redis connection pool against the real server.
@Suite struct RedisClientTests {
    @Test func idleConnectionClosedByTheServerIsNotHandedOut() throws {
        // What a Redis restart does to every idle connection in the pool, done to one of them with
        // CLIENT KILL (the shared Redis itself keeps running).
        let config = try TestRedis.config()
        let client = RedisClient(config: config)
        let id = try #require(try client.command(["CLIENT", "ID"]).int)   // that connection is now idle in the pool
        let killed = try RedisClient(config: config).command(["CLIENT", "KILL", "ID", String(id)])
        #expect(killed == .integer(1))
        // The next call must not fail on the dead connection: it gets a fresh one.
        #expect(try client.command(["PING"]) == .status("PONG"))
        #expect(try client.command(["CLIENT", "ID"]).int != id)
    }

    @Test func liveIdleConnectionsAreReused() throws {
        let client = RedisClient(config: try TestRedis.config())
        let first = try client.command(["CLIENT", "ID"]).int
        #expect(try client.command(["CLIENT", "ID"]).int == first)
    }

    @Test func unreachableServerIsAnUnavailableError() throws {
        var config = try TestRedis.config()
        config.port = try closedPort()
        let client = RedisClient(config: config)
        #expect(!client.ping())
        do {
            _ = try client.command(["PING"])
            Issue.record("a command to a closed port succeeded")
        } catch {
            #expect(error.code == .unavailable)
            #expect(!error.description.contains("password"))
        }
    }
}
