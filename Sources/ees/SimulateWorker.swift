import EESCore
import EESHTTPClient
#if canImport(Glibc)
import Glibc
#endif

/// One simulator thread: a keep-alive connection and a share of the devices, served round-robin,
/// one batch at a time. Bounded by the plan's count or deadline, its retry policy and `stop`.
final class SimulateWorker {
    private struct DeviceState {
        let device: SimulatedDevice
        let ids: SimulationIDs
        var series: DeviceSeries
        var batchIndex = 0
        var lastTsMs: Int64?
        var tally: DeviceTally

        var remaining: Int? { device.quota.map { $0 - tally.sent } }
    }

    private enum Outcome {
        case acknowledged(IngestReply)
        case failed
    }

    private let plan: SimulatePlan
    private let pacer: SharedPacer
    private let counters: SimulateCounters
    private let stop: AtomicFlag
    private let deadlineNs: UInt64?
    private let anomaliesListedMax: Int
    private let connection: HTTPConnection
    private let time = SystemTime()
    private var devices: [DeviceState]
    private var result = WorkerResult()
    private var headers: [(String, String)] = []

    init(plan: SimulatePlan, devices: [SimulatedDevice], pacer: SharedPacer, counters: SimulateCounters,
         stop: AtomicFlag, deadlineNs: UInt64?, anomaliesListedMax: Int) {
        self.plan = plan
        self.pacer = pacer
        self.counters = counters
        self.stop = stop
        self.deadlineNs = deadlineNs
        self.anomaliesListedMax = anomaliesListedMax
        connection = HTTPConnection(endpoint: plan.endpoint, config: plan.http)
        self.devices = devices.map {
            DeviceState(device: $0, ids: SimulationIDs(seed: plan.seed, deviceID: $0.id),
                        series: DeviceSeries(seed: plan.seed, deviceID: $0.id, model: plan.model), tally: DeviceTally(deviceID: $0.id))
        }
    }

    /// Sends until every quota is met, the deadline passes, or `stop` is set.
    func run() -> WorkerResult {
        var next = 0
        while !stop.isSet {
            guard let d = nextDevice(from: next) else { break }
            next = d + 1
            let n = min(plan.batchSize, devices[d].remaining ?? plan.batchSize)
            guard pace(n) else { break }
            let batch = makeBatch(d, n)
            send(batch, device: d)
        }
        result.devices = devices.map(\.tally)
        connection.close()
        return result
    }

    /// The next device (round-robin from `start`) with events left to send.
    private func nextDevice(from start: Int) -> Int? {
        for k in 0..<devices.count {
            let i = (start + k) % devices.count
            if devices[i].remaining.map({ $0 > 0 }) ?? true { return i }
        }
        return nil
    }

    /// Waits for the pacer's slot for `n` events; false when the run ends first.
    private func pace(_ n: Int) -> Bool {
        let now = time.monotonicNs()
        let wait = pacer.reserve(n, nowNs: now)
        if let deadlineNs, now + wait >= deadlineNs { return false }
        return sleepUnlessStopped(ns: wait)
    }

    private func makeBatch(_ d: Int, _ n: Int) -> SimulatedBatch {
        let nowMs = time.nowMs()
        var state = devices[d]
        let readings = (0..<n).map { _ in state.series.next() }
        // The readings were taken since the device's previous batch: spread their times evenly.
        let last = state.lastTsMs ?? nowMs - Int64(n)
        let end = max(last, nowMs)
        let ts = (0..<n).map { last + (end - last) * Int64($0 + 1) / Int64(n) }
        state.lastTsMs = end
        let batch = SimulatedBatch(ids: state.ids, batchIndex: state.batchIndex, readings: readings, timestampsMs: ts, sentAtMs: nowMs)
        state.batchIndex += 1
        state.tally.sent += n
        devices[d] = state
        counters.add(.eventsSent, n)
        result.batches += 1
        result.anomaliesGenerated += readings.reduce(0) { $0 + ($1.isAnomalous ? 1 : 0) }
        return batch
    }

