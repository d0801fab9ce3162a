import EESCore
import Synchronization

/// Running totals every worker adds to and the progress line reads (relaxed atomics: exact
/// totals come from the workers' own results at the end).
final class SimulateCounters: Sendable {
    enum Counter { case eventsSent, eventsAccepted, eventsDuplicate, errors, requests }

    private let eventsSent = Atomic<Int>(0)
    private let eventsAccepted = Atomic<Int>(0)
    private let eventsDuplicate = Atomic<Int>(0)
    private let errors = Atomic<Int>(0)
    private let requests = Atomic<Int>(0)

    func add(_ counter: Counter, _ n: Int) {
        switch counter {
        case .eventsSent: eventsSent.add(n, ordering: .relaxed)
        case .eventsAccepted: eventsAccepted.add(n, ordering: .relaxed)
        case .eventsDuplicate: eventsDuplicate.add(n, ordering: .relaxed)
        case .errors: errors.add(n, ordering: .relaxed)
        case .requests: requests.add(n, ordering: .relaxed)
        }
    }

    func load(_ counter: Counter) -> Int {
        switch counter {
        case .eventsSent: eventsSent.load(ordering: .relaxed)
        case .eventsAccepted: eventsAccepted.load(ordering: .relaxed)
        case .eventsDuplicate: eventsDuplicate.load(ordering: .relaxed)
        case .errors: errors.load(ordering: .relaxed)
        case .requests: requests.load(ordering: .relaxed)
        }
    }
}

/// What happened to one device over the run.
struct DeviceTally: Sendable {
    let deviceID: String
    var sent = 0
    var accepted = 0
    var duplicates = 0
    /// Events in batches that were never acknowledged.
    var failed = 0
}

/// A reading above the threshold in an acknowledged batch: the detector must report it.
struct AnomalyRecord: Sendable {
    let deviceID: String
    let eventID: String
    let centiCelsius: Int
}

/// One worker's share of the outcome, merged into the report at the end.
struct WorkerResult: Sendable {
    var devices: [DeviceTally] = []
    var batches = 0
    var batchesFailed = 0
    var requests = 0
    /// Failed attempts by HTTP status ("503") or client error code ("connect", "timeout").
    var errors: [String: Int] = [:]
    var latency = LatencyHistogram()
    var anomaliesGenerated = 0
    var anomalies: [AnomalyRecord] = []
    var anomaliesTruncated = false

    mutating func merge(_ other: WorkerResult) {
        devices += other.devices
        batches += other.batches
        batchesFailed += other.batchesFailed
        requests += other.requests
        errors.merge(other.errors, uniquingKeysWith: +)
        latency.merge(other.latency)
        anomaliesGenerated += other.anomaliesGenerated
        anomalies += other.anomalies
        anomaliesTruncated = anomaliesTruncated || other.anomaliesTruncated
    }
}
