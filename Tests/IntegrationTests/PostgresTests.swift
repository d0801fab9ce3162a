import EESCore
import EESPostgres
import Foundation
import Testing

@Suite("Postgres migrations")
struct PostgresMigrationTests {
    @Test func migratesAnEmptyDatabase() throws {
        try withPostgresTestDatabase { config in
            let c = try PostgresConnection(configuration: config)
            let outdated = #expect(throws: PostgresError.self) { try Migrator().requireCurrent(on: c) }
            #expect(outdated?.code == .schemaOutdated)
            let report = try Migrator().migrate(on: c)
            try Migrator().requireCurrent(on: c)
            #expect(report == MigrationReport(fromVersion: 0, toVersion: 1, applied: [1]))
            for rel in ["device_metrics", "anomaly_events", "processed_segments", "schema_migrations",
                        "temperature_readings", "anomalies", "device_metrics_latest"] {
                #expect(try c.exec("SELECT to_regclass($1) IS NOT NULL", params: [rel]).scalar == "t", "\(rel)")
            }
            let rows = try c.exec("SELECT version, name, applied_at IS NOT NULL FROM schema_migrations").rows
            #expect(rows == [["1", "initial", "t"]])
            // Metabase shows these descriptions.
            #expect(try c.exec("SELECT obj_description('device_metrics'::regclass, 'pg_class')").scalar != nil)
            #expect(try c.exec("SELECT col_description('temperature_readings'::regclass, 5)").scalar
                    == "Temperature in degrees Celsius.")
            #expect(try Migrator().currentVersion(on: c) == 1)
        }
    }

    @Test func secondRunIsANoOp() throws {
        try withPostgresTestDatabase { config in
            let c = try PostgresConnection(configuration: config)
            try Migrator().migrate(on: c)
            let again = try Migrator().migrate(on: PostgresConnection(configuration: config))
            #expect(again == MigrationReport(fromVersion: 1, toVersion: 1, applied: []))
            #expect(try rowCount(c, "schema_migrations") == 1)
        }
    }

    @Test func concurrentRunsApplyEachVersionOnce() throws {
        try withPostgresTestDatabase { config in
            let run: @Sendable () -> Result<MigrationReport, PostgresError> = {
                do throws(PostgresError) {
                    return .success(try Migrator().migrate(on: PostgresConnection(configuration: config)))
                } catch { return .failure(error) }
            }
            let results = runOnThreads([run, run, run])
            let reports = try results.map { try $0.get() }
            #expect(reports.flatMap(\.applied) == [1], "exactly one run applies v1: \(reports)")
            #expect(reports.allSatisfy { $0.toVersion == 1 })
            let c = try PostgresConnection(configuration: config)
            #expect(try rowCount(c, "schema_migrations") == 1)
            #expect(try c.exec("SELECT count(*) FROM pg_tables WHERE tablename = 'device_metrics'").scalar == "1")
        }
    }

    @Test func refusesANewerSchema() throws {
        try withPostgresTestDatabase { config in
            let c = try PostgresConnection(configuration: config)
            try Migrator().migrate(on: c)
            try c.exec("INSERT INTO schema_migrations (version, name) VALUES (7, 'from_the_future')")
            let error = #expect(throws: PostgresError.self) { try Migrator().migrate(on: c) }
            #expect(error?.code == .schemaTooNew)
            #expect(error?.description.contains("version 7") == true)
            #expect(error?.description.contains("up to 1") == true)
            #expect(throws: PostgresError.self) { try Migrator().requireCurrent(on: c) }
            #expect(try rowCount(c, "schema_migrations") == 2, "nothing applied or removed")
            // The lock was released: the session can still take it.
            #expect(try c.exec("SELECT pg_try_advisory_lock($1)", params: [String(Migrator.advisoryLockKey)]).scalar == "t")
        }
    }
}

