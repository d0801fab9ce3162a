import EESCore
import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Listens on one Pub/Sub channel on its own thread and hands each message to `onMessage`. When
/// the connection drops it reconnects with capped backoff and calls `onReconnect` (messages sent
/// meanwhile were missed, so a cache should be dropped whole). `stop()` returns within ~`pollMs`.
public final class RedisSubscriber: Sendable {
    private let config: RedisConfig
    private let channel: String
    private let onMessage: @Sendable (String) -> Void
    private let onReconnect: @Sendable () -> Void
    private let logger: Logger
    private let stopping = Atomic<Bool>(false)
    private let done = Mutex<Bool>(false)
    private let pollMs: Int32 = 200
    private let backoffMaxMs = 5_000

    public init(config: RedisConfig, channel: String, logger: Logger, onMessage: @escaping @Sendable (String) -> Void,
                onReconnect: @escaping @Sendable () -> Void) {
        self.config = config
        self.channel = channel
        self.logger = logger
        self.onMessage = onMessage
        self.onReconnect = onReconnect
    }

    public func start() {
        let thread = Thread { [self] in
            run()
            done.withLock { $0 = true }
        }
        thread.name = "ees-redis-subscriber"
        thread.start()
    }

    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func run() {
        var backoffMs = 100
        var first = true
        while !stopping.load(ordering: .relaxed) {
            do {
                let conn = try RedisConnection(config)
                let r = try conn.command(["SUBSCRIBE", channel])
                guard r.array?.first?.text == "subscribe" else { throw RedisError(.protocolViolation, "SUBSCRIBE refused") }
                if !first { onReconnect() }
                first = false
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
                first = false
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
