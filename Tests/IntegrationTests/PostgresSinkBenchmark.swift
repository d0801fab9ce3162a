import EESCore
import EESPostgres
import Foundation
import Testing

/// Sink throughput against a same-run ceiling (plain COPY of the same rows into a table of the same
/// shape and indexes, one transaction per segment). Runs only when asked:
/// `EES_BENCH=1 EES_TEST_POSTGRES_URL=… swift test -c release --filter PostgresSinkBenchmark`
@Suite("Postgres sink benchmark", .enabled(if: ProcessInfo.processInfo.environment["EES_BENCH"] != nil))
struct PostgresSinkBenchmark {
    @Test func sinkRowsPerSecond() throws {
        var uts = utsname()
        uname(&uts)
        let machine = withUnsafeBytes(of: &uts.nodename) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        print("BENCH host=\(machine) cores=\(ProcessInfo.processInfo.activeProcessorCount) "
              + "command='EES_BENCH=1 swift test -c release --filter PostgresSinkBenchmark'")
        for (events, metricsPerEvent) in [(1000, 1), (1000, 4)] {
            try withMigratedPostgresDatabase { config in
                let sink = try PostgresMetricsSink(configuration: config)
                let c = try PostgresConnection(configuration: config)
                try c.exec("""
                    CREATE TABLE bench_copy (ts_ms bigint, device_id text, stream_key text, seq bigint, metric text,
                        value float8, ingested_at_ms bigint, PRIMARY KEY (stream_key, seq, metric));
                    CREATE INDEX ON bench_copy (device_id, ts_ms);
                    CREATE INDEX ON bench_copy (metric, ts_ms);
                    """)
                var sinkTotal = (rows: 0, seconds: 0.0)
                var copyTotal = (rows: 0, seconds: 0.0)
                // Interleaved rounds so drift on the (shared, noisy) machine hits both alike.
                for round in 0..<5 {
                    let segs = (0..<20).map { k in
                        makeTestSegment(stream: "bench", start: Int64((round * 20 + k) * events + 1), events: events,
                                    metricsPerEvent: metricsPerEvent)
                    }
                    sinkTotal.seconds += try seconds {
                        for (seg, m, a) in segs {
                            _ = try sink.write(segment: seg, metrics: m, anomalies: a)
                            sinkTotal.rows += m.count + a.count
                        }
                    }
                    let payloads = segs.map { (_, m, a) in copyPayload(m, a) }
                    copyTotal.seconds += try seconds {
                        for p in payloads {
                            copyTotal.rows += try c.copyIn("COPY bench_copy FROM STDIN", payload: p)
                        }
                    }
                }
                for (name, t) in [("sink", sinkTotal), ("copy-ceiling", copyTotal)] {
                    print("BENCH \(name) segment=\(events)x\(metricsPerEvent) rows=\(t.rows) seconds="
                          + String(format: "%.2f", t.seconds) + " rows/s=" + String(format: "%.0f", Double(t.rows) / t.seconds))
                }
            }
        }
    }

    private func seconds(_ body: () throws -> Void) throws -> Double {
        let t0 = ContinuousClock.now
        try body()
        let dt = ContinuousClock.now - t0
        return Double(dt.components.seconds) + Double(dt.components.attoseconds) / 1e18
    }

    /// The segment's metric rows plus one row per anomaly (as extra metrics), so the ceiling loads as
    /// many rows as the sink does.
    private func copyPayload(_ metrics: [MetricRow], _ anomalies: [AnomalyRow]) -> [UInt8] {
        var e = CopyTextEncoder(reservingCapacity: (metrics.count + anomalies.count) * 64)
        for r in metrics {
            e.append(r.tsMs); e.append(r.deviceId); e.append(r.streamKey); e.append(r.seq)
            e.append(r.metric); e.append(r.value); e.append(r.ingestedAtMs)
            e.endRow()
        }
        for a in anomalies {
            e.append(a.tsMs); e.append(a.deviceId); e.append(a.streamKey); e.append(a.seq)
            e.append("anomaly." + a.metric); e.append(a.value); e.append(a.detectedAtMs)
            e.endRow()
        }
        return e.bytes
    }
}
