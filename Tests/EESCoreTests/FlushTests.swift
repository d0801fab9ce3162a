import EESCore
import Testing

@Suite struct FlushPolicyTests {
    let policy: FlushPolicy = {
        var p = FlushPolicy()
        p.eventsMax = 10
        p.bytesMax = 1000
        p.ageMaxMs = 5000
        return p
    }()

    @Test func flushesOnCountBytesOrAge() {
        #expect(!policy.shouldFlush(bufferedEvents: 0, bufferedBytes: 0, oldestMs: 0, nowMs: 1_000_000))
        #expect(!policy.shouldFlush(bufferedEvents: 9, bufferedBytes: 999, oldestMs: 1000, nowMs: 5999))
        #expect(policy.shouldFlush(bufferedEvents: 10, bufferedBytes: 1, oldestMs: 1000, nowMs: 1000))
        #expect(policy.shouldFlush(bufferedEvents: 1, bufferedBytes: 1000, oldestMs: 1000, nowMs: 1000))
        #expect(policy.shouldFlush(bufferedEvents: 1, bufferedBytes: 1, oldestMs: 1000, nowMs: 6000))
    }

    private func entry(_ first: Int64, _ n: Int, bytes: Int) -> BufferEntry {
        BufferEntry(firstSeq: first, count: n, deviceID: "d", batchID: "b", tsIngestMs: 0, events: Array(repeating: 0x61, count: bytes))
    }

    @Test func segmentsEndAtAnEntryBoundary() {
        // 4 + 4 + 4 events: the count limit (10) is reached inside the third entry, which is kept whole.
        let e = [entry(1, 4, bytes: 10), entry(5, 4, bytes: 10), entry(9, 4, bytes: 10), entry(13, 4, bytes: 10)]
        #expect(policy.entriesForSegment(e) == 3)
        // Size limit first.
        let big = [entry(1, 1, bytes: 600), entry(2, 1, bytes: 600), entry(3, 1, bytes: 1)]
        #expect(policy.entriesForSegment(big) == 2)
        // A single oversized entry still makes a segment on its own.
        #expect(policy.entriesForSegment([entry(1, 50, bytes: 5000)]) == 1)
        #expect(policy.entriesForSegment([entry(1, 2, bytes: 5), entry(3, 2, bytes: 5)]) == 2)
        #expect(policy.entriesForSegment([]) == 0)
    }
}

@Suite struct LeaseStateTests {
    @Test func heldUntilTTLMinusSafetyAfterTheRequestStarted() {
        var s = LeaseState(ttlMs: 10_000, safetyMs: 1000)
        #expect(!s.isHeld(nowMs: 0))
        s.acquired(epoch: 7, requestStartedMs: 100_000)
        #expect(s.epoch == 7)
        #expect(s.isHeld(nowMs: 108_999))
        #expect(!s.isHeld(nowMs: 109_000))
    }

    @Test func renewsAtAThirdOfTheTTL() {
        var s = LeaseState(ttlMs: 9000, safetyMs: 900)
        s.acquired(epoch: 1, requestStartedMs: 0)
        #expect(!s.needsRenewal(nowMs: 2999))
        #expect(s.needsRenewal(nowMs: 3000))
        s.renewed(requestStartedMs: 3000)
        #expect(!s.needsRenewal(nowMs: 5999))
        #expect(s.isHeld(nowMs: 11_099))
        #expect(!s.isHeld(nowMs: 11_100))
    }

    @Test func lostMeansNotHeld() {
        var s = LeaseState(ttlMs: 10_000)
        s.acquired(epoch: 3, requestStartedMs: 0)
        s.lost()
        #expect(!s.isHeld(nowMs: 1))
        #expect(s.epoch == nil)
        #expect(!s.needsRenewal(nowMs: 100_000))
    }
}

@Suite struct SegmentFormatTests {
    @Test func keysArePaddedSoListingOrderIsSeqOrder() {
        let a = SegmentFormat.key(stream: "s-1", range: SeqRange(start: 9, end: 10))
        let b = SegmentFormat.key(stream: "s-1", range: SeqRange(start: 11, end: 100))
        #expect(a == "stream/s-1/seg/00000000000000000009-00000000000000000010.jsonl")
        #expect(a < b)
        #expect(SegmentFormat.range(ofKey: b) == SeqRange(start: 11, end: 100))
        #expect(SegmentFormat.range(ofKey: "stream/s-1/seg/x.jsonl") == nil)
        #expect(SegmentFormat.range(ofKey: "stream/s-1/seg/5-3.jsonl") == nil)
    }

    @Test func linesNestTheEventByteForByte() {
        let events = Array(#"{"event_id":"a","payload":{"t":1.50}}"#.utf8) + [0x0A] + Array(#"{"event_id":"b\n","x":[ 1 ]}"#.utf8)
        let entry = BufferEntry(firstSeq: 41, count: 2, deviceID: "dev-1", batchID: "b\"q", tsIngestMs: 1700, events: events)
        var out: [UInt8] = []
        let n = SegmentFormat.appendLines(streamKey: "s", entries: [entry], to: &out)
        #expect(n == 2)
        let text = String(decoding: out, as: UTF8.self)
        #expect(text == #"{"seq":41,"stream_key":"s","device_id":"dev-1","batch_id":"b\"q","ts_ingest_ms":1700,"event":{"event_id":"a","payload":{"t":1.50}}}"# + "\n"
            + #"{"seq":42,"stream_key":"s","device_id":"dev-1","batch_id":"b\"q","ts_ingest_ms":1700,"event":{"event_id":"b\n","x":[ 1 ]}}"# + "\n")
        let lines = out.split(separator: 0x0A)
        #expect(lines.map { SegmentFormat.seq(ofLine: $0) } == [41, 42])
    }

    @Test func sameEntriesSameBytes() {
        let entry = BufferEntry(firstSeq: 1, count: 1, deviceID: "d", batchID: "b", tsIngestMs: 5, events: Array(#"{"a":1}"#.utf8))
        var x: [UInt8] = [], y: [UInt8] = []
        SegmentFormat.appendLines(streamKey: "s", entries: [entry], to: &x)
        SegmentFormat.appendLines(streamKey: "s", entries: [entry], to: &y)
        #expect(x == y)
    }

    @Test func seqOfLineRejectsOtherShapes() {
        #expect(SegmentFormat.seq(ofLine: Array(#"{"seq":12,"x":1}"#.utf8)[...]) == 12)
        #expect(SegmentFormat.seq(ofLine: Array(#"{"seq":,"x":1}"#.utf8)[...]) == nil)
        #expect(SegmentFormat.seq(ofLine: Array(#"{"other":1}"#.utf8)[...]) == nil)
        #expect(SegmentFormat.seq(ofLine: Array(#"{"seq":12"#.utf8)[...]) == nil)
    }
}

@Suite struct SeqRangeTests {
    @Test func parsesAndCounts() {
        #expect(SeqRange(parsing: "3-7") == SeqRange(start: 3, end: 7))
        #expect(SeqRange(parsing: "3-7")?.count == 5)
        #expect(SeqRange(parsing: "0-7") == nil)
        #expect(SeqRange(parsing: "8-7") == nil)
        #expect(SeqRange(parsing: "x") == nil)
        #expect(SeqRange(start: 1, end: 1).description == "1-1")
    }
}