@Suite("Postgres metrics sink")
struct PostgresSinkTests {
    @Test func writesASegmentOnce() throws {
        try withMigratedPostgresDatabase { config in
            let sink = try PostgresMetricsSink(configuration: config)
            let (seg, metrics, anomalies) = makeTestSegment(events: 1000, metricsPerEvent: 2)
            #expect(try sink.isProcessed(segKey: seg.segKey) == false)
            let outcome = try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
            #expect(outcome == .written(metricsInserted: 2000, anomaliesInserted: anomalies.count))
            #expect(anomalies.count > 0)
            #expect(try sink.isProcessed(segKey: seg.segKey))

            let c = try PostgresConnection(configuration: config)
            #expect(try rowCount(c, "device_metrics") == 2000)
            #expect(try rowCount(c, "anomaly_events") == anomalies.count)
            #expect(try rowCount(c, "temperature_readings") == 1000)
            #expect(try rowCount(c, "anomalies") == anomalies.count)
            #expect(try c.exec("SELECT stream_key, seq_start, seq_end, rows FROM processed_segments").rows
                    == [["s-1", "1", "1000", "1000"]])
            #expect(try c.exec("SELECT temperature_c FROM temperature_readings WHERE seq = 3").scalar == "23.25")
            #expect(try c.exec("SELECT count(*) FROM device_metrics_latest").scalar == "2")
        }
    }

    @Test func sameSegmentTwiceIsAlreadyProcessed() throws {
        try withMigratedPostgresDatabase { config in
            let sink = try PostgresMetricsSink(configuration: config)
            let (seg, metrics, anomalies) = makeTestSegment(events: 500, metricsPerEvent: 2)
            _ = try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
            #expect(try sink.write(segment: seg, metrics: metrics, anomalies: anomalies) == .alreadyProcessed)
            // A fresh sink (a restarted processor) sees the same.
            let other = try PostgresMetricsSink(configuration: config)
            #expect(try other.write(segment: seg, metrics: metrics, anomalies: anomalies) == .alreadyProcessed)
            let c = try PostgresConnection(configuration: config)
            #expect(try rowCount(c, "device_metrics") == 1000)
            #expect(try rowCount(c, "anomaly_events") == anomalies.count)
            #expect(try rowCount(c, "processed_segments") == 1)
            // Same rows under another segment key (a re-flushed range): nothing duplicated.
            var renamed = seg
            renamed.segKey += ".again"
            #expect(try sink.write(segment: renamed, metrics: metrics, anomalies: anomalies)
                    == .written(metricsInserted: 0, anomaliesInserted: 0))
            #expect(try rowCount(c, "device_metrics") == 1000)
        }
    }

    @Test func concurrentWritersOfOneSegmentInsertOnce() throws {
        try withMigratedPostgresDatabase { config in
            let (seg, metrics, anomalies) = makeTestSegment(events: 2000, metricsPerEvent: 2)
            let writers = [try PostgresMetricsSink(configuration: config), try PostgresMetricsSink(configuration: config)]
            let write: @Sendable (PostgresMetricsSink) -> Result<WriteOutcome, MetricsSinkError> = { sink in
                Result { () throws(MetricsSinkError) in try sink.write(segment: seg, metrics: metrics, anomalies: anomalies) }
            }
            let (w0, w1) = (writers[0], writers[1])
            let outcomes = try runOnThreads([{ @Sendable in write(w0) }, { @Sendable in write(w1) }]).map { try $0.get() }
            #expect(outcomes.filter { $0 == .alreadyProcessed }.count == 1, "\(outcomes)")
            #expect(outcomes.contains(.written(metricsInserted: 4000, anomaliesInserted: anomalies.count)))
            #expect(try rowCount(PostgresConnection(configuration: config), "device_metrics") == 4000)
        }
    }

    @Test func trickyTextRoundTripsThroughTheSink() throws {
        try withMigratedPostgresDatabase { config in
            let sink = try PostgresMetricsSink(configuration: config)
            let tricky = ["tab\there", "line\nbreak", "cr\rlf\r\n", #"back\slash\\N"#, "\\.", #"\N"#,
                          "ünïcødé 温度 🌡️", "quote\"'", "ctl\u{1}\u{7F}", " lead and trail ", "", "NULL", "{a,b}", "x\",\"y"]
            var metrics: [MetricRow] = []
            var anomalies: [AnomalyRow] = []
            let values: [Double] = [0, -0.0, 0.1 + 0.2, 1e-300, -Double.greatestFiniteMagnitude, .leastNonzeroMagnitude, 123456789.125,
                                    .infinity, -.infinity, .nan, 42, -7.5]
            for (i, s) in tricky.enumerated() {
                let seq = Int64(i + 1)
                metrics.append(MetricRow(tsMs: 1_700_000_000_123 + seq, deviceId: "dev " + s, streamKey: "s\t" + s,
                                         seq: seq, metric: "m" + s, value: values[i % values.count],
                                         ingestedAtMs: -86_400_000 + seq))
                anomalies.append(AnomalyRow(detectedAtMs: 1, tsMs: 2, deviceId: s, streamKey: "s\t" + s, seq: seq,
                                            metric: s, value: 90, threshold: 80, algorithm: "alg\t" + s,
                                            severity: s, detailsJSON: "{\"note\":\(JSONText.quoted(s))}"))
            }
            let seg = ProcessedSegment(segKey: "stream/x\ty/seg/1", streamKey: "s", seqStart: 1,
                                       seqEnd: Int64(tricky.count), rows: tricky.count)
            #expect(try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
                    == .written(metricsInserted: tricky.count, anomaliesInserted: tricky.count))

            let c = try PostgresConnection(configuration: config)
            let got = try c.exec("""
                SELECT device_id, stream_key, metric, value::text, (extract(epoch FROM ts) * 1000)::bigint,
                       (extract(epoch FROM ingested_at) * 1000)::bigint
                FROM device_metrics ORDER BY seq
                """).rows
            #expect(got.count == metrics.count)
            for (row, m) in zip(got, metrics) {
                #expect(row[0] == m.deviceId)
                #expect(row[1] == m.streamKey)
                #expect(row[2] == m.metric)
                let back = Double(row[3] ?? "") ?? (row[3] == "NaN" ? .nan : row[3] == "Infinity" ? .infinity
                                                    : row[3] == "-Infinity" ? -.infinity : 12345)
                #expect(back.bitPattern == m.value.bitPattern || (back.isNaN && m.value.isNaN), "\(row[3] ?? "nil")")
                #expect(row[4] == String(m.tsMs))
                #expect(row[5] == String(m.ingestedAtMs))
            }
            let gotA = try c.exec("SELECT device_id, metric, algorithm, severity, details->>'note' FROM anomaly_events ORDER BY seq").rows
            for (row, a) in zip(gotA, anomalies) {
                #expect(row == [a.deviceId, a.metric, a.algorithm, a.severity, tricky[Int(a.seq) - 1]])
            }
            #expect(try c.exec("SELECT seg_key FROM processed_segments").scalar == seg.segKey)
        }
    }

    @Test func rejectedDataCommitsNothingAndTheSinkStaysUsable() throws {
        try withMigratedPostgresDatabase { config in
            let sink = try PostgresMetricsSink(configuration: config)
            var (seg, metrics, anomalies) = makeTestSegment(events: 100)
            anomalies[0].detailsJSON = "{not json"
            let error = #expect(throws: MetricsSinkError.self) {
                try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
            }
            #expect(error?.code == .rejected)
            #expect(error?.description.contains("22P02") == true, "\(String(describing: error))")
            #expect(try sink.isProcessed(segKey: seg.segKey) == false)

            metrics[0].deviceId = "nul\u{0}inside"
            let nul = #expect(throws: MetricsSinkError.self) {
                try sink.write(segment: seg, metrics: metrics, anomalies: [])
            }
            #expect(nul?.code == .rejected)

            metrics[0].deviceId = "dev-1"
            anomalies[0].detailsJSON = "{}"
            #expect(try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
                    == .written(metricsInserted: 100, anomaliesInserted: anomalies.count))
        }
    }

    @Test func unmigratedDatabaseIsUnavailableNotRejected() throws {
        try withPostgresTestDatabase { config in
            let sink = try PostgresMetricsSink(configuration: config)
            let (seg, metrics, anomalies) = makeTestSegment(events: 10)
            let error = #expect(throws: MetricsSinkError.self) {
                try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
            }
            #expect(error?.code == .unavailable, "a missing schema is the deployment's fault, not the segment's")
            try Migrator().migrate(on: PostgresConnection(configuration: config))
            #expect(try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
                    == .written(metricsInserted: 10, anomaliesInserted: 0))
        }
    }

    @Test func unreachableServerIsUnavailableWithoutLeakingThePassword() throws {
        let port = try closedPort()
        let secret = "s3cr%21t-pw"   // percent-encoded "s3cr!t-pw"
        let config = PostgresConfiguration(url: "postgres://ees:\(secret)@127.0.0.1:\(port)/ees?sslmode=disable",
                                           connectTimeoutSeconds: 2)
        let sink = try PostgresMetricsSink(configuration: config)
        let (seg, metrics, anomalies) = makeTestSegment(events: 10)
        let started = ContinuousClock.now
        let error = #expect(throws: MetricsSinkError.self) {
            try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
        }
        #expect(ContinuousClock.now - started < .seconds(3))
        #expect(error?.code == .unavailable)
        let text = "\(String(describing: error)) \(error.map { String(reflecting: $0) } ?? "")"
        #expect(!text.contains("s3cr"), "\(text)")
        #expect(text.contains("127.0.0.1:\(port)"), "\(text)")
        #expect(throws: MetricsSinkError.self) { try sink.isProcessed(segKey: seg.segKey) }

        let direct = #expect(throws: PostgresError.self) { try PostgresConnection(configuration: config) }
        #expect(direct?.code == .connectionFailed)
        #expect(direct.map { !"\($0) \(String(reflecting: $0))".contains("s3cr") } == true)
        #expect(config.redactedURL == "postgres://ees:***@127.0.0.1:\(port)/ees?sslmode=disable")

        // A malformed URL is a configuration error at start-up, not an outage to retry.
        let bad = PostgresConfiguration(url: "postgres://ees:\(secret)@127.0.0.1:54x2/ees")
        let invalid = #expect(throws: PostgresError.self) { try PostgresMetricsSink(configuration: bad) }
        #expect(invalid?.code == .invalidConfiguration)
        #expect(invalid.map { !"\($0)".contains("s3cr") && "\($0)".contains("54x2") } == true)
    }

    @Test func reconnectsOnTheCallAfterTheConnectionDrops() throws {
        try withMigratedPostgresDatabase { config in
            var config = config
            config.applicationName = "ees-test-victim"
            let sink = try PostgresMetricsSink(configuration: config)
            let (seg1, m1, a1) = makeTestSegment(start: 1, events: 100)
            let (seg2, m2, a2) = makeTestSegment(start: 101, events: 100)
            _ = try sink.write(segment: seg1, metrics: m1, anomalies: a1)

            let admin = try PostgresConnection(configuration: config)
            let killed = try admin.exec("""
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                WHERE application_name = 'ees-test-victim' AND pid <> pg_backend_pid()
                """).scalar
            #expect(killed == "1")

            // The broken session is noticed by the next call (`.unavailable`, retry), or the
            // write succeeds at once; either way the second attempt at the latest has a new session.
            var outcome: WriteOutcome?
            for _ in 0..<2 where outcome == nil {
                do throws(MetricsSinkError) {
                    outcome = try sink.write(segment: seg2, metrics: m2, anomalies: a2)
                } catch {
                    #expect(error.code == .unavailable)
                }
            }
            #expect(outcome == .written(metricsInserted: 100, anomaliesInserted: a2.count))
            #expect(try rowCount(admin, "device_metrics") == 200)
        }
    }

    /// The same body against the in-memory sink and Postgres: both keep the port's contract.
    @Test func inMemoryAndPostgresSinksAgree() throws {
        try withMigratedPostgresDatabase { config in
            let sinks: [any MetricsSink] = [InMemoryMetricsSink(), try PostgresMetricsSink(configuration: config)]
            for sink in sinks {
                try checkSinkContract(sink)
            }
        }
    }
}

