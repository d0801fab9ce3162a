import EESCore
import EESHTTPClient

/// One simulated device: its id and the API key it presents.
struct SimulatedDevice: Sendable {
    let id: String
    var apiKey: String
    /// Events this device sends in a `--count` run (nil: until the duration ends).
    let quota: Int?
}

/// How a batch is resent: bounded attempts, capped backoff, a cap on honoured Retry-After.
struct RetryPolicy: Sendable {
    var attemptsMax = 30
    var backoff = Backoff(baseMs: 50, maxMs: 2_000)
    /// A server asking for a longer pause than this gets this (so a run stays bounded).
    var retryAfterMaxMs = 30_000
    /// Until this monotonic time a 401 is retried like a 503: `--provision` has just (re)keyed
    /// the devices, and a node answers from its cached record until the invalidation arrives
    /// (milliseconds) or, at worst, its cache TTL passes (30 s by default).
    var retryUnauthorizedUntilNs: UInt64?
    /// How long after provisioning a 401 counts as a stale cache.
    static let provisionGraceMs = 35_000
}

/// Everything `ees simulate` does, read and checked once from the command line.
struct SimulatePlan: Sendable {
    var endpoint: HTTPEndpoint
    var devices: [SimulatedDevice]
    var batchSize: Int
    /// Events per second over all devices; 0 sends as fast as the connections allow.
    var rateEventsPerS: Double
    /// Set for a `--duration` run, nil for a `--count` run.
    var durationMs: Int?
    var model: TemperatureModel
    var seed: UInt64
    var connections: Int
    var retry: RetryPolicy
    var http: HTTPClientConfig
    var provision: Bool
    var reportPath: String?
    var progress: Bool
    /// The report lists at most this many anomalous readings (the count is always exact).
    var anomaliesListedMax = 1_000_000

    static let devicesMax = 100_000
    static let defaultDurationS = 10.0

    init(_ o: ParsedOptions) throws {
        do { endpoint = try HTTPEndpoint(url: o.require("endpoint")) } catch let e as HTTPClientError {
            throw ConfigError("--endpoint: \(e.message)")
        }
        let base = try o.require("device-id")
        guard Identifier.isValid(base, maxBytes: 120) else { throw ConfigError("--device-id: 1-120 of letters, digits and . _ : -") }
        let n = try o.int("devices", in: 1...SimulatePlan.devicesMax)
        let ids = n.map { n in (1...n).map { "\(base)-\($0)" } } ?? [base]
        let provision = o.isSet("provision")
        self.provision = provision
        let keys = o.strings("api-key")
        if !provision {
            guard keys.count == 1 || keys.count == ids.count else {
                throw ConfigError("--api-key: give one key for every device, or one per device in order (\(ids.count)), or use --provision")
            }
        }
        batchSize = try o.int("batch-size", in: 1...1_000) ?? 100
        rateEventsPerS = try o.double("rate", in: 0...10_000_000) ?? 1_000
        let count = try o.int("count", in: 1...1_000_000_000)
        let duration = try o.double("duration", in: 0.001...86_400)
        guard count == nil || duration == nil else { throw ConfigError("give --duration or --count, not both") }
        durationMs = count == nil ? Int(((duration ?? SimulatePlan.defaultDurationS) * 1000).rounded()) : nil
        devices = ids.enumerated().map { i, id in
            let quota = count.map { $0 / ids.count + (i < $0 % ids.count ? 1 : 0) }
            return SimulatedDevice(id: id, apiKey: provision ? "" : keys[keys.count == 1 ? 0 : i], quota: quota)
        }
        let modeName = try o.require("anomaly-mode")
        guard let mode = AnomalyMode(rawValue: modeName) else { throw ConfigError("--anomaly-mode: '\(modeName)' is not spike or drift") }
        let rate = try o.double("anomaly-rate") ?? 0.02
        if let problem = TemperatureModel.problem(anomalyRate: rate, mode: mode) { throw ConfigError("--anomaly-rate: \(problem)") }
        model = TemperatureModel(anomalyRate: rate, mode: mode)
        if let s = o.string("seed") {
            guard let v = UInt64(s) else { throw ConfigError("--seed: '\(s)' is not a non-negative integer") }
            seed = v
        } else {
            seed = UInt64.random(in: 0...UInt64(UInt32.max))   // printed in the summary, so any run can be replayed
        }
        // More connections than devices would idle: a device's batches go out in order on one.
        connections = min(try o.int("connections", in: 1...1_024) ?? 4, ids.count)
        retry = RetryPolicy()
        retry.attemptsMax = try o.int("attempts-max", in: 1...1_000) ?? 30
        retry.backoff = Backoff(baseMs: 50, maxMs: try o.int("backoff-max-ms", in: 50...600_000) ?? 2_000)
        http = HTTPClientConfig()
        http.connectTimeoutMs = try o.int("connect-timeout-ms", in: 1...600_000) ?? 2_000
        http.requestTimeoutMs = try o.int("request-timeout-ms", in: 1...600_000) ?? 10_000
        http.responseBodyBytesMax = 1 << 20
        reportPath = o.string("report-json")
        progress = !o.isSet("quiet")
    }
}
