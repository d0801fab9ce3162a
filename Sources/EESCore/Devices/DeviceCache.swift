import Synchronization

/// In-process cache of device records: a found record lives `ttlMs`, a miss (unknown device)
/// `negativeTTLMs`. At most `capacity` entries; when full, expired entries are dropped first and
/// then the whole cache is cleared (simple and bounded; a refill costs one Redis read per device).
public final class DeviceCache: Sendable {
    public struct Config: Sendable, Equatable {
        public var ttlMs: Int64 = 30_000
        public var negativeTTLMs: Int64 = 5_000
        public var capacity: Int = 100_000
        public init() {}
    }

    private struct Entry {
        let record: DeviceRecord?
        let expiresAtMs: Int64
    }

    private let config: Config
    private let entries = Mutex<[String: Entry]>([:])

    public init(config: Config) { self.config = config }

    /// `.some(record or nil)` when cached and fresh; `nil` when it must be loaded.
    public func lookup(_ id: String, nowMs: Int64) -> DeviceRecord?? {
        entries.withLock { map in
            guard let e = map[id] else { return nil }
            if e.expiresAtMs <= nowMs {
                map[id] = nil
                return nil
            }
            return .some(e.record)
        }
    }

    public func store(_ id: String, record: DeviceRecord?, nowMs: Int64) {
        let ttl = record == nil ? config.negativeTTLMs : config.ttlMs
        entries.withLock { map in
            if map.count >= config.capacity && map[id] == nil {
                map = map.filter { $0.value.expiresAtMs > nowMs }
                if map.count >= config.capacity { map.removeAll(keepingCapacity: true) }
            }
            map[id] = Entry(record: record, expiresAtMs: nowMs + ttl)
        }
    }

    /// Drops one device (on an invalidation message) or, with nil, everything (after the
    /// invalidation channel was down, when messages may have been missed).
    public func invalidate(_ id: String?) {
        entries.withLock { map in
            if let id { map[id] = nil } else { map.removeAll() }
        }
    }

    public var count: Int { entries.withLock { $0.count } }
}
