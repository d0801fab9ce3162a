import EESCore
import Testing

/// Semantic validation of an indexed batch (presence and JSON types are the indexer's job and are
/// tested in EESJSONTests). Messages are exact: clients see them.
@Suite struct IngestValidatorTests {
    let validator = IngestValidator(limits: IngestLimits())

    func message(_ b: IngestBatch, _ v: IngestValidator? = nil) -> String? {
        (v ?? validator).validate(b).map { e in
            #expect(e.code == .invalidRequest)
            #expect(e.status == 400)
            return e.message
        }
    }

    @Test func validBatchPasses() {
        #expect(message(makeBatch(events: events(3))) == nil)
    }

    @Test(arguments: [
        ("", "device_id: must not be empty"),
        ("dev 1", "device_id: only letters, digits and . _ : - are allowed"),
        ("dev/1", "device_id: only letters, digits and . _ : - are allowed"),
        ("dev{1}", "device_id: only letters, digits and . _ : - are allowed"),
        ("dev-😀", "device_id: only letters, digits and . _ : - are allowed"),
        ("ｄｅｖ１", "device_id: only letters, digits and . _ : - are allowed"),    // full-width look-alikes
        ("dévice", "device_id: only letters, digits and . _ : - are allowed"),
        (".", "device_id: must not be '.' or '..'"),
        ("..", "device_id: must not be '.' or '..'"),
        (String(repeating: "d", count: 129), "device_id: longer than 128 bytes"),
    ])
    func deviceIDIsARestrictedIdentifier(id: String, expected: String) {
        #expect(message(makeBatch(deviceID: id, events: events(1))) == expected)
    }

    @Test(arguments: ["d", "A.b_c:d-e", "...", String(repeating: "d", count: 128)])
    func deviceIDAccepted(id: String) {
        #expect(message(makeBatch(deviceID: id, events: events(1))) == nil)
    }

    @Test func requestStreamKeyIsAnIdentifier() {
        #expect(message(makeBatch(streamKey: "line 7", events: events(1))) == "stream_key: only letters, digits and . _ : - are allowed")
        #expect(message(makeBatch(streamKey: "..", events: events(1))) == "stream_key: must not be '.' or '..'")
        #expect(message(makeBatch(streamKey: "", events: events(1))) == "stream_key: must not be empty")
        #expect(message(makeBatch(streamKey: "plant-1:line-7", events: events(1))) == nil)
    }

    @Test func eventStreamKeyIsAnIdentifierWithItsPath() {
        var evs = events(3)
        evs[2].streamKey = "a/b"
        #expect(message(makeBatch(events: evs)) == "events[2].stream_key: only letters, digits and . _ : - are allowed")
        evs[2].streamKey = "."
        #expect(message(makeBatch(events: evs)) == "events[2].stream_key: must not be '.' or '..'")
    }

    @Test func batchIDIsOpaqueButHasNoControlCharacters() {
        #expect(message(makeBatch(batchID: "batch 1 / 😀 / é", events: events(1))) == nil)
        #expect(message(makeBatch(batchID: "", events: events(1))) == "batch_id: must not be empty")
        #expect(message(makeBatch(batchID: "a\tb", events: events(1))) == "batch_id: control characters are not allowed")
        #expect(message(makeBatch(batchID: "a\u{7f}", events: events(1))) == "batch_id: control characters are not allowed")
        #expect(message(makeBatch(batchID: String(repeating: "b", count: 129), events: events(1))) == "batch_id: longer than 128 bytes")
    }

    @Test func eventIDAcceptsOddUnicode() {
        // Emoji (4-byte UTF-8, a ZWJ sequence), combining marks, right-to-left text: ids are only compared.
        for id in ["😀", "👩‍👩‍👧", "e\u{301}", "مرحبا", "a b", "\u{200B}"] {
            #expect(message(makeBatch(events: [TestEvent(id: id)])) == nil, "event_id \(id)")
        }
    }

