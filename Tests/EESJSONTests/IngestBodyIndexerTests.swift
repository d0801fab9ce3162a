import EESCore
import EESJSON
import Testing

/// A body with `events` (JSON object texts) and the usual top-level fields.
func body(events: [String], device: String = "dev-1", extra: String = "") -> String {
    "{\"device_id\":\"\(device)\",\"batch_id\":\"b-1\",\"sent_at_ms\":1700000000000\(extra),\"events\":[" + events.joined(separator: ",") + "]}"
}

/// An event object text; `drop` leaves out one required field, `set` adds or replaces fields (raw JSON).
func event(_ id: String = "e-1", drop: String? = nil, set: [(String, String)] = []) -> String {
    var fields: [(String, String)] = [("event_id", "\"\(id)\""), ("event_type", "\"reading\""), ("ts_device_ms", "1700000000123"),
                                      ("payload", "{\"temperature\":21.5}")]
    fields.removeAll { $0.0 == drop }
    for (k, v) in set {
        if let i = fields.firstIndex(where: { $0.0 == k }) { fields[i].1 = v } else { fields.append((k, v)) }
    }
    return "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
}

func index(_ text: String, limits: IngestLimits = IngestLimits()) -> Result<IngestBatch, IngestError> {
    IngestBodyIndexer(limits: limits).index(Array(text.utf8))
}

func index(bytes: [UInt8]) -> Result<IngestBatch, IngestError> {
    IngestBodyIndexer(limits: IngestLimits()).index(bytes)
}

/// The error message, or nil when the body was accepted.
func refusal(_ r: Result<IngestBatch, IngestError>) -> String? {
    switch r {
    case .success: return nil
    case .failure(let e):
        #expect(e.code == .invalidRequest)
        return e.message
    }
}

func refusal(_ text: String, limits: IngestLimits = IngestLimits()) -> String? { refusal(index(text, limits: limits)) }

/// Index then validate, as the ingest node does: the first refusal, or nil.
func checked(_ text: String, _ limits: IngestLimits) -> String? {
    switch index(text, limits: limits) {
    case .failure(let e): return e.message
    case .success(let b): return IngestValidator(limits: limits).validate(b)?.message
    }
}

func batch(_ text: String) throws -> IngestBatch {
    switch index(text) {
    case .success(let b): return b
    case .failure(let e): throw e
    }
}

func str<C: Collection<UInt8>>(_ bytes: C) -> String { String(decoding: bytes, as: UTF8.self) }

@Suite struct IndexerRoundTripTests {
    @Test func rawBytesOfEachEventAreTheInputSliceByteForByte() throws {
        let events = [
            #"{"event_id":"e-1","event_type":"reading","ts_device_ms":1,"payload":{"t":21.5}}"#,
            // escapes, unicode, whitespace inside the object, unknown fields, nested values
            #"{ "event_id" : "e\"2\u00e9\\" ,"event_type":"reading", "ts_device_ms":2,"payload":{"s":"a\nb\u2028\ud83d\ude00","n":[1,-2.5e3,true,null,{}]}, "meta":{"fw":"1.2"} ,"x-custom":[{"k":"v"}]}"#,
            "{\"event_id\":\"😀\",\"event_type\":\"reading\",\"ts_device_ms\":3,\"payload\":{\"é\":\"ü\"},\"stream_key\":\"other\"}",
        ]
        // Pretty-printed around the events: whitespace and line breaks between them.
        let text = "{\n  \"events\": [\n    " + events.joined(separator: " ,\n\t") + "\n  ] ,\n  \"device_id\": \"dev-1\", \"batch_id\":\"b\\u0031\",\n"
            + "  \"stream_key\":\"s-1\", \"sent_at_ms\": 1700000000000, \"unknown\": {\"a\": [1, 2]}\n}\n"
        let b = try batch(text)
        #expect(b.events.count == 3)
        for (e, expected) in zip(b.events, events) {
            #expect(str(b.raw(e)) == expected)
            #expect(Array(b.raw(e)) == Array(expected.utf8))
        }
        // The raw bytes are ranges of the body as sent.
        let utf8 = Array(text.utf8)
        #expect(b.body == utf8)
        #expect(Array(utf8[b.events[1].raw]) == Array(events[1].utf8))
        // Fields the node needs are unescaped.
        #expect(str(b.eventID(b.events[1])) == "e\"2é\\")
        #expect(str(b.eventID(b.events[2])) == "😀")
        #expect(str(b.eventType(b.events[0])) == "reading")
        #expect(b.events.map(\.tsDeviceMs) == [1, 2, 3])
        #expect(b.events.map(\.streamKey) == [nil, nil, "other"])
        #expect(b.deviceID == "dev-1")
        #expect(b.batchID == "b1")
        #expect(b.streamKey == "s-1")
        #expect(b.sentAtMs == 1_700_000_000_000)
    }

