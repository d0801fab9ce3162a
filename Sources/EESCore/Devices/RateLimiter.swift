import Synchronization

/// Per-device token buckets on one node, counted in events. A device may send `eventsPerSecond`
/// on average with bursts up to `burstEvents`. The limit is per node: behind a balancer spreading
/// a device over N nodes, the device's cluster-wide limit is up to N times this (docs/http-api.md).
/// At most `capacity` devices are tracked; when full, idle (refilled) buckets are dropped first.
public final class RateLimiter: Sendable {
    public struct Config: Sendable, Equatable {
        /// 0 disables the limit.
        public var eventsPerSecond: Double = 20_000
        public var burstEvents: Double = 40_000
        public var capacity: Int = 100_000
        public init() {}
    }

    private struct Bucket {
        var tokens: Double
        var updatedMs: Int64
    }

    private let config: Config
    private let buckets = Mutex<[String: Bucket]>([:])

    public init(config: Config) { self.config = config }

    /// Takes `events` tokens; returns nil when allowed, else the seconds to wait before retrying.
    public func take(device: String, events: Int, nowMs: Int64) -> Int? {
        guard config.eventsPerSecond > 0 else { return nil }
        let need = Double(events)
        return buckets.withLock { map in
            var b = map[device] ?? Bucket(tokens: config.burstEvents, updatedMs: nowMs)
            let elapsed = Double(max(0, nowMs - b.updatedMs)) / 1000
            b.tokens = min(config.burstEvents, b.tokens + elapsed * config.eventsPerSecond)
            b.updatedMs = nowMs
            if b.tokens >= need {
                b.tokens -= need
                store(&map, device, b, nowMs: nowMs)
                return nil
            }
            store(&map, device, b, nowMs: nowMs)
            // A request larger than the burst can never pass; it still gets a finite answer.
            let missing = min(need, config.burstEvents) - b.tokens
            return max(1, Int((missing / config.eventsPerSecond).rounded(.up)))
        }
    }

    private func store(_ map: inout [String: Bucket], _ device: String, _ b: Bucket, nowMs: Int64) {
        if map.count >= config.capacity && map[device] == nil {
            let fullAfterMs = Int64(config.burstEvents / config.eventsPerSecond * 1000)
            map = map.filter { nowMs - $0.value.updatedMs < fullAfterMs }
            if map.count >= config.capacity { map.removeAll(keepingCapacity: true) }
        }
        map[device] = b
    }
}