@Suite("Postgres connection")
struct PostgresConnectionTests {
    @Test func copyInRoundTripsTrickyText() throws {
        try withPostgresTestDatabase { config in
            let c = try PostgresConnection(configuration: config)
            try c.exec("CREATE TABLE t (id bigint, s text, v float8, n text)")
            let texts = ["tab\there", "line\nbreak", "cr\rlf\r\n", #"back\slash\\N"#, "\\.", #"\N"#, "\\",
                         "ünïcødé 温度 🌡️", "ctl\u{1}\u{7F}", " ", "", "end\\"]
            var e = CopyTextEncoder()
            for (i, s) in texts.enumerated() {
                e.append(Int64(i)); e.append(s); e.append(Double(i) / 3); e.appendNull()
                e.endRow()
            }
            // A line that is only "\." ends COPY text input: escaping must never produce one.
            #expect(try c.copyIn("COPY t (id, s, v, n) FROM STDIN", payload: e.bytes) == texts.count)
            let rows = try c.exec("SELECT s, v::text, n FROM t ORDER BY id").rows
            #expect(rows.map { $0[0] } == texts)
            #expect(rows.map { Double($0[1] ?? "") } == texts.indices.map { Double($0) / 3 })
            #expect(rows.allSatisfy { $0[2] == nil })
        }
    }

