import EESCore
import Testing

private func record(_ id: String, status: DeviceRecord.Status = .active) -> DeviceRecord {
    DeviceRecord(deviceID: id, status: status, apiKeyHash: String(repeating: "ab", count: 32))
}

@Suite struct DeviceCacheTests {
    func cache(ttl: Int64 = 30_000, negative: Int64 = 5_000, capacity: Int = 100) -> DeviceCache {
        var c = DeviceCache.Config()
        c.ttlMs = ttl
        c.negativeTTLMs = negative
        c.capacity = capacity
        return DeviceCache(config: c)
    }

    @Test func missWhenNeverStored() {
        #expect(cache().lookup("d1", nowMs: 0) == nil)
    }

    @Test func recordLivesForItsTTL() {
        let time = ManualTime()
        let c = cache(ttl: 30_000)
        c.store("d1", record: record("d1"), nowMs: time.nowMs())
        time.advance(ms: 29_999)
        #expect(c.lookup("d1", nowMs: time.nowMs()) == .some(record("d1")))
        time.advance(ms: 1)
        #expect(c.lookup("d1", nowMs: time.nowMs()) == nil)   // expired at exactly ttl
        #expect(c.count == 0)                                  // and dropped
    }

    @Test func unknownDeviceIsCachedForTheNegativeTTL() {
        let time = ManualTime()
        let c = cache(ttl: 30_000, negative: 5_000)
        c.store("ghost", record: nil, nowMs: time.nowMs())
        let hit = c.lookup("ghost", nowMs: time.nowMs())
        #expect(hit != nil, "a cached miss is an answer")
        #expect(hit! == nil, "and the answer is 'no such device'")
        time.advance(ms: 4_999)
        #expect(c.lookup("ghost", nowMs: time.nowMs()) != nil)
        time.advance(ms: 1)
        #expect(c.lookup("ghost", nowMs: time.nowMs()) == nil)
    }

    @Test func storingReplacesAndRestartsTheTTL() {
        let time = ManualTime()
        let c = cache(ttl: 1_000)
        c.store("d1", record: record("d1"), nowMs: time.nowMs())
        time.advance(ms: 900)
        c.store("d1", record: record("d1", status: .disabled), nowMs: time.nowMs())
        time.advance(ms: 900)
        #expect(c.lookup("d1", nowMs: time.nowMs())??.status == .disabled)
        #expect(c.count == 1)
    }

    @Test func invalidateOneOrAll() {
        let c = cache()
        for id in ["a", "b", "c"] { c.store(id, record: record(id), nowMs: 0) }
        c.invalidate("b")
        #expect(c.lookup("b", nowMs: 1) == nil)
        #expect(c.lookup("a", nowMs: 1) != nil)
        #expect(c.count == 2)
        c.invalidate("not-there")
        #expect(c.count == 2)
        c.invalidate(nil)
        #expect(c.count == 0)
        #expect(c.lookup("a", nowMs: 1) == nil)
    }

    @Test func capacityDropsExpiredEntriesFirst() {
        let time = ManualTime()
        let c = cache(ttl: 1_000, capacity: 3)
        c.store("old1", record: record("old1"), nowMs: time.nowMs())
        c.store("old2", record: record("old2"), nowMs: time.nowMs())
        time.advance(ms: 600)
        c.store("fresh", record: record("fresh"), nowMs: time.nowMs())
        time.advance(ms: 400)   // old1, old2 expired; fresh has 600 ms left
        c.store("new", record: record("new"), nowMs: time.nowMs())
        #expect(c.count == 2)
        #expect(c.lookup("fresh", nowMs: time.nowMs()) != nil)
        #expect(c.lookup("new", nowMs: time.nowMs()) != nil)
    }

    @Test func capacityIsAHardBound() {
        let c = cache(ttl: 1_000_000, capacity: 10)
        for i in 0..<1_000 {
            c.store("d\(i)", record: record("d\(i)"), nowMs: 0)
            #expect(c.count <= 10)
        }
        #expect(c.lookup("d999", nowMs: 1) != nil, "the newest entry is always kept")
        // Replacing an entry of a full cache does not clear it.
        let before = c.count
        c.store("d999", record: record("d999", status: .disabled), nowMs: 1)
        #expect(c.count == before)
    }
}

@Suite struct RateLimiterTests {
    func limiter(rate: Double = 10, burst: Double = 20, capacity: Int = 1000) -> RateLimiter {
        var c = RateLimiter.Config()
        c.eventsPerSecond = rate
        c.burstEvents = burst
        c.capacity = capacity
        return RateLimiter(config: c)
    }

    @Test func burstThenRefused() {
        let l = limiter(rate: 10, burst: 20)
        #expect(l.take(device: "d", events: 15, nowMs: 0) == nil)
        #expect(l.take(device: "d", events: 5, nowMs: 0) == nil)
        #expect(l.take(device: "d", events: 1, nowMs: 0) == 1)
    }

    @Test func refusedRequestTakesNothing() {
        let l = limiter(rate: 10, burst: 20)
        #expect(l.take(device: "d", events: 20, nowMs: 0) == nil)
        #expect(l.take(device: "d", events: 10, nowMs: 500) == 1)    // 5 tokens: refused
        #expect(l.take(device: "d", events: 5, nowMs: 500) == nil)   // the 5 are still there
    }

