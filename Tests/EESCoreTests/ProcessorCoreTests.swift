import EESCore
import Testing

/// A segment exactly as the flusher writes it: one buffer entry per event, lines from `SegmentFormat`.
private func segmentBytes(stream: String = "s-1", device: String = "dev-1", firstSeq: Int64 = 1, tsIngestMs: Int64 = 5_000,
                          events: [String]) -> [UInt8] {
    var out: [UInt8] = []
    for (i, e) in events.enumerated() {
        let entry = BufferEntry(firstSeq: firstSeq + Int64(i), count: 1, deviceID: device, batchID: "b-1",
                                tsIngestMs: tsIngestMs + Int64(i), events: Array(e.utf8))
        SegmentFormat.appendLines(streamKey: stream, entries: [entry], to: &out)
    }
    return out
}

private func event(_ id: String, ts: Int64 = 1_000, payload: String) -> String {
    #"{"event_id":"\#(id)","event_type":"reading","ts_device_ms":\#(ts),"payload":\#(payload)}"#
}

private let parser = SegmentParser(requiredNumeric: ["temperature"])

@Suite struct JSONReaderTests {
    @Test func readsValidDocuments() throws {
        let v = try JSONReader.parse(Array(#" {"a":[1,-2.5e3,true,false,null],"b":{"c":"x\"\u00e9\ud83d\ude00"},"a2":0} "#.utf8))
        #expect(v.member("a") == .array([.number(double: 1, int: 1), .number(double: -2500, int: nil), .bool(true),
                                         .bool(false), .null]))
        #expect(v.member("b")?.member("c")?.string == "x\"é😀")
        #expect(v.member("a2")?.int64 == 0)
        #expect(try JSONReader.parse(Array("9007199254740993".utf8)).int64 == 9_007_199_254_740_993)
        #expect(try JSONReader.parse(Array("1e400".utf8)).finiteDouble == nil)
        #expect(try JSONReader.parse(Array(#"{"k":1,"k":2}"#.utf8)).member("k")?.int64 == 2, "last member wins")
    }

    @Test(arguments: ["", " ", "{", "{\"a\":1,}", "[1,]", "01", "-", "1.", "1e", ".5", "+1", "tru", "nul", "{\"a\" 1}",
                      "\"\u{01}\"", "\"\\x\"", "\"\\ud800\"", "\"\\udc00x\"", "{} {}", "{\"a\":1}x", "'a'", "NaN", "Infinity"])
    func refusesInvalidDocuments(_ text: String) {
        #expect(throws: JSONParseError.self) { try JSONReader.parse(Array(text.utf8)) }
    }

    @Test func refusesInvalidUTF8AndDeepNesting() {
        #expect(throws: JSONParseError.self) { try JSONReader.parse([0x22, 0xC3, 0x28, 0x22]) }
        let deep = String(repeating: "[", count: JSONReader.depthMax + 1) + String(repeating: "]", count: JSONReader.depthMax + 1)
        #expect(throws: JSONParseError.self) { try JSONReader.parse(Array(deep.utf8)) }
        let ok = String(repeating: "[", count: JSONReader.depthMax) + String(repeating: "]", count: JSONReader.depthMax)
        #expect((try? JSONReader.parse(Array(ok.utf8))) != nil)
    }
}