    @Test func lastEventBeforeWhitespaceAndBracket() throws {
        let e = event("only")
        let b = try batch("{\"device_id\":\"d\",\"batch_id\":\"b\",\"sent_at_ms\":0,\"events\":[ \n" + e + " \r\n\t ] }  \n")
        #expect(str(b.raw(b.events[0])) == e)
    }

    @Test func optionalFieldsAreOptional() throws {
        let b = try batch(body(events: [event()]))
        #expect(b.streamKey == nil)
        #expect(b.events[0].streamKey == nil)
        let c = try batch(body(events: [event(set: [("local_seq", "7"), ("sensor", "\"t1\""), ("headers", "{}"), ("meta", "{\"a\":1}")])]))
        #expect(c.events.count == 1)
    }

    @Test func largeTimestampsExactly() throws {
        let b = try batch(body(events: [event(set: [("ts_device_ms", "9007199254740991")]), event("e-2", set: [("ts_device_ms", "0")]),
                                        event("e-3", set: [("ts_device_ms", "-0")])]))
        #expect(b.events.map(\.tsDeviceMs) == [9_007_199_254_740_991, 0, 0])
        // Out of the validator's range but an int64: indexed, then refused by IngestValidator.
        let c = try batch(body(events: [event(set: [("ts_device_ms", "9223372036854775807")])]))
        #expect(c.events[0].tsDeviceMs == Int64.max)
        #expect(IngestValidator(limits: IngestLimits()).validate(c)?.message == "events[0].ts_device_ms: must be between 0 and 9007199254740991")
    }

    @Test func exactlyTheEventLimit() throws {
        var limits = IngestLimits()
        limits.eventsPerRequestMax = 3
        let three = body(events: (0..<3).map { event("e\($0)") })
        #expect(checked(three, limits) == nil)
        // One over is indexed and refused by the validator; more than that stops the indexer early.
        #expect(checked(body(events: (0..<4).map { event("e\($0)") }), limits) == "events: at most 3 events per request")
        #expect(refusal(body(events: (0..<5).map { event("e\($0)") }), limits: limits) == "events: at most 3 events per request")
        #expect(refusal(body(events: (0..<50).map { event("e\($0)") }), limits: limits) == "events: at most 3 events per request")
        #expect(checked(body(events: (0..<1001).map { event("e\($0)") }), IngestLimits()) == "events: at most 1000 events per request")
        #expect(checked(body(events: (0..<1000).map { event("e\($0)") }), IngestLimits()) == nil)
    }

