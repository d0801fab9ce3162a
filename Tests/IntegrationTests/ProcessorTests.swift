import EESCore
import EESObjectStore
import EESPostgres
import EESProcessor
import EESRedis
import Foundation
import Testing

/// The processor against real Redis and Postgres (own key prefix and database per test) and a
/// file object store in a temp dir.
@Suite("Processor", .serialized)
struct ProcessorTests {
    private typealias H = ProcessorHarness

    @Test func segmentsBecomeRowsAnomaliesAndDerivedEvents() throws {
        try H.run { h in
            let registry = MetricsRegistry()
            // 12 events: temperature 75, 76, …, 86 (81…86 are above 80, all by less than 10), humidity on each.
            let a = try h.putSegment(stream: "s-a", payloads: (0..<12).map { #"{"temperature":\#(75 + $0),"humidity":50,"on":true}"# })
            let b = try h.putSegment(stream: "s-b", start: 5, payloads: [#"{"temperature":95.5}"#, #"{"pressure":1013}"#])
            try h.notify(a)
            try h.notify(b)
            try h.start(h.config(node: "p1"), registry: registry)
            try h.waitUntil("both segments processed") { try h.unfinished() == 0 }
            #expect(try h.count("SELECT count(*) FROM device_metrics") == 12 * 2 + 2)
            #expect(try h.count("SELECT count(*) FROM device_metrics WHERE stream_key = 's-b' AND seq = 6 AND metric = 'pressure'") == 1)
            #expect(try h.count("SELECT count(*) FROM anomaly_events") == 6 + 1)
            #expect(try h.count("SELECT count(*) FROM anomaly_events WHERE severity = 'critical'") == 1, "95.5 is 15.5 past 80")
            #expect(try h.count("SELECT count(*) FROM processed_segments") == 2)
            let row = try h.db.exec("""
                SELECT (extract(epoch FROM ts) * 1000)::bigint, (extract(epoch FROM ingested_at) * 1000)::bigint, device_id, value
                FROM device_metrics WHERE stream_key = 's-a' AND seq = 3 AND metric = 'temperature'
                """).rows
            #expect(row == [["1700000000003", "1700000000003", "dev-1", "77"]])
            let derived = try h.derivedEvents()
            #expect(derived.count == 7)
            #expect(Set(derived.compactMap { $0["id"] }).count == 7)
            #expect(derived.allSatisfy { $0["type"] == "anomaly.detected" })
            #expect(try h.deadLetters().isEmpty)
            let text = registry.render()
            #expect(text.contains("ees_processor_segments_total{outcome=\"written\"} 2"))
            #expect(text.contains("ees_processor_rows_total 26"))
            #expect(text.contains("ees_processor_anomalies_total 7"))
        }
    }

    @Test func theSameSegmentDeliveredTwiceIsWrittenOnce() throws {
        try H.run { h in
            let registry = MetricsRegistry()
            let note = try h.putSegment(stream: "s-dup", payloads: [#"{"temperature":81}"#, #"{"temperature":20}"#])
            try h.notify(note)
            try h.notify(note)
            try h.start(h.config(node: "p1"), registry: registry)
            try h.waitUntil("both notifications handled") { try h.unfinished() == 0 }
            #expect(try h.count("SELECT count(*) FROM device_metrics") == 2)
            #expect(try h.count("SELECT count(*) FROM anomaly_events") == 1)
            let text = registry.render()
            #expect(text.contains("ees_processor_segments_total{outcome=\"written\"} 1"))
            #expect(text.contains("ees_processor_segments_total{outcome=\"already_processed\"} 1"))
            #expect(text.contains("ees_processor_rows_total 2"))
        }
    }

    @Test func aCrashBetweenCommitAndAckIsClaimedWithoutDuplicates() throws {
        try H.run { h in
            let note = try h.putSegment(stream: "s-crash", payloads: [#"{"temperature":99}"#, #"{"temperature":10}"#])
            try h.queue.ensureGroups()
            try h.notify(note)
            // A processor "dead" takes the entry and commits its rows, then dies before XACK.
            let taken = try h.queue.read(consumer: "dead", count: 10, blockMs: 100)
            #expect(taken.count == 1)
            let work = SegmentProcessor(detectors: [ThresholdDetector()]).prepare(note, bytes: try #require(try h.objects.get(key: note.key)))
            #expect(try PostgresMetricsSink(configuration: h.postgres).write(segment: work.segment, metrics: work.metrics,
                                                                               anomalies: work.anomalies)
                    == .written(metricsInserted: 2, anomaliesInserted: 1))
            #expect(try h.pending() == 1)

            let registry = MetricsRegistry()
            try h.start(h.config(node: "survivor", claimIdleMs: 1_000), registry: registry)
            try h.waitUntil("the dead consumer's entry is claimed and acknowledged", seconds: 20) { try h.pending() == 0 }
            #expect(try h.count("SELECT count(*) FROM device_metrics") == 2)
            #expect(try h.count("SELECT count(*) FROM anomaly_events") == 1)
            let text = registry.render()
            #expect(text.contains("ees_processor_claimed_total 1"))
            #expect(text.contains("ees_processor_segments_total{outcome=\"already_processed\"} 1"))
            #expect(text.contains("ees_processor_rows_total 0"), "nothing new was inserted")
            // The derived event is re-published (at-least-once): the dead one never got to it.
            #expect(try h.derivedEvents().map { $0["id"] } == ["s-crash:1:temperature:threshold"])
        }
    }

    @Test func damagedSegmentsGoToTheDeadLetterQueueAndTheRestKeepsGoing() throws {
        try H.run { h in
            let registry = MetricsRegistry()
            // 1. A corrupt middle line: lines 1 and 3 are written, line 2 is reported.
            let corrupt = SegmentNotification(streamKey: "s-corrupt", range: SeqRange(start: 1, end: 3), newestIngestMs: 1)
            let good1 = #"{"seq":1,"stream_key":"s-corrupt","device_id":"d","batch_id":"b","ts_ingest_ms":1,"event":{"event_id":"a","event_type":"r","ts_device_ms":1,"payload":{"temperature":85}}}"#
            let good3 = good1.replacingOccurrences(of: #""seq":1"#, with: #""seq":3"#).replacingOccurrences(of: #""a""#, with: #""c""#)
            try h.putRaw(corrupt, good1 + "\n" + #"{"seq":2,"stream_key":"s-corrupt","ev"# + "\n" + good3 + "\n")
            // 2. No object.
            let missing = SegmentNotification(streamKey: "s-missing", range: SeqRange(start: 1, end: 4), newestIngestMs: 1)
            // 3. A non-numeric temperature: its other metric is still written.
            let nonNumeric = try h.putSegment(stream: "s-nan", payloads: [#"{"temperature":"hot","humidity":3}"#, #"{"temperature":50}"#])
            // 4. A notification with garbage fields.
            let badID = try h.notify(fields: [("stream", "s-x"), ("key", "elsewhere"), ("start", "1"), ("end", "2"), ("ts", "1")],
                                     partition: 0)
            // 5. And a healthy segment after all of them.
            let healthy = try h.putSegment(stream: "s-ok", payloads: [#"{"temperature":81}"#])
            for n in [corrupt, missing, nonNumeric, healthy] { try h.notify(n) }

            try h.start(h.config(node: "p1"), registry: registry)
            try h.waitUntil("all notifications handled") { try h.unfinished() == 0 }
            let dlq = try h.deadLetters()
            let byStream = Dictionary(dlq.map { ($0["stream"] ?? "<none>", $0) }, uniquingKeysWith: { a, _ in a })
            #expect(dlq.count == 4)
            #expect(byStream["s-corrupt"]?["reason"] == "corrupt_line")
            #expect(byStream["s-corrupt"]?["lines"] == "1")
            #expect(byStream["s-missing"]?["reason"] == "missing_object")
            #expect(byStream["s-nan"]?["reason"] == "non_numeric_metric")
            #expect(byStream["<none>"]?["reason"] == "bad_notification")
            #expect(byStream["<none>"]?["entry"] == badID)

            // The DLQ objects say where and why.
            let record = try JSONReader.parse(try #require(try h.objects.get(key: "dlq/segments/s-corrupt/00000000000000000001-00000000000000000003.json")))
            #expect(record.member("reason")?.string == "corrupt_line")
            #expect(record.member("rows_written") == .bool(true))
            guard case .array(let problems) = record.member("line_problems") else { Issue.record("no line_problems"); return }
            #expect(problems.map { $0.member("line")?.int64 } == [2])
            #expect(problems.first?.member("seq")?.int64 == 2)
            #expect(problems.first?.member("kind")?.string == "bad_json")
            #expect(try h.objects.get(key: "dlq/segments/s-missing/00000000000000000001-00000000000000000004.json") != nil)
            let badKey = try #require(try h.objects.list(prefix: "dlq/notifications/0/", startAfter: nil, limit: 10).first)
            #expect(badKey == "dlq/notifications/0/\(badID).json")

            // Good rows of damaged segments are written; the healthy segment is untouched by the rest.
            #expect(try h.count("SELECT count(*) FROM device_metrics WHERE stream_key = 's-corrupt'") == 2)
            #expect(try h.count("SELECT count(*) FROM anomaly_events WHERE stream_key = 's-corrupt'") == 2)
            #expect(try h.count("SELECT count(*) FROM device_metrics WHERE stream_key = 's-nan'") == 2, "humidity of line 1, temperature of line 2")
            #expect(try h.count("SELECT count(*) FROM device_metrics WHERE stream_key = 's-nan' AND metric = 'temperature'") == 1)
            #expect(try h.count("SELECT count(*) FROM device_metrics WHERE stream_key = 's-ok'") == 1)
            #expect(try h.count("SELECT count(*) FROM processed_segments") == 3)
            let text = registry.render()
            for reason in ["corrupt_line", "missing_object", "non_numeric_metric", "bad_notification"] {
                #expect(text.contains("ees_processor_dlq_total{reason=\"\(reason)\"} 1"), "\(reason)")
            }
        }
    }

    @Test func anEntryDeliveredTooOftenIsDeadLettered() throws {
        try H.run { h in
            let note = try h.putSegment(stream: "s-poison", payloads: [#"{"temperature":90}"#])
            try h.queue.ensureGroups()
            let id = try h.notify(note)
            let stream = h.keys.notifications(partition: h.partition(of: "s-poison"))
            // Five deliveries to processors that never acknowledged (each XCLAIM counts one).
            _ = try h.queue.read(consumer: "crashy", count: 10, blockMs: 100)
            for _ in 0..<4 { _ = try h.redis.command(["XCLAIM", stream, "processor", "crashy", "0", id]) }
            let registry = MetricsRegistry()
            try h.start(h.config(node: "p1", claimIdleMs: 1_000, maxDeliveries: 5), registry: registry)
            try h.waitUntil("the entry is dead-lettered", seconds: 20) { try h.pending() == 0 }
            let dlq = try h.deadLetters()
            #expect(dlq.map { $0["reason"] } == ["max_deliveries"])
            #expect(dlq.first?["deliveries"] == "6")
            #expect(try h.count("SELECT count(*) FROM device_metrics") == 0, "a poison segment is not attempted again")
            #expect(registry.render().contains("ees_processor_dlq_total{reason=\"max_deliveries\"} 1"))
        }
    }

    @Test func aPostgresOutageIsWaitedOutWithoutDeliveriesOrLoss() throws {
        try H.run { h in
            let sink = SwitchableSink(try PostgresMetricsSink(configuration: h.postgres))
            sink.down.store(true, ordering: .relaxed)
            let notes = try (0..<3).map { i in try h.putSegment(stream: "s-out-\(i)", payloads: [#"{"temperature":8\#(i)}"#]) }
            for n in notes { try h.notify(n) }
            let registry = MetricsRegistry()
            try h.start(h.config(node: "waiter", claimIdleMs: 1_000), sink: sink, registry: registry)
            try h.waitUntil("the waiter holds all three entries") { try h.pending() == 3 }
            // A healthy processor that would take over anything left idle for a second.
            let otherRegistry = MetricsRegistry()
            try h.start(h.config(node: "other", claimIdleMs: 1_000), registry: otherRegistry)
            // Three claim periods pass while Postgres is "down" for the waiter: nothing acked,
            // nothing written, nothing dead-lettered, nothing claimed by the other processor, and
            // the held entries keep their first delivery (touched, not re-delivered).
            let outageStart = ContinuousClock.now
            try h.waitUntil("three claim periods (observation window)") { ContinuousClock.now - outageStart > .milliseconds(3_000) }
            #expect(sink.failures.load(ordering: .relaxed) > 0)
            #expect(try h.pending() == 3)
            #expect(try h.deadLetters().isEmpty)
            #expect(try h.count("SELECT count(*) FROM device_metrics") == 0)
            for p in 0..<ProcessorHarness.partitions {
                let rows = try h.redis.command(["XPENDING", h.keys.notifications(partition: p), "processor", "-", "+", "10"]).array ?? []
                for r in rows {
                    #expect(r.array?[1].text == "waiter", "the waiter keeps its entries")
                    #expect(r.array?[3].int == 1, "deliveries stay at 1 during an outage")
                }
            }
            #expect(otherRegistry.render().contains("ees_processor_claimed_total 0"))
            sink.down.store(false, ordering: .relaxed)
            try h.waitUntil("caught up after the outage") { try h.unfinished() == 0 }
            #expect(try h.count("SELECT count(*) FROM device_metrics") == 3)
            #expect(try h.count("SELECT count(*) FROM anomaly_events") == 2)
            #expect(try h.deadLetters().isEmpty)
        }
    }
}
