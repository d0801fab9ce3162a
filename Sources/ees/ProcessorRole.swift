import EESCore
import EESObjectStore
import EESPostgres
import EESProcessor
import EESRedis
import Foundation

/// The processor role of `ees serve`: its options and its wiring.
enum ProcessorRole {
    static let specs: [OptionSpec] = MigrateCommand.postgres + [
        OptionSpec("detector-metric", env: "EES_DETECTOR_METRIC", default: "temperature", help: "payload field the threshold detector watches"),
        OptionSpec("detector-threshold", env: "EES_DETECTOR_THRESHOLD", default: "80.0", help: "threshold detector limit, in the metric's unit"),
        OptionSpec("detector-direction", env: "EES_DETECTOR_DIRECTION", default: "above", help: "above (value > limit) or below (value < limit)"),
        OptionSpec("detector-critical-margin", env: "EES_DETECTOR_CRITICAL_MARGIN", default: "10.0",
                   help: "past the limit by this much (metric's unit) is critical, else warning"),
        OptionSpec("claim-idle-ms", env: "EES_CLAIM_IDLE_MS", default: "60000",
                   help: "a notification unacknowledged this long is taken over by another processor"),
        OptionSpec("max-deliveries", env: "EES_MAX_DELIVERIES", default: "5", help: "deliveries before a notification is dead-lettered"),
        OptionSpec("processor-workers", env: "EES_PROCESSOR_WORKERS", default: "1", help: "processor threads (one Postgres connection each)"),
    ]

    static func config(_ o: ParsedOptions, nodeID: String) throws(ConfigError) -> ProcessorConfig {
        var c = ProcessorConfig()
        c.partitions = try o.int("partitions", in: 1...4096)!
        c.nodeID = nodeID
        c.claimIdleMs = try o.int("claim-idle-ms", in: 1000...86_400_000)!
        c.maxDeliveries = try o.int("max-deliveries", in: 1...1000)!
        c.workers = try o.int("processor-workers", in: 1...16)!
        try c.check()
        return c
    }

    static func detector(_ o: ParsedOptions) throws(ConfigError) -> ThresholdDetector {
        let metric = try o.require("detector-metric")
        guard SegmentParser.isMetricName(metric) else { throw ConfigError("--detector-metric: 1-128 bytes, no control characters") }
        let name = try o.require("detector-direction")
        guard let direction = ThresholdDetector.Direction(rawValue: name) else {
            throw ConfigError("--detector-direction: '\(name)' is not above or below")
        }
        return ThresholdDetector(metric: metric, threshold: try o.double("detector-threshold")!, direction: direction,
                                 criticalMargin: try o.double("detector-critical-margin", in: 0...Double.greatestFiniteMagnitude)!)
    }

    /// Checks the schema version and builds the processor without starting threads, so a bad
    /// setting stops `ees serve` before any role runs.
    static func make(_ o: ParsedOptions, config: ProcessorConfig, detector: ThresholdDetector, objects: any ObjectStore,
                     redis: RedisConfig, keys: RedisKeys, registry: MetricsRegistry, logger: Logger,
                     faults: FaultPoints) throws -> Processor {
        let postgres = try MigrateCommand.configuration(o, applicationName: "ees-processor")
        do throws(PostgresError) {
            try Migrator().requireCurrent(on: PostgresConnection(configuration: postgres))
        } catch {
            throw StartupError("processor: postgres \(postgres.hostDescription): \(error)")
        }
        let sinks: [any MetricsSink] = try (0..<config.workers).map { _ in try PostgresMetricsSink(configuration: postgres) }
        return try Processor(config: config, redis: redis, keys: keys, objects: objects, sinks: sinks, detectors: [detector],
                             metrics: registry, logger: logger, faults: faults)
    }
}

/// A role that cannot start: printed as one line, exit status 1.
struct StartupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
