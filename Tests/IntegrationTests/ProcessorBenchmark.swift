import EESCore
import EESPostgres
import EESProcessor
import Foundation
import Testing

/// Processor throughput (notification → GET → parse → detect → one-statement write → XACK) against
/// a same-run ceiling: the Postgres sink alone writing the same rows. Runs only when asked:
/// `EES_BENCH=1 swift test -c release --filter ProcessorBenchmark` (with scripts/services' env).
@Suite("Processor benchmark", .enabled(if: ProcessInfo.processInfo.environment["EES_BENCH"] != nil), .serialized)
struct ProcessorBenchmark {
    static let segments = 200
    static let eventsPerSegment = 1000

    @Test(arguments: [1, 2]) func processorRowsPerSecond(workers: Int) throws {
        var uts = utsname()
        uname(&uts)
        let machine = withUnsafeBytes(of: &uts.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        print("BENCH host=\(machine) cores=\(ProcessInfo.processInfo.activeProcessorCount) workers=\(workers) "
              + "command='EES_BENCH=1 swift test -c release --filter ProcessorBenchmark'")
        try ProcessorHarness.run { h in
            // 2 metrics per event (temperature, humidity), ~10% of temperatures above 80.
            var notes: [SegmentNotification] = []
            for s in 0..<Self.segments {
                let payloads = (0..<Self.eventsPerSegment).map { i in
                    #"{"temperature":\#(20 + (s * 7 + i * 13) % 67),"humidity":\#(i % 90),"ok":true}"#
                }
                notes.append(try h.putSegment(stream: "bench-\(s % 8)", start: Int64(s / 8 * Self.eventsPerSegment + 1),
                                              payloads: payloads))
            }
            for n in notes { try h.notify(n) }
            var config = h.config(node: "bench")
            config.workers = workers
            let registry = MetricsRegistry()
            let started = ContinuousClock.now
            let sinks: [any MetricsSink] = try (0..<workers).map { _ in try PostgresMetricsSink(configuration: h.postgres) }
            let p = try Processor(config: config, redis: h.redisConfig, keys: h.keys, objects: h.objects, sinks: sinks,
                                  detectors: [ThresholdDetector()], metrics: registry, logger: Logger(minimum: .error))
            p.start()
            defer { p.stop() }
            try h.waitUntil("all segments processed", seconds: 300) { try h.unfinished() == 0 }
            let seconds = secondsSince(started)
            let rows = try h.count("SELECT count(*) FROM device_metrics") + h.count("SELECT count(*) FROM anomaly_events")
            print("BENCH processor workers=\(workers) segments=\(Self.segments)x\(Self.eventsPerSegment) rows=\(rows) seconds="
                  + String(format: "%.2f", seconds) + " rows/s=" + String(format: "%.0f", Double(rows) / seconds)
                  + " events/s=" + String(format: "%.0f", Double(Self.segments * Self.eventsPerSegment) / seconds))

            // Ceiling: the same rows through the sink alone (no Redis, no GET, no parse), one thread.
            let core = SegmentProcessor(detectors: [ThresholdDetector()])
            // New keys, so every row is new to the sink.
            let works = try notes.map { n in
                var w = core.prepare(n, bytes: try #require(try h.objects.get(key: n.key)))
                let stream = "ceil-" + n.streamKey
                w.segment.segKey = "ceil/" + n.key
                w.segment.streamKey = stream
                w.metrics = w.metrics.map { var m = $0; m.streamKey = stream; return m }
                w.anomalies = w.anomalies.map { var a = $0; a.streamKey = stream; return a }
                return w
            }
            let sink = try PostgresMetricsSink(configuration: h.postgres)
            let t0 = ContinuousClock.now
            var ceilingRows = 0
            for w in works {
                _ = try sink.write(segment: w.segment, metrics: w.metrics, anomalies: w.anomalies)
                ceilingRows += w.metrics.count + w.anomalies.count
            }
            let ceilingSeconds = secondsSince(t0)
            print("BENCH sink-only-ceiling rows=\(ceilingRows) seconds=" + String(format: "%.2f", ceilingSeconds)
                  + " rows/s=" + String(format: "%.0f", Double(ceilingRows) / ceilingSeconds))
            // Parse cost alone, for the record.
            let t1 = ContinuousClock.now
            var parsed = 0
            for n in notes { parsed += core.prepare(n, bytes: try #require(try h.objects.get(key: n.key))).metrics.count }
            print("BENCH get+parse+detect-only rows=\(parsed) seconds=" + String(format: "%.2f", secondsSince(t1))
                  + " rows/s=" + String(format: "%.0f", Double(parsed) / secondsSince(t1)))
        }
    }

    private func secondsSince(_ t: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - t
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
