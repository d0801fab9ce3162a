import EESCore
import Testing

@Suite struct DedupWindowTests {
    let w = DedupWindow(widthMs: 600_000)

    @Test func bucketBoundaries() {
        #expect(w.bucket(atMs: 0) == 0)
        #expect(w.bucket(atMs: 599_999) == 0)
        #expect(w.bucket(atMs: 600_000) == 1)
        #expect(w.bucket(atMs: 1_199_999) == 1)
        #expect(w.bucket(atMs: 1_200_000) == 2)
        #expect(w.bucket(atMs: 1_700_000_000_000) == 2_833_333)
    }

    @Test func negativeTimesRoundDown() {
        // Floor division: -1 ms is in the bucket before 0, not bucket 0.
        #expect(w.bucket(atMs: -1) == -1)
        #expect(w.bucket(atMs: -600_000) == -1)
        #expect(w.bucket(atMs: -600_001) == -2)
        #expect(w.bucket(atMs: -1_200_000) == -2)
        let one = DedupWindow(widthMs: 1)
        #expect(one.bucket(atMs: -7) == -7)
        #expect(one.bucket(atMs: 7) == 7)
    }

    @Test func bucketsAreContiguousAndEachHasWidthW() {
        // Over a range crossing zero, every width-W run of milliseconds maps to one bucket.
        let small = DedupWindow(widthMs: 7)
        var previous = small.bucket(atMs: -50)
        var run = 0
        for t in Int64(-49)...50 {
            let b = small.bucket(atMs: t)
            if b == previous { run += 1 } else {
                #expect(b == previous + 1)
                previous = b
                run = 1
            }
            #expect(run <= 7)
            #expect(t - b * 7 >= 0 && t - b * 7 < 7, "t=\(t) b=\(b)")
        }
    }

    @Test func checksCurrentAndPreviousBucket() {
        let (current, previous) = w.buckets(atMs: 600_000)
        #expect(current == 1)
        #expect(previous == 0)
        let (c0, p0) = w.buckets(atMs: 5)
        #expect(c0 == 0 && p0 == -1)
    }

    @Test func bucketTTLIsTwoWidthsRoundedUpToSeconds() {
        #expect(w.bucketTTLSeconds == 1200)
        #expect(DedupWindow(widthMs: 1000).bucketTTLSeconds == 2)
        #expect(DedupWindow(widthMs: 1500).bucketTTLSeconds == 3)
        #expect(DedupWindow(widthMs: 1501).bucketTTLSeconds == 4)
        #expect(DedupWindow(widthMs: 1).bucketTTLSeconds == 1)   // never 0: EXPIRE 0 would delete at once
    }

    @Test func rememberedBetweenWAnd2W() {
        #expect(w.guaranteedMs == 600_000)
        #expect(w.maximumMs == 1_200_000)
        // An id stored at the very end of a bucket is still checked W later (as "previous"),
        // and one stored at its start is still checked 2W - 1 ms later.
        let stored = w.bucket(atMs: 599_999)
        #expect(w.buckets(atMs: 599_999 + w.guaranteedMs).previous == stored)
        let early = w.bucket(atMs: 600_000)
        #expect(w.buckets(atMs: 600_000 + w.maximumMs - 1).previous == early)
        #expect(w.buckets(atMs: 600_000 + w.maximumMs).previous != early)
        // The bucket's key lives long enough: it is last read at the end of the next bucket.
        #expect(w.bucketTTLSeconds * 1000 >= w.maximumMs)
    }

    @Test func zeroWidthIsAProgrammingError() async {
        await #expect(processExitsWith: .failure) {
            _ = DedupWindow(widthMs: 0)
        }
    }
}

/// A chunk as (stream key, event indexes), comparable in #expect.
struct Layout: Equatable, CustomStringConvertible {
    let key: String
    let indexes: [Int]
    init(_ key: String, _ indexes: [Int]) { self.key = key; self.indexes = indexes }
    var description: String { "\(key)=\(indexes)" }
}

func layout(_ chunks: [StreamChunk]) -> [Layout] { chunks.map { Layout($0.streamKey, $0.eventIndexes) } }

@Suite struct StreamResolutionTests {
    @Test func orderIsEventThenRequestThenDeviceThenDeviceID() {
        #expect(StreamResolution.streamKey(event: "ev", request: "rq", device: "dv", deviceID: "id") == "ev")
        #expect(StreamResolution.streamKey(event: nil, request: "rq", device: "dv", deviceID: "id") == "rq")
        #expect(StreamResolution.streamKey(event: nil, request: nil, device: "dv", deviceID: "id") == "dv")
        #expect(StreamResolution.streamKey(event: nil, request: nil, device: nil, deviceID: "id") == "id")
        #expect(StreamResolution.streamKey(event: "ev", request: nil, device: nil, deviceID: "id") == "ev")
    }