@Suite struct SegmentParserTests {
    @Test func numericTopLevelPayloadFieldsAreMetrics() {
        let bytes = segmentBytes(events: [
            event("e1", ts: 1_000, payload: #"{"temperature":21.5,"humidity":40,"ok":true,"label":"x","nested":{"v":1},"n":null,"list":[1]}"#),
            event("e2", ts: 2_000, payload: #"{"temperature":-3}"#),
            event("e3", ts: 3_000, payload: #"{}"#),
        ])
        let p = parser.parse(bytes, streamKey: "s-1", range: SeqRange(start: 1, end: 3))
        #expect(p.problems.isEmpty)
        #expect(p.lineCount == 3 && p.missingSeqs == 0)
        #expect(p.events.map(\.seq) == [1, 2, 3])
        #expect(p.events[0].metrics == [.init(name: "temperature", value: 21.5), .init(name: "humidity", value: 40)])
        #expect(p.events[0].tsDeviceMs == 1_000 && p.events[0].tsIngestMs == 5_000 && p.events[0].deviceId == "dev-1")
        #expect(p.events[0].eventId == "e1")
        #expect(p.events[1].metrics == [.init(name: "temperature", value: -3)])
        #expect(p.events[2].metrics.isEmpty)
    }

    @Test func aCorruptLineIsReportedAndTheRestIsUsed() {
        var bytes = segmentBytes(events: [event("e1", payload: #"{"temperature":1}"#)])
        bytes += Array(#"{"seq":2,"stream_key":"s-1","device_id":"dev-1","batch_id":"b","ts_ingest_ms":1,"event":{"payl"#.utf8) + [0x0A]
        bytes += segmentBytes(firstSeq: 3, events: [event("e3", payload: #"{"temperature":3}"#)])
        let p = parser.parse(bytes, streamKey: "s-1", range: SeqRange(start: 1, end: 3))
        #expect(p.events.map(\.seq) == [1, 3])
        #expect(p.problems.count == 1)
        #expect(p.problems.first?.line == 2 && p.problems.first?.seq == 2 && p.problems.first?.kind == .badJSON)
        #expect(p.missingSeqs == 0, "the corrupt line's seq was readable, so it is reported, not missing")
    }

    @Test func missingFieldsAndBadSeqs() {
        let lines = [
            #"{"stream_key":"s-1","device_id":"d","ts_ingest_ms":1,"event":{"event_id":"a","ts_device_ms":1,"payload":{}}}"#,
            #"{"seq":2,"stream_key":"s-1","device_id":"d","ts_ingest_ms":1}"#,
            #"{"seq":3,"stream_key":"s-1","device_id":"d","ts_ingest_ms":1,"event":{"event_id":"a","ts_device_ms":1}}"#,
            #"{"seq":4,"stream_key":"s-1","device_id":"d","ts_ingest_ms":1,"event":{"event_id":"a","ts_device_ms":1.5,"payload":{}}}"#,
            #"{"seq":9,"stream_key":"s-1","device_id":"d","ts_ingest_ms":1,"event":{"event_id":"a","ts_device_ms":1,"payload":{}}}"#,
            #"{"seq":5,"stream_key":"other","device_id":"d","ts_ingest_ms":1,"event":{"event_id":"a","ts_device_ms":1,"payload":{}}}"#,
            #"{"seq":6,"stream_key":"s-1","device_id":"d","ts_ingest_ms":1,"event":{"event_id":"a","ts_device_ms":1,"payload":{"x":1}}}"#,
            #"{"seq":6,"stream_key":"s-1","device_id":"d","ts_ingest_ms":1,"event":{"event_id":"b","ts_device_ms":1,"payload":{"x":2}}}"#,
            "",
            "[1]",
        ]
        let bytes = Array(lines.joined(separator: "\n").utf8) + [0x0A]
        let p = parser.parse(bytes, streamKey: "s-1", range: SeqRange(start: 1, end: 6))
        #expect(p.lineCount == 10)
        #expect(p.events.map(\.seq) == [6])
        #expect(p.events.first?.eventId == "a", "the first line with a seq wins; the repeat is reported")
        let kinds = p.problems.map { "\($0.line):\($0.kind.rawValue)" }
        #expect(kinds == ["1:bad_field", "2:bad_field", "3:bad_field", "4:bad_field", "5:bad_seq", "6:stream_mismatch",
                          "8:bad_seq", "9:bad_json", "10:bad_field"])
        #expect(p.problems[1].detail.hasPrefix("event:"))
        #expect(p.problems[2].detail.hasPrefix("event.payload"))
        #expect(p.missingSeqs == 1, "seq 1 appears on no line")
        #expect(p.problems.allSatisfy { $0.dropsLine })
    }

    @Test func aNonNumericDetectorMetricIsReportedButTheLineIsKept() {
        let bytes = segmentBytes(events: [
            event("e1", payload: #"{"temperature":"hot","humidity":40}"#),
            event("e2", payload: #"{"temperature":true}"#),
            event("e3", payload: #"{"temperature":null}"#),
            event("e4", payload: #"{"pressure":"n/a","temperature":90}"#),
        ])
        let p = parser.parse(bytes, streamKey: "s-1", range: SeqRange(start: 1, end: 4))
        #expect(p.events.map(\.seq) == [1, 2, 3, 4])
        #expect(p.events[0].metrics == [.init(name: "humidity", value: 40)])
        #expect(p.problems.map(\.line) == [1, 2, 3])
        #expect(p.problems.allSatisfy { $0.kind == .nonNumericMetric && !$0.dropsLine })
        #expect(p.problems[0].detail == "event.payload.temperature: not a finite number")
    }

    @Test func aTruncatedObjectHasMissingSeqs() {
        let bytes = segmentBytes(events: [event("e1", payload: "{}"), event("e2", payload: "{}")])
        let p = parser.parse(bytes, streamKey: "s-1", range: SeqRange(start: 1, end: 5))
        #expect(p.events.count == 2 && p.problems.isEmpty && p.missingSeqs == 3)
        let none = parser.parse([], streamKey: "s-1", range: SeqRange(start: 1, end: 2))
        #expect(none.lineCount == 0 && none.missingSeqs == 2)
    }

    @Test func repeatedAndOddMetricNames() {
        let long = String(repeating: "m", count: SegmentParser.metricNameBytesMax + 1)
        let bytes = segmentBytes(events: [event("e1", payload: #"{"a":1,"b":2,"a":3,"\#(long)":4,"c\u0001":5,"t":"x","t":7}"#)])
        let p = SegmentParser(requiredNumeric: ["t"]).parse(bytes, streamKey: "s-1", range: SeqRange(start: 1, end: 1))
        #expect(p.events.first?.metrics == [.init(name: "b", value: 2), .init(name: "a", value: 3), .init(name: "t", value: 7)])
        #expect(p.problems.isEmpty, "the last 't' is numeric")
    }
}

@Suite struct ThresholdDetectorTests {
    private func events(_ values: [Double]) -> [SegmentEvent] {
        values.enumerated().map { i, v in
            SegmentEvent(line: i + 1, seq: Int64(i + 1), deviceId: "dev-1", eventId: "e\"\(i)", tsDeviceMs: 100 + Int64(i),
                         tsIngestMs: 200, metrics: [.init(name: "temperature", value: v), .init(name: "other", value: 1000)])
        }
    }

    @Test func above() throws {
        let d = ThresholdDetector()
        let rows = d.detect(events([79.9, 80.0, 80.5, 90.0, 120]), streamKey: "s-1", detectedAtMs: 7)
        #expect(rows.map(\.seq) == [3, 4, 5], "strictly above the threshold")
        #expect(rows.map(\.severity) == ["warning", "critical", "critical"])
        let a = try #require(rows.first)
        #expect(a.algorithm == "threshold" && a.metric == "temperature" && a.value == 80.5 && a.threshold == 80)
        #expect(a.detectedAtMs == 7 && a.tsMs == 102 && a.deviceId == "dev-1" && a.streamKey == "s-1")
        let details = try JSONReader.parse(Array(a.detailsJSON.utf8))
        #expect(details.member("threshold")?.finiteDouble == 80)
        #expect(details.member("direction")?.string == "above")
        #expect(details.member("event_id")?.string == "e\"2")
        #expect(details.member("margin")?.finiteDouble == 0.5)
    }

    @Test func below() {
        let d = ThresholdDetector(metric: "temperature", threshold: -10, direction: .below, criticalMargin: 5)
        let rows = d.detect(events([-10, -10.5, -15, 30]), streamKey: "s-1", detectedAtMs: 0)
        #expect(rows.map(\.seq) == [2, 3])
        #expect(rows.map(\.severity) == ["warning", "critical"])
    }

    @Test func ignoresEventsWithoutTheMetric() {
        let e = SegmentEvent(line: 1, seq: 1, deviceId: "d", eventId: "e", tsDeviceMs: 0, tsIngestMs: 0,
                             metrics: [.init(name: "humidity", value: 99)])
        #expect(ThresholdDetector().detect([e], streamKey: "s", detectedAtMs: 0).isEmpty)
    }
}

@Suite struct SegmentProcessorTests {
    let time = ManualTime(nowMs: 1_800_000_000_000)
    var processor: SegmentProcessor { SegmentProcessor(detectors: [ThresholdDetector()], time: time) }
    let note = SegmentNotification(streamKey: "s-1", range: SeqRange(start: 11, end: 13), newestIngestMs: 5_002)

    private var bytes: [UInt8] {
        segmentBytes(firstSeq: 11, events: [event("a", ts: 1, payload: #"{"temperature":85,"humidity":10}"#),
                                            event("b", ts: 2, payload: #"{"temperature":20}"#),
                                            event("c", ts: 3, payload: #"{"temperature":"?","humidity":11}"#)])
    }

    @Test func rowsAnomaliesAndOneWrite() throws {
        let work = processor.prepare(note, bytes: bytes)
        #expect(work.segment == ProcessedSegment(segKey: note.key, streamKey: "s-1", seqStart: 11, seqEnd: 13, rows: 3))
        #expect(work.metrics.map { "\($0.seq):\($0.metric)=\($0.value)" } == ["11:temperature=85.0", "11:humidity=10.0",
                                                                             "12:temperature=20.0", "13:humidity=11.0"])
        #expect(work.metrics[0] == MetricRow(tsMs: 1, deviceId: "dev-1", streamKey: "s-1", seq: 11, metric: "temperature",
                                             value: 85, ingestedAtMs: 5_000))
        #expect(work.anomalies.map(\.seq) == [11])
        #expect(work.anomalies.first?.detectedAtMs == time.nowMs())
        #expect(work.deadLetterReason == .nonNumericMetric)

        let sink = InMemoryMetricsSink()
        #expect(try sink.write(segment: work.segment, metrics: work.metrics, anomalies: work.anomalies)
                == .written(metricsInserted: 4, anomaliesInserted: 1))
        // Delivered again later (a crash before XACK): same identities, nothing new.
        time.advance(ms: 60_000)
        let again = processor.prepare(note, bytes: bytes)
        #expect(again.anomalies.first?.detectedAtMs == time.nowMs())
        #expect(try sink.write(segment: again.segment, metrics: again.metrics, anomalies: again.anomalies) == .alreadyProcessed)
        #expect(sink.storedMetrics.count == 4 && sink.storedAnomalies.count == 1)
    }

    @Test func unavailableSinkThrowsAndLaterWrites() throws {
        let work = processor.prepare(note, bytes: bytes)
        let sink = InMemoryMetricsSink()
        sink.setFailure(MetricsSinkError(.unavailable, "down"))
        #expect(throws: MetricsSinkError.self) { try sink.write(segment: work.segment, metrics: work.metrics, anomalies: work.anomalies) }
        sink.setFailure(nil)
        #expect(try sink.write(segment: work.segment, metrics: work.metrics, anomalies: work.anomalies)
                == .written(metricsInserted: 4, anomaliesInserted: 1))
    }

    @Test func deadLetterReasons() {
        var w = processor.prepare(note, bytes: segmentBytes(firstSeq: 11, events: [event("a", payload: "{}"), event("b", payload: "{}"),
                                                                                   event("c", payload: "{}")]))
        #expect(w.deadLetterReason == nil)
        w.missingSeqs = 1
        #expect(w.deadLetterReason == .incompleteSegment)
        w.problems = [LineProblem(line: 1, seq: 11, kind: .nonNumericMetric, detail: ""),
                      LineProblem(line: 2, seq: nil, kind: .badJSON, detail: "")]
        #expect(w.deadLetterReason == .corruptLine)
    }
}

@Suite struct NotificationAndDeadLetterTests {
    @Test func parsesTheFlushersFields() throws {
        let note = SegmentNotification(streamKey: "s-1", range: SeqRange(start: 3, end: 7), newestIngestMs: 99)
        var fields = Dictionary(uniqueKeysWithValues: note.fields)
        #expect(fields["key"] == "stream/s-1/seg/00000000000000000003-00000000000000000007.jsonl")
        #expect(try SegmentNotification.parse(fields: fields).get() == note)
        fields["key"] = "stream/s-1/seg/x.jsonl"
        #expect(throws: NotificationError.self) { try SegmentNotification.parse(fields: fields).get() }
        fields["key"] = note.key
        fields["count"] = "4"
        #expect(throws: NotificationError.self) { try SegmentNotification.parse(fields: fields).get() }
        #expect(throws: NotificationError.self) { try SegmentNotification.parse(fields: ["stream": "../x"]).get() }
    }

    @Test func deadLetterRecord() throws {
        let note = SegmentNotification(streamKey: "s-1", range: SeqRange(start: 3, end: 7), newestIngestMs: 99)
        var d = DeadLetter(reason: .corruptLine, partition: 4, entryID: "17-0", fields: Dictionary(uniqueKeysWithValues: note.fields),
                           note: note, deliveries: 1, consumer: "node-1", atMs: 1234)
        d.problems = (1...(DeadLetter.problemsListedMax + 5)).map { LineProblem(line: $0, seq: nil, kind: .badJSON, detail: "x") }
        d.error = "boom"
        #expect(d.objectKey == "dlq/segments/s-1/00000000000000000003-00000000000000000007.json")
        let doc = try JSONReader.parse(d.json())
        #expect(doc.member("reason")?.string == "corrupt_line")
        #expect(doc.member("rows_written") == .bool(true))
        #expect(doc.member("notification")?.member("key")?.string == note.key)
        #expect(doc.member("line_problem_count")?.int64 == Int64(DeadLetter.problemsListedMax + 5))
        if case .array(let listed) = doc.member("line_problems") { #expect(listed.count == DeadLetter.problemsListedMax) }
        #expect(doc.member("error")?.string == "boom")
        let fields = Dictionary(uniqueKeysWithValues: d.streamFields)
        #expect(fields["reason"] == "corrupt_line" && fields["object"] == d.objectKey && fields["stream"] == "s-1")

        let bad = DeadLetter(reason: .badNotification, partition: 2, entryID: "1700-3", fields: ["stream": "a/../b"], note: nil,
                             deliveries: 1, consumer: "c", atMs: 0)
        #expect(bad.objectKey == "dlq/notifications/2/1700-3.json")
        #expect((try? JSONReader.parse(bad.json())) != nil)
    }

    @Test func derivedEventFields() {
        let a = AnomalyRow(detectedAtMs: 9, tsMs: 8, deviceId: "d", streamKey: "s", seq: 5, metric: "temperature", value: 81.5,
                           threshold: 80, algorithm: "threshold", severity: "warning", detailsJSON: "{}")
        let f = Dictionary(uniqueKeysWithValues: a.derivedEventFields(segmentKey: "k"))
        #expect(f["type"] == "anomaly.detected" && f["id"] == "s:5:temperature:threshold" && f["value"] == "81.5")
    }
}
