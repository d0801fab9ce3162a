import EESCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Listens on one Pub/Sub channel on its own thread and hands each message to `onMessage`. When
/// the connection drops it reconnects with capped backoff. `onSubscribed` runs after every
/// successful SUBSCRIBE, the first included: messages sent before it were missed, so a cache
/// filled meanwhile should be dropped whole. `stop()` returns within ~`pollMs`.
public final class RedisSubscriber: Sendable {
    private let config: RedisConfig
    private let channel: String
    private let onMessage: @Sendable (String) -> Void
    private let onSubscribed: @Sendable () -> Void
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let pollMs: Int32 = 200
    private let backoffMaxMs = 5_000

    public init(config: RedisConfig, channel: String, logger: Logger, onMessage: @escaping @Sendable (String) -> Void,
                onSubscribed: @escaping @Sendable () -> Void) {
        self.config = config
        self.channel = channel
        self.logger = logger
        self.onMessage = onMessage
        self.onSubscribed = onSubscribed
    }

    public func start() {
        let thread = Thread { [self] in
            run()
        }
        thread.name = "ees-redis-subscriber"
        thread.start()
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func run() {
        var backoffMs = 100
        while !stopping.load(ordering: .relaxed) {
            do {
                let conn = try RedisConnection(config)
                let r = try conn.command(["SUBSCRIBE", channel])
                guard r.array?.first?.text == "subscribe" else { throw RedisError(.protocolViolation, "SUBSCRIBE refused") }
                // Messages published before this subscription (at start-up, or while disconnected)
                // were missed: whatever was cached until now may be stale.
                onSubscribed()
                backoffMs = 100
                try listen(conn)
            } catch {
                if stopping.load(ordering: .relaxed) { break }
                logger.warning("invalidation channel down, retrying", [(.error, "\(error)")])
                let wait = Int.random(in: backoffMs / 2...backoffMs)
                var slept = 0
                while slept < wait && !stopping.load(ordering: .relaxed) {
                    usleep(50_000)
                    slept += 50
                }
                backoffMs = min(backoffMs * 2, backoffMaxMs)
            }
        }
    }

    private func listen(_ conn: RedisConnection) throws(RedisError) {
        while !stopping.load(ordering: .relaxed) {
            var pfd = pollfd(fd: conn.fd, events: Int16(POLLIN), revents: 0)
            let n = poll(&pfd, 1, pollMs)
            if n < 0 && errno != EINTR { throw RedisError(.unavailable, "poll failed") }
            guard n > 0 else { continue }
            // One read can bring several messages; hand over every one of them before polling again
            // (bounded: only what the one read brought is buffered).
            var next: RedisReply? = try conn.readReply()
            while let msg = next {
                if let a = msg.array, a.count == 3, a[0].text == "message", let payload = a[2].text {
                    onMessage(payload)
                }
                next = try conn.bufferedReply()
            }
        }
    }
}