    @Test func refillsAtTheRate() {
        let l = limiter(rate: 10, burst: 20)
        #expect(l.take(device: "d", events: 20, nowMs: 0) == nil)
        #expect(l.take(device: "d", events: 10, nowMs: 999) != nil)
        #expect(l.take(device: "d", events: 10, nowMs: 1_000) == nil)
    }

    @Test func refillIsCappedAtTheBurst() {
        let l = limiter(rate: 10, burst: 20)
        #expect(l.take(device: "d", events: 20, nowMs: 0) == nil)
        #expect(l.take(device: "d", events: 20, nowMs: 3_600_000) == nil)
        #expect(l.take(device: "d", events: 1, nowMs: 3_600_000) == 1)
    }

    @Test func retryAfterIsTheSecondsUntilEnoughTokensRoundedUp() {
        let l = limiter(rate: 10, burst: 100)
        #expect(l.take(device: "d", events: 100, nowMs: 0) == nil)
        #expect(l.take(device: "d", events: 1, nowMs: 0) == 1)     // 0.1 s → 1
        #expect(l.take(device: "d", events: 25, nowMs: 0) == 3)    // 2.5 s → 3
        #expect(l.take(device: "d", events: 100, nowMs: 0) == 10)
        // A request larger than the burst can never pass; the answer is still finite.
        #expect(l.take(device: "d", events: 1_000_000, nowMs: 0) == 10)
        #expect(l.take(device: "fresh", events: 101, nowMs: 0) == 1)
    }

    @Test func devicesAreIndependent() {
        let l = limiter(rate: 1, burst: 1)
        #expect(l.take(device: "a", events: 1, nowMs: 0) == nil)
        #expect(l.take(device: "a", events: 1, nowMs: 0) != nil)
        #expect(l.take(device: "b", events: 1, nowMs: 0) == nil)
    }

    @Test func zeroRateDisablesTheLimit() {
        let l = limiter(rate: 0, burst: 1)
        for _ in 0..<100 { #expect(l.take(device: "d", events: 1_000, nowMs: 0) == nil) }
    }

    @Test func clockGoingBackwardsGivesNoTokens() {
        let l = limiter(rate: 10, burst: 10)
        #expect(l.take(device: "d", events: 10, nowMs: 10_000) == nil)
        #expect(l.take(device: "d", events: 1, nowMs: 0) != nil)
    }

    @Test func capacityDropsIdleBucketsFirst() {
        // Full after burst/rate = 10 s idle.
        let l = limiter(rate: 1, burst: 10, capacity: 2)
        #expect(l.take(device: "idle", events: 10, nowMs: 0) == nil)
        #expect(l.take(device: "busy", events: 10, nowMs: 10_000) == nil)
        #expect(l.take(device: "new", events: 1, nowMs: 10_000) == nil)   // full: "idle" (refilled) goes
        #expect(l.take(device: "busy", events: 1, nowMs: 10_000) != nil, "a busy device keeps its empty bucket")
    }

    @Test func capacityIsAHardBoundEvenWhenAllAreBusy() {
        // All buckets busy: the map is cleared rather than grown. Forgetting gives a device a fresh
        // burst, which is the documented price of the bound.
        let l = limiter(rate: 1, burst: 10, capacity: 2)
        #expect(l.take(device: "a", events: 10, nowMs: 0) == nil)
        #expect(l.take(device: "b", events: 10, nowMs: 0) == nil)
        #expect(l.take(device: "a", events: 1, nowMs: 0) != nil)
        #expect(l.take(device: "c", events: 1, nowMs: 0) == nil)
        #expect(l.take(device: "a", events: 10, nowMs: 0) == nil)
    }
}

@Suite struct DeviceRecordTests {
    @Test func fieldsRoundTrip() {
        let r = DeviceRecord(deviceID: "d1", status: .disabled, apiKeyHash: "00ff", streamKey: "s", tenant: "t", site: "si",
                             line: "l", machine: "m", ed25519PublicKey: "pk")
        let fields = Dictionary(uniqueKeysWithValues: r.fields)
        #expect(fields == ["status": "disabled", "api_key_hash": "00ff", "stream_key": "s", "tenant": "t", "site": "si",
                           "line": "l", "machine": "m", "ed25519_pubkey": "pk"])
        #expect(DeviceRecord(deviceID: "d1", fields: fields) == r)
    }

    @Test func absentOptionalsAreNotWritten() {
        let r = DeviceRecord(deviceID: "d1", status: .active, apiKeyHash: "h")
        #expect(r.fields.map(\.0) == ["status", "api_key_hash"])
    }

    @Test func incompleteOrInvalidHashIsNoRecord() {
        #expect(DeviceRecord(deviceID: "d1", fields: ["status": "active"]) == nil)
        #expect(DeviceRecord(deviceID: "d1", fields: ["api_key_hash": "h"]) == nil)
        #expect(DeviceRecord(deviceID: "d1", fields: ["status": "paused", "api_key_hash": "h"]) == nil)
        #expect(DeviceRecord(deviceID: "d1", fields: [:]) == nil)
    }
}