    private func send(_ batch: SimulatedBatch, device d: Int) {
        switch deliver(batch, apiKey: devices[d].device.apiKey) {
        case .acknowledged(let reply):
            devices[d].tally.accepted += reply.acceptedCount
            devices[d].tally.duplicates += reply.duplicateCount
            counters.add(.eventsAccepted, reply.acceptedCount)
            counters.add(.eventsDuplicate, reply.duplicateCount)
            for r in batch.readings where r.isAnomalous {
                guard result.anomalies.count < anomaliesListedMax else { result.anomaliesTruncated = true; break }
                result.anomalies.append(AnomalyRecord(deviceID: batch.deviceID, eventID: devices[d].ids.eventID(seq: r.seq),
                                                      centiCelsius: r.centiCelsius))
            }
        case .failed:
            devices[d].tally.failed += batch.readings.count
            result.batchesFailed += 1
        }
    }

    /// Sends the batch's body until it is acknowledged: the same bytes every time, so the node
    /// deduplicates what an earlier, unanswered attempt already stored.
    private func deliver(_ batch: SimulatedBatch, apiKey: String) -> Outcome {
        headers = [("Content-Type", "application/json"), ("x-device-id", batch.deviceID), ("x-api-key", apiKey)]
        for attempt in 0..<plan.retry.attemptsMax {
            if attempt > 0 && stop.isSet { return .failed }
            let started = time.monotonicNs()
            let response: HTTPClientResponse
            do {
                response = try connection.request(method: "POST", path: "/ingest", headers: headers, body: batch.body)
            } catch {
                failedAttempt(error.code.rawValue)
                guard sleepUnlessStopped(ns: backoffNs(attempt)) else { return .failed }
                continue
            }
            result.requests += 1
            counters.add(.requests, 1)
            if response.status == 200, let reply = IngestReply(body: response.body) {
                result.latency.record(micros: (time.monotonicNs() - started) / 1_000)
                return .acknowledged(reply)
            }
            failedAttempt(response.status == 200 ? "bad_response" : String(response.status))
            let staleKey = response.status == 401 && plan.retry.retryUnauthorizedUntilNs.map { time.monotonicNs() < $0 } ?? false
            guard response.status == 200 || response.status == 429 || (500...599).contains(response.status) || staleKey else {
                return .failed   // other 4xx: the same body would be refused again
            }
            // Overload answers say when to come back; other 5xx, odd 200s and stale keys back off.
            let wait = response.retryAfterSeconds.map { retryAfterNs($0) } ?? backoffNs(attempt)
            guard sleepUnlessStopped(ns: wait) else { return .failed }
        }
        return .failed
    }

    private func failedAttempt(_ label: String) {
        result.errors[label, default: 0] += 1
        counters.add(.errors, 1)
    }

    private func backoffNs(_ attempt: Int) -> UInt64 {
        UInt64(max(1, plan.retry.backoff.delayMs(attempt: attempt))) * 1_000_000
    }

    /// Retry-After plus a little jitter (so workers told the same do not return in lockstep).
    private func retryAfterNs(_ seconds: Int) -> UInt64 {
        let ms = min(plan.retry.retryAfterMaxMs, seconds * 1_000 + Int.random(in: 0...plan.retry.backoff.baseMs))
        return UInt64(ms) * 1_000_000
    }

    /// Sleeps in short slices so a stop request is seen within 50 ms; false when stopped.
    private func sleepUnlessStopped(ns: UInt64) -> Bool {
        var left = ns
        while left > 0 {
            if stop.isSet { return false }
            let slice = min(left, 50_000_000)
            sleepNs(slice)
            left -= slice
        }
        return !stop.isSet
    }

    private func sleepNs(_ ns: UInt64) {
        guard ns > 0 else { return }
        var request = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    }
}