    @Test func errorsCarrySQLStateAndLeaveTheSessionUsable() throws {
        try withPostgresTestDatabase { config in
            let c = try PostgresConnection(configuration: config)
            try c.exec("CREATE TABLE u (k int PRIMARY KEY)")
            try c.exec("INSERT INTO u VALUES ($1)", params: ["1"])
            let dup = #expect(throws: PostgresError.self) { try c.exec("INSERT INTO u VALUES ($1)", params: ["1"]) }
            #expect(dup?.sqlState == "23505")
            #expect(dup?.description.contains("(k)=(1)") == false, "DETAIL (row values) stays out of description")
            #expect(dup?.detail?.contains("(k)=(1)") == true)

            // A failed COPY (bad value mid-stream) is drained; the next statement works.
            var e = CopyTextEncoder()
            e.append("2"); e.endRow()
            e.append("not-an-int"); e.endRow()
            let bad = #expect(throws: PostgresError.self) { try c.copyIn("COPY u FROM STDIN", payload: e.bytes) }
            #expect(bad?.sqlState == "22P02")
            #expect(try c.exec("SELECT count(*) FROM u").scalar == "1")

            // An error inside a transaction rolls it back; reconnectIfNeeded clears what is left.
            try c.begin()
            _ = try? c.exec("SELECT 1/0")
            #expect(throws: PostgresError.self) { try c.commit() }
            try c.reconnectIfNeeded()
            let n = try c.withTransaction { (t: PostgresConnection) throws(PostgresError) in
                try t.exec("INSERT INTO u VALUES (2), (3)").affectedRows
            }
            #expect(n == 2)
            #expect(throws: PostgresError.self) { try c.exec("SELECT $1::text", params: ["nul\u{0}"]) }
        }
    }
}

