import EESCore
import EESPostgres
import Foundation
import Synchronization
import Testing

/// Why a Postgres test could not even start: reported as a failure, never a skip.
struct PostgresTestSetupError: Error, CustomStringConvertible {
    let description: String
}

/// The server under test, from `EES_TEST_POSTGRES_URL` (scripts/services exports it).
func testPostgresURL() throws -> String {
    guard let url = ProcessInfo.processInfo.environment["EES_TEST_POSTGRES_URL"], !url.isEmpty else {
        throw PostgresTestSetupError(description: """
            EES_TEST_POSTGRES_URL is not set: Postgres integration tests need a real server \
            (e.g. postgres://postgres@127.0.0.1:5432/ees); start one with scripts/services
            """)
    }
    return url
}

/// Runs `body` against a fresh database `ees_test_<random>`, dropped afterwards (also on failure),
/// so tests run in parallel without sharing schema or rows.
func withPostgresTestDatabase<T>(_ body: (PostgresConfiguration) throws -> T) throws -> T {
    let admin = PostgresConfiguration(url: try testPostgresURL(), applicationName: "ees-test-admin")
    let name = "ees_test_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    let conn = try PostgresConnection(configuration: admin)
    try conn.exec("CREATE DATABASE \(name)")
    defer {
        // FORCE ends sessions a test left open (a sink's connection) instead of failing the drop.
        _ = try? conn.exec("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
    }
    var config = admin
    config.database = name
    config.applicationName = "ees-test"
    return try body(config)
}

/// A migrated fresh database.
func withMigratedPostgresDatabase<T>(_ body: (PostgresConfiguration) throws -> T) throws -> T {
    try withPostgresTestDatabase { (config) throws -> T in
        try Migrator().migrate(on: PostgresConnection(configuration: config))
        return try body(config)
    }
}

/// Runs each body on its own thread at the same time and returns their results in order.
func runOnThreads<T: Sendable>(_ bodies: [@Sendable () -> T]) -> [T] {
    let results = Mutex<[Int: T]>([:])
    let group = DispatchGroup()
    for (i, body) in bodies.enumerated() {
        group.enter()
        Thread {
            let r = body()
            results.withLock { $0[i] = r }
            group.leave()
        }.start()
    }
    group.wait()
    return results.withLock { r in (0..<bodies.count).map { r[$0]! } }
}

/// A segment of `events` events on one stream, `metricsPerEvent` metrics each (the first is
/// `temperature`), and an anomaly for every event whose temperature exceeds 80.
func makeTestSegment(stream: String = "s-1", device: String = "dev-1", start: Int64 = 1, events: Int,
                 metricsPerEvent: Int = 1) -> (ProcessedSegment, [MetricRow], [AnomalyRow]) {
    let end = start + Int64(events) - 1
    let key = "stream/\(stream)/seg/\(pad20(start))-\(pad20(end)).jsonl"
    var metrics: [MetricRow] = []
    var anomalies: [AnomalyRow] = []
    let names = ["temperature", "humidity", "pressure", "voltage"]
    for i in 0..<events {
        let seq = start + Int64(i)
        let ts = 1_700_000_000_000 + seq * 1000
        for k in 0..<metricsPerEvent {
            let value = k == 0 ? 20.0 + Double(seq % 70) + 0.25 : Double(seq) / 3
            metrics.append(MetricRow(tsMs: ts, deviceId: device, streamKey: stream, seq: seq,
                                     metric: k < names.count ? names[k] : "m\(k)", value: value,
                                     ingestedAtMs: ts + 15))
            if k == 0 && value > 80 {
                anomalies.append(AnomalyRow(detectedAtMs: ts + 40, tsMs: ts, deviceId: device, streamKey: stream,
                                            seq: seq, metric: "temperature", value: value, threshold: 80,
                                            algorithm: "threshold", severity: "warning",
                                            detailsJSON: #"{"threshold":80}"#))
            }
        }
    }
    return (ProcessedSegment(segKey: key, streamKey: stream, seqStart: start, seqEnd: end, rows: events),
            metrics, anomalies)
}

private func pad20(_ n: Int64) -> String {
    let s = String(n)
    return String(repeating: "0", count: max(0, 20 - s.count)) + s
}

/// `SELECT count(*) FROM table`.
func rowCount(_ c: PostgresConnection, _ table: String) throws -> Int {
    Int(try c.exec("SELECT count(*) FROM \(table)").scalar ?? "") ?? -1
}