    @Test func idLengthIsCountedInUTF8Bytes() {
        // 32 four-byte emoji = 128 bytes: allowed; 33 = 132 bytes: refused.
        #expect(message(makeBatch(events: [TestEvent(id: String(repeating: "😀", count: 32))])) == nil)
        #expect(message(makeBatch(events: [TestEvent(id: String(repeating: "😀", count: 33))]))
            == "events[0].event_id: longer than 128 bytes")
    }

    @Test func eventIDRefusals() {
        #expect(message(makeBatch(events: [TestEvent(id: "")])) == "events[0].event_id: must not be empty")
        #expect(message(makeBatch(events: [TestEvent(id: "a\u{0}b")])) == "events[0].event_id: control characters are not allowed")
        #expect(message(makeBatch(events: [TestEvent(id: "a\nb")])) == "events[0].event_id: control characters are not allowed")
    }

    @Test func eventTypeIsAnIdentifier() {
        #expect(message(makeBatch(events: [TestEvent(type: "temperature.reading")])) == nil)
        #expect(message(makeBatch(events: [TestEvent(type: "")])) == "events[0].event_type: must not be empty")
        #expect(message(makeBatch(events: [TestEvent(type: "tempé")])) == "events[0].event_type: only letters, digits and . _ : - are allowed")
        #expect(message(makeBatch(events: [TestEvent(type: String(repeating: "t", count: 129))])) == "events[0].event_type: longer than 128 bytes")
    }

    @Test(arguments: [Int64(-1), -1_700_000_000_000, Int64.min, timestampMsMax + 1, Int64.max])
    func timestampsOutOfRange(ts: Int64) {
        #expect(message(makeBatch(events: [TestEvent(ts: ts)])) == "events[0].ts_device_ms: must be between 0 and 9007199254740991")
        #expect(message(makeBatch(sentAtMs: ts, events: events(1))) == "sent_at_ms: must be between 0 and 9007199254740991")
    }

    @Test(arguments: [Int64(0), 1, 1_700_000_000_000, timestampMsMax])
    func timestampsInRange(ts: Int64) {
        #expect(message(makeBatch(sentAtMs: ts, events: [TestEvent(ts: ts)])) == nil)
    }

    @Test func eventsMustNotBeEmpty() {
        #expect(message(makeBatch(events: [])) == "events: must not be empty")
    }

    @Test func eventCountLimit() {
        var limits = IngestLimits()
        limits.eventsPerRequestMax = 5
        let v = IngestValidator(limits: limits)
        #expect(message(makeBatch(events: events(5)), v) == nil)
        #expect(message(makeBatch(events: events(6)), v) == "events: at most 5 events per request")
        #expect(message(makeBatch(events: events(1000))) == nil)
        #expect(message(makeBatch(events: events(1001))) == "events: at most 1000 events per request")
    }

    @Test func eventByteLimit() {
        var limits = IngestLimits()
        limits.eventBytesMax = 100
        let v = IngestValidator(limits: limits)
        let exactly = TestEvent(id: "a", raw: String(repeating: " ", count: 98).wrapped)
        let over = TestEvent(id: "b", raw: String(repeating: " ", count: 99).wrapped)
        #expect(exactly.raw!.utf8.count == 100)
        #expect(message(makeBatch(events: [exactly]), v) == nil)
        #expect(message(makeBatch(events: [exactly, over]), v) == "events[1].event: larger than 100 bytes")
    }

    @Test func idLimitIsConfigurable() {
        var limits = IngestLimits()
        limits.idBytesMax = 4
        let v = IngestValidator(limits: limits)
        #expect(message(makeBatch(deviceID: "abcd", batchID: "b", events: [TestEvent(id: "1234", type: "t")]), v) == nil)
        #expect(message(makeBatch(deviceID: "abcde", batchID: "b", events: [TestEvent(id: "1", type: "t")]), v) == "device_id: longer than 4 bytes")
        #expect(message(makeBatch(deviceID: "abcd", batchID: "12345", events: [TestEvent(id: "1", type: "t")]), v) == "batch_id: longer than 4 bytes")
        #expect(message(makeBatch(deviceID: "abcd", batchID: "b", events: [TestEvent(id: "12345", type: "t")]), v) == "events[0].event_id: longer than 4 bytes")
        #expect(message(makeBatch(deviceID: "abcd", batchID: "b", events: [TestEvent(id: "1", type: "type5")]), v) == "events[0].event_type: longer than 4 bytes")
    }

    @Test func firstViolationIsReported() {
        // Top-level fields come before events; within events, the lowest index, then field order.
        #expect(message(makeBatch(deviceID: "a b", sentAtMs: -1, events: [TestEvent(id: "")])) == "device_id: only letters, digits and . _ : - are allowed")
        #expect(message(makeBatch(sentAtMs: -1, events: [TestEvent(id: "")])) == "sent_at_ms: must be between 0 and 9007199254740991")
        var evs = events(4)
        evs[3].id = ""
        evs[1].ts = -5
        evs[1].type = "bad type"
        #expect(message(makeBatch(events: evs)) == "events[1].event_type: only letters, digits and . _ : - are allowed")
    }

    @Test func identifierHelperAgreesWithValidator() {
        #expect(Identifier.isValid("dev-1"))
        #expect(!Identifier.isValid(""))
        #expect(!Identifier.isValid("."))
        #expect(!Identifier.isValid("dev 1"))
        #expect(!Identifier.isValid("abcde", maxBytes: 4))
        #expect(Identifier.isValid("abcd", maxBytes: 4))
        let allowed = (0...255).filter { Identifier.isAllowed(UInt8($0)) }.count
        #expect(allowed == 26 + 26 + 10 + 4)
    }
}

extension String {
    /// `{` + self + `}`.
    var wrapped: String { "{" + self + "}" }
}