    @Test func oneChunkWhenNoEventNamesAStream() {
        let b = makeBatch(deviceID: "dev-1", events: events(4))
        #expect(layout(StreamResolution.chunks(of: b, deviceStreamKey: nil)) == [Layout("dev-1", [0, 1, 2, 3])])
        #expect(layout(StreamResolution.chunks(of: b, deviceStreamKey: "from-device"))
            == [Layout("from-device", [0, 1, 2, 3])])
        let r = makeBatch(deviceID: "dev-1", streamKey: "from-request", events: events(2))
        #expect(layout(StreamResolution.chunks(of: r, deviceStreamKey: "from-device"))
            == [Layout("from-request", [0, 1])])
    }

    @Test func chunksInOrderOfFirstAppearanceEventsInRequestOrder() {
        var evs = events(7)
        evs[0].streamKey = "b"
        evs[2].streamKey = "a"
        evs[3].streamKey = "b"
        evs[5].streamKey = "a"
        let batch = makeBatch(deviceID: "dev-1", streamKey: "req", events: evs)
        #expect(layout(StreamResolution.chunks(of: batch, deviceStreamKey: "dv")) == [
            Layout("b", [0, 3]),
            Layout("req", [1, 4, 6]),
            Layout("a", [2, 5]),
        ])
    }

    @Test func eventNamingTheFallbackStreamJoinsItsChunk() {
        var evs = events(3)
        evs[1].streamKey = "dev-1"
        let batch = makeBatch(deviceID: "dev-1", events: evs)
        #expect(layout(StreamResolution.chunks(of: batch, deviceStreamKey: nil)) == [Layout("dev-1", [0, 1, 2])])
        evs[2].streamKey = "other"
        #expect(layout(StreamResolution.chunks(of: makeBatch(deviceID: "dev-1", events: evs), deviceStreamKey: nil)) == [
            Layout("dev-1", [0, 1]),
            Layout("other", [2]),
        ])
    }

    @Test func everyEventInExactlyOneChunk() {
        var evs = events(50)
        for i in evs.indices where i % 3 != 0 { evs[i].streamKey = "s\(i % 5)" }
        let chunks = StreamResolution.chunks(of: makeBatch(events: evs), deviceStreamKey: nil)
        #expect(chunks.flatMap(\.eventIndexes).sorted() == Array(0..<50))
        #expect(Set(chunks.map(\.streamKey)).count == chunks.count)
        for c in chunks { #expect(c.eventIndexes == c.eventIndexes.sorted()) }
    }
}

@Suite struct JSONLineSafetyTests {
    @Test func compactJSONIsUntouched() {
        let text = #"{"a":"x\ny","b":[1,2]}"#
        var bytes = Array(text.utf8)
        #expect(JSONLineSafety.makeLineSafe(&bytes, range: bytes.indices) == 0)
        #expect(bytes == Array(text.utf8))
    }

    @Test func rawLineBreaksBecomeSpacesKeepingLength() {
        var bytes = Array("{\n\"a\":\r\n1\n}".utf8)
        let before = bytes.count
        #expect(JSONLineSafety.makeLineSafe(&bytes, range: bytes.indices) == 4)
        #expect(String(decoding: bytes, as: UTF8.self) == "{ \"a\":  1 }")
        #expect(bytes.count == before)
        #expect(!bytes.contains(0x0A) && !bytes.contains(0x0D))
    }

    @Test func onlyTheRangeIsChanged() {
        var bytes = Array("\n{\n}\n".utf8)
        #expect(JSONLineSafety.makeLineSafe(&bytes, range: 1..<4) == 1)
        #expect(bytes == Array("\n{ }\n".utf8))
        #expect(JSONLineSafety.makeLineSafe(&bytes, range: 2..<2) == 0)
    }
}

@Suite struct RedisKeysTests {
    @Test func keyNamesCarryTheStreamHashTag() {
        let k = RedisKeys()
        #expect(k.device("d1") == "ees:device:{d1}")
        #expect(k.seq("s1") == "ees:s:{s1}:seq")
        #expect(k.dedup("s1", bucket: 2_833_333) == "ees:s:{s1}:dd:2833333")
        #expect(k.dedup("s1", bucket: -1) == "ees:s:{s1}:dd:-1")
        #expect(k.buffer("s1") == "ees:s:{s1}:buf")
        #expect(k.meta("s1") == "ees:s:{s1}:meta")
        #expect(k.segments("s1") == "ees:s:{s1}:segs")
        #expect(k.dirty(partition: 3) == "ees:p:{3}:dirty")
        #expect(k.lease(partition: 3) == "ees:p:{3}:lease")
        #expect(k.epoch(partition: 3) == "ees:p:{3}:epoch")
        #expect(k.notifications(partition: 3) == "ees:p:{3}:segments")
        #expect(k.deviceInvalidationChannel == "ees:device-invalidate")
        #expect(RedisKeys(prefix: "t1").buffer("x") == "t1:s:{x}:buf")
        #expect(RedisKeys(prefix: "t1").devicePattern == "t1:device:*")
    }
}

@Suite struct PartitioningTests {
    /// Pinned values (FNV-1a 32-bit, computed independently): changing the hash would move every
    /// stream to another partition on upgrade, so these must never change.
    @Test(arguments: [("", 16, 5), ("a", 16, 12), ("d1", 16, 6), ("sensor-42", 16, 0), ("factory:line-7", 16, 11),
                      ("ü", 16, 10), ("d1", 4096, 998), ("factory:line-7", 4096, 1819), ("d1", 1, 0)])
    func stableValues(key: String, count: Int, expected: Int) {
        #expect(Partitioning.partition(of: key, count: count) == expected)
    }

    @Test func spreadsStreams() {
        var seen = Array(repeating: 0, count: 16)
        for i in 0..<1600 { seen[Partitioning.partition(of: "device-\(i)", count: 16)] += 1 }
        #expect(seen.allSatisfy { $0 > 50 && $0 < 150 }, "\(seen)")
    }
}