@Suite("Postgres COPY text")
struct CopyTextEncoderTests {
    @Test func escapesTheCharactersTheFormatReserves() {
        var e = CopyTextEncoder()
        e.append("a\tb\nc\rd\\e")
        e.append(Int64(-9_223_372_036_854_775_808))
        e.append(0.5)
        e.appendNull()
        e.endRow()
        e.append(Int64(0))
        e.append(Double.nan)
        e.endRow()
        #expect(String(decoding: e.bytes, as: UTF8.self)
                == "a\\tb\\nc\\rd\\\\e\t-9223372036854775808\t0.5\t\\N\n0\tNaN\n")
        #expect(e.rowCount == 2)
        #expect(!e.containsNUL)
        e.append("x\u{0}y")
        #expect(e.containsNUL)
    }
}

/// The `MetricsSink` contract, for any implementation with an empty store.
func checkSinkContract(_ sink: any MetricsSink) throws {
    let (seg, metrics, anomalies) = makeTestSegment(stream: "contract", events: 300, metricsPerEvent: 2)
    #expect(try sink.isProcessed(segKey: seg.segKey) == false)
    #expect(try sink.write(segment: seg, metrics: metrics, anomalies: anomalies)
            == .written(metricsInserted: 600, anomaliesInserted: anomalies.count))
    #expect(try sink.isProcessed(segKey: seg.segKey))
    #expect(try sink.write(segment: seg, metrics: metrics, anomalies: anomalies) == .alreadyProcessed)
    // Duplicate rows inside one call are stored once.
    let (seg2, m2, _) = makeTestSegment(stream: "contract", start: 301, events: 10)
    #expect(try sink.write(segment: seg2, metrics: m2 + m2, anomalies: [])
            == .written(metricsInserted: 10, anomaliesInserted: 0))
    // An empty segment is still recorded.
    let empty = ProcessedSegment(segKey: "stream/contract/seg/empty", streamKey: "contract", seqStart: 311,
                                 seqEnd: 311, rows: 1)
    #expect(try sink.write(segment: empty, metrics: [], anomalies: []) == .written(metricsInserted: 0, anomaliesInserted: 0))
    #expect(try sink.isProcessed(segKey: empty.segKey))
}