    @Test func escapedKeysAreMatched() throws {
        let b = try batch(body(events: [#"{"event\u005fid":"x","event_type":"t","ts_device_ms":1,"payload":{}}"#]))
        #expect(str(b.eventID(b.events[0])) == "x")
    }
}

@Suite struct IndexerRequiredFieldTests {
    @Test(arguments: ["device_id", "batch_id", "sent_at_ms", "events"])
    func topLevelFieldMissing(field: String) {
        var fields = [("device_id", "\"d\""), ("batch_id", "\"b\""), ("sent_at_ms", "1"), ("events", "[" + event() + "]")]
        fields.removeAll { $0.0 == field }
        let text = "{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
        #expect(refusal(text) == "\(field): required")
    }

    @Test(arguments: ["event_id", "event_type", "ts_device_ms", "payload"])
    func eventFieldMissingIsReportedWithItsPath(field: String) {
        let evs = (0..<5).map { i in i == 3 ? event("e\(i)", drop: field) : event("e\(i)") }
        #expect(refusal(body(events: evs)) == "events[3].\(field): required")
    }

    @Test func emptyObjectReportsTheFirstRequiredField() {
        #expect(refusal("{}") == "device_id: required")
        #expect(refusal(body(events: ["{}"])) == "events[0].event_id: required")
    }

    @Test func firstBadEventWins() {
        #expect(refusal(body(events: [event("a"), event("b", drop: "payload"), event("c", drop: "event_id")])) == "events[1].payload: required")
    }

    @Test func emptyEventsArrayIsIndexedAndLeftToTheValidator() throws {
        let b = try batch(body(events: []))
        #expect(b.events.isEmpty)
        #expect(IngestValidator(limits: IngestLimits()).validate(b)?.message == "events: must not be empty")
    }
}

@Suite struct IndexerTypeTests {
    @Test(arguments: [
        (event(set: [("ts_device_ms", "\"x\"")]), "events[0].ts_device_ms: must be an integer"),
        (event(set: [("ts_device_ms", "\"123\"")]), "events[0].ts_device_ms: must be an integer"),
        (event(set: [("ts_device_ms", "1.5")]), "events[0].ts_device_ms: must be an integer"),
        (event(set: [("ts_device_ms", "1e3")]), "events[0].ts_device_ms: must be an integer"),
        (event(set: [("ts_device_ms", "null")]), "events[0].ts_device_ms: must be an integer"),
        (event(set: [("ts_device_ms", "true")]), "events[0].ts_device_ms: must be an integer"),
        (event(set: [("payload", "[1,2]")]), "events[0].payload: must be an object"),
        (event(set: [("payload", "null")]), "events[0].payload: must be an object"),
        (event(set: [("payload", "\"{}\"")]), "events[0].payload: must be an object"),
        (event(set: [("headers", "[]")]), "events[0].headers: must be an object"),
        (event(set: [("meta", "1")]), "events[0].meta: must be an object"),
        (event(set: [("event_id", "5")]), "events[0].event_id: must be a string"),
        (event(set: [("event_id", "null")]), "events[0].event_id: must be a string"),
        (event(set: [("event_type", "{}")]), "events[0].event_type: must be a string"),
        (event(set: [("stream_key", "[]")]), "events[0].stream_key: must be a string"),
        (event(set: [("sensor", "1")]), "events[0].sensor: must be a string"),
        (event(set: [("local_seq", "\"1\"")]), "events[0].local_seq: must be an integer"),
        ("[]", "events[0]: must be an object"),
        ("\"e\"", "events[0]: must be an object"),
        ("null", "events[0]: must be an object"),
    ])
    func eventFieldOfTheWrongType(ev: String, expected: String) {
        #expect(refusal(body(events: [ev])) == expected)
    }

    @Test(arguments: [
        (#"{"device_id":5,"batch_id":"b","sent_at_ms":1,"events":[]}"#, "device_id: must be a string"),
        (#"{"device_id":"d","batch_id":["b"],"sent_at_ms":1,"events":[]}"#, "batch_id: must be a string"),
        (#"{"device_id":"d","batch_id":"b","sent_at_ms":"1","events":[]}"#, "sent_at_ms: must be an integer"),
        (#"{"device_id":"d","batch_id":"b","sent_at_ms":1.0,"events":[]}"#, "sent_at_ms: must be an integer"),
        (#"{"device_id":"d","batch_id":"b","sent_at_ms":1,"events":{}}"#, "events: must be an array"),
        (#"{"device_id":"d","batch_id":"b","sent_at_ms":1,"events":null}"#, "events: must be an array"),
        (#"{"device_id":"d","batch_id":"b","sent_at_ms":1,"stream_key":7,"events":[]}"#, "stream_key: must be a string"),
        (#"[]"#, "body: must be an object"),
        (#"[{"device_id":"d"}]"#, "body: must be an object"),
        (#""text""#, "body: must be an object"),
        (#"42"#, "body: must be an object"),
        (#"null"#, "body: must be an object"),
    ])
    func topLevelOfTheWrongType(text: String, expected: String) {
        #expect(refusal(text) == expected)
    }
}

@Suite struct IndexerMalformedTests {
    @Test(arguments: [
        "", " ", "\n\t ", "{", "}", "{\"device_id\"", "{\"device_id\":}", "{\"device_id\":\"d\",}", "{\"device_id\":\"d\" \"batch_id\":\"b\"}",
        "{'device_id':'d'}", "{device_id:\"d\"}", "nul", "tru", "{\"a\":NaN}", "{\"a\":Infinity}", "{\"a\":01}", "{\"a\":1.}",
        "{\"a\":\"unterminated}", "{\"a\":\"bad escape \\x\"}", "\u{0}",
    ])
    func malformedBodies(text: String) {
        let m = refusal(text)
        if text.first == "{" {
            #expect(m == "body: malformed JSON")
        } else {
            // Not even the start of an object: either answer is precise enough.
            #expect(m == "body: malformed JSON" || m == "body: must be an object", "\(m ?? "accepted")")
        }
    }

    @Test func malformedTopLevelIsReportedAsTheBody() {
        #expect(refusal("{") == "body: malformed JSON")
        #expect(refusal("") == "body: malformed JSON")
        #expect(refusal(#"{"unknown":[1,}"# + "," + #""device_id":"d"}"#) == "body: malformed JSON")
    }

    @Test func malformedEventNamesTheEvent() {
        let m = refusal(body(events: [event("a"), #"{"event_id":"b","payload":{"x":tru}}"#]))
        #expect(m != nil && m!.hasPrefix("events[1]") && m!.hasSuffix("malformed JSON"), "\(m ?? "accepted")")
    }

    @Test(arguments: [" x", "}", "{}", "[]", "\"\"", ",", " 1", "\u{0}", " {\"device_id\":\"d\"}"])
    func trailingGarbageIsRefused(tail: String) {
        #expect(refusal(body(events: [event()]) + tail) == "body: malformed JSON", "tail \(tail.debugDescription)")
    }

    @Test func trailingWhitespaceIsFine() {
        #expect(refusal(body(events: [event()]) + " \n\r\t\n") == nil)
        #expect(refusal("\n \t" + body(events: [event()])) == nil)
    }

    @Test func rawControlCharactersInsideStringsAreRefused() {
        // JSON forbids unescaped control characters in strings; the line-safety rewrite relies on it.
        for c in ["\n", "\r", "\t", "\u{1}"] {
            let m = refusal(body(events: [event(set: [("payload", "{\"s\":\"a\(c)b\"}")])]))
            #expect(m != nil && m!.hasSuffix("malformed JSON"), "control \(c.debugDescription) → \(m ?? "accepted")")
            #expect(refusal(body(events: [event("a\(c)b")])) != nil)
        }
    }

    @Test func malformedValuesInsideUnknownFieldsAreRefused() {
        #expect(refusal(body(events: [event(set: [("extra", "[1,,2]")])])) != nil)
        #expect(refusal(body(events: [event()], extra: ",\"extra\":{\"a\":[}")) != nil)
        #expect(refusal(body(events: [event(set: [("payload", "{\"a\":[1,2}")])])) != nil)
    }
}

@Suite struct IndexerHostileInputTests {
    @Test func invalidUTF8IsRefused() {
        let good = Array(body(events: [event(set: [("payload", "{\"s\":\"XX\"}")])]).utf8)
        let at = good.firstIndex(of: UInt8(ascii: "X"))!
        for bad: [UInt8] in [[0xFF, 0x41], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82], [0x80, 0x41], [0xF5, 0x80, 0x80, 0x80]] {
            var bytes = good
            bytes.replaceSubrange(at..<(at + 2), with: bad)
            #expect(refusal(index(bytes: bytes)) == "body: malformed JSON", "bytes \(bad)")
        }
        // Invalid UTF-8 in an id.
        var id = Array(body(events: [event("XX")]).utf8)
        let i = id.firstIndex(of: UInt8(ascii: "X"))!
        id[i] = 0xFE
        #expect(refusal(index(bytes: id)) == "body: malformed JSON")
    }

    @Test func loneSurrogateEscapesAreRefused() {
        #expect(refusal(body(events: [event(#"a\ud800"#)])) != nil)
        #expect(refusal(body(events: [event(set: [("payload", #"{"s":"\udc00x"}"#)])])) != nil)
        #expect(refusal(body(events: [event(#"\ud83d\ude00"#)])) == nil)   // a proper pair is fine
    }

    @Test func hugeNumbers() {
        // Timestamps that are no int64 are refused, naming the field.
        for ts in ["1e400", "18446744073709551616", "9223372036854775808", "-9223372036854775809",
                   "123456789012345678901234567890"] {
            let m = refusal(body(events: [event(set: [("ts_device_ms", ts)])]))
            #expect(m == "events[0].ts_device_ms: must be an integer", "ts \(ts) → \(m ?? "accepted")")
        }
        #expect(refusal(#"{"device_id":"d","batch_id":"b","sent_at_ms":18446744073709551616,"events":[]}"#)
            == "sent_at_ms: must be an integer")
        // In a payload, a big integer is still a JSON number a double can hold: kept as sent.
        #expect(refusal(body(events: [event(set: [("payload", #"{"big":18446744073709551616,"neg":-1e300}"#)])])) == nil)
        // A number no double can hold is refused rather than stored for readers to choke on.
        let m = refusal(body(events: [event(set: [("payload", #"{"x":1e400}"#)])]))
        #expect(m != nil && m!.hasPrefix("events[0].payload"), "\(m ?? "accepted")")
    }

    @Test func deepNesting() {
        func nest(_ n: Int) -> String { String(repeating: "{\"a\":", count: n) + "1" + String(repeating: "}", count: n) }
        #expect(refusal(body(events: [event(set: [("payload", nest(10))])])) == nil)
        let m = refusal(body(events: [event(set: [("payload", nest(100))])]))
        #expect(m != nil && m!.hasPrefix("events[0].payload"), "\(m ?? "accepted")")
        let arrays = String(repeating: "[", count: 5_000) + String(repeating: "]", count: 5_000)
        #expect(refusal(body(events: [event()], extra: ",\"deep\":" + arrays)) != nil)
        #expect(refusal(body(events: [event(set: [("payload", "{\"a\":" + arrays + "}")])])) != nil)
        #expect(refusal(String(repeating: "[", count: 100_000)) != nil)
    }

    @Test func manyTinyEventsDoNotOverrunTheIndex() {
        // More array items than the index has room for (sized from the body length): refused, not a crash.
        let text = "{\"device_id\":\"d\",\"batch_id\":\"b\",\"sent_at_ms\":1,\"events\":[" + Array(repeating: "{}", count: 3_000).joined(separator: ",") + "]}"
        #expect(refusal(text) != nil)
        let numbers = "{\"events\":[" + Array(repeating: "1", count: 3_000).joined(separator: ",") + "]}"
        #expect(refusal(numbers) != nil)
    }

    @Test func oneMegabyteBody() throws {
        let big = String(repeating: "x", count: 1_000)
        let evs = (0..<900).map { event("e\($0)", set: [("payload", "{\"s\":\"\(big)\"}")]) }
        let b = try batch(body(events: evs))
        #expect(b.events.count == 900)
        #expect(str(b.eventID(b.events[899])) == "e899")
        #expect(str(b.raw(b.events[899])) == evs[899])
    }

    @Test func duplicateTopLevelFieldsTakeTheLast() throws {
        let b = try batch(#"{"device_id":"a","device_id":"b","batch_id":"x","sent_at_ms":1,"events":[]}"#)
        #expect(b.deviceID == "b")
    }
}
