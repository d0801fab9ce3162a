import EESCore
import EESRedis
import Foundation
import Synchronization

/// `ees simulate`: a fleet of temperature sensors posting batches to an ingest endpoint, with
/// anomalies at a known rate; fast enough to double as the benchmark's load generator.
enum SimulateCommand {
    static let specs = [
        OptionSpec("endpoint", env: "EES_SIM_ENDPOINT", default: "http://127.0.0.1:8080", help: "ingest base URL (http:// only); requests go to <endpoint>/ingest"),
        OptionSpec("device-id", env: "EES_DEVICE_ID", help: "device id; with --devices N the devices are <ID>-1 … <ID>-N"),
        OptionSpec("api-key", env: "EES_API_KEY", help: "API key: one for all devices, or repeated once per device in order", repeatable: true),
        OptionSpec("devices", help: "number of simulated devices (1-100000)"),
        OptionSpec("provision", help: "create the devices in Redis first (an existing one gets a new key); keys stay in memory", isSwitch: true),
        OptionSpec("rate", env: "EES_SIM_RATE", default: "1000", help: "events per second over all devices (0 = as fast as possible)"),
        OptionSpec("batch-size", default: "100", help: "events per request (1-1000)"),
        OptionSpec("duration", help: "seconds to run (default 10 unless --count)"),
        OptionSpec("count", help: "events to send over all devices, then stop"),
        OptionSpec("anomaly-rate", default: "0.02", help: "fraction of readings above 80 °C (spike ≤ 1, drift ≤ 0.3)"),
        OptionSpec("anomaly-mode", default: "spike", help: "spike (single readings of 85-120 °C) or drift (a ramp crossing 80 °C)"),
        OptionSpec("seed", help: "seed of values and ids; the same seed resends the same ids (default: random, printed)"),
        OptionSpec("connections", default: "4", help: "worker threads, each with its own keep-alive connection (at most one per device)"),
        OptionSpec("attempts-max", default: "30", help: "attempts per batch before it counts as failed"),
        OptionSpec("backoff-max-ms", default: "2000", help: "longest pause between attempts without Retry-After"),
        OptionSpec("connect-timeout-ms", default: "2000", help: "TCP connect timeout"),
        OptionSpec("request-timeout-ms", default: "10000", help: "timeout of one request and its whole response"),
        OptionSpec("report-json", help: "also write the report as JSON to this file (with per-device counts and every anomaly)"),
        OptionSpec("quiet", help: "no progress line on stderr", isSwitch: true),
    ]

    static let command = Command(
        path: ["simulate"],
        usage: "ees simulate --device-id ID (--api-key KEY | --provision) [--devices N] [--rate R] [--duration S | --count C] …",
        summary: "Simulates temperature sensors posting to an ingest node; prints what was sent, accepted and how fast. Exit 0 iff every batch was acknowledged.",
        specs: specs + CommonOptions.redis, run: run)

    static func run(_ o: ParsedOptions) throws -> Int32 {
        var plan = try SimulatePlan(o)
        let signals = SignalPoller.block()   // before any thread starts, so every thread inherits the mask
        if plan.provision { try provision(&plan, o) }
        let report = simulate(plan, signals: signals)
        out(report.text())
        if let path = plan.reportPath { try writeAtomically(report.json(), to: path) }
        return report.succeeded ? Exit.ok : Exit.failure
    }

    /// Creates each device, or gives an existing one a new key (so a rerun of the demo works);
    /// the keys are kept in memory only. For a while after, a 401 is retried (see RetryPolicy).
    private static func provision(_ plan: inout SimulatePlan, _ o: ParsedOptions) throws {
        let registry = try DeviceCommands.registry(o)
        for i in plan.devices.indices {
            let id = plan.devices[i].id
            if let key = try DeviceCommands.create(id, in: registry) {
                plan.devices[i].apiKey = key
            } else if let existing = try registry.device(id: id) {
                plan.devices[i].apiKey = try DeviceCommands.rotateKey(existing, in: registry)
            } else {
                throw ConfigError("--provision: device \(id) could neither be created nor found")
            }
        }
        plan.retry.retryUnauthorizedUntilNs = SystemTime().monotonicNs() + UInt64(RetryPolicy.provisionGraceMs) * 1_000_000
        err("simulate: provisioned \(plan.devices.count) devices")
    }

    /// Runs the workers to the end (or until SIGINT/SIGTERM), printing progress about once a second.
    static func simulate(_ plan: SimulatePlan, signals: SignalPoller) -> SimulateReport {
        let time = SystemTime()
        let counters = SimulateCounters()
        let stop = AtomicFlag()
        let started = time.monotonicNs()
        let deadline = plan.durationMs.map { started + UInt64($0) * 1_000_000 }
        let pacer = SharedPacer(Pacer(ratePerSecond: plan.rateEventsPerS))
        let k = plan.connections
        let results = Mutex<[WorkerResult]>([])
        let finished = Atomic<Int>(0)
        for w in 0..<k {
            let share = stride(from: w, to: plan.devices.count, by: k).map { plan.devices[$0] }
            let thread = Thread {
                let worker = SimulateWorker(plan: plan, devices: share, pacer: pacer, counters: counters, stop: stop,
                                            deadlineNs: deadline, anomaliesListedMax: plan.anomaliesListedMax / k + 1)
                let r = worker.run()
                results.withLock { $0.append(r) }
                finished.add(1, ordering: .releasing)
            }
            thread.name = "simulate-\(w)"
            thread.start()
        }
        var interrupted = false
        var progress = Progress(startNs: started)
        // Bounded: every worker ends by its quota or deadline plus its bounded retries, or on stop.
        while finished.load(ordering: .acquiring) < k {
            if signals.poll(timeoutMs: 100) != nil && !interrupted {
                interrupted = true
                stop.set()
                err("simulate: stopping (signal); finishing in-flight requests")
            }
            if plan.progress { progress.tick(counters, nowNs: time.monotonicNs()) }
        }
        let elapsed = Double(time.monotonicNs() - started) / 1e9
        var merged = WorkerResult()
        for r in results.withLock({ $0 }) { merged.merge(r) }
        merged.devices.sort { $0.deviceID.utf8.lexicographicallyPrecedes($1.deviceID.utf8) }
        return SimulateReport(plan: plan, result: merged, elapsedS: elapsed, cpuS: processCPUSeconds(), interrupted: interrupted)
    }

    private static func writeAtomically(_ text: String, to path: String) throws {
        let tmp = path + ".tmp"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: tmp))
            guard rename(tmp, path) == 0 else { throw ConfigError("--report-json: cannot rename onto \(path) (errno \(errno))") }
        } catch let e as ConfigError {
            throw e
        } catch {
            throw ConfigError("--report-json: cannot write \(path)")
        }
    }

    /// User plus system CPU time of this process so far.
    private static func processCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return s(usage.ru_utime) + s(usage.ru_stime)
    }
}

/// The progress line on stderr, about once a second: totals and the rate over the last second.
private struct Progress {
    let startNs: UInt64
    private var lastNs: UInt64
    private var lastAcked = 0

    init(startNs: UInt64) {
        self.startNs = startNs
        lastNs = startNs
    }

    mutating func tick(_ c: SimulateCounters, nowNs: UInt64) {
        guard nowNs - lastNs >= 1_000_000_000 else { return }
        let accepted = c.load(.eventsAccepted), duplicates = c.load(.eventsDuplicate)
        let rate = Double(accepted + duplicates - lastAcked) / (Double(nowNs - lastNs) / 1e9)
        err("simulate: \(fixed(Double(nowNs - startNs) / 1e9, 0)) s  sent \(c.load(.eventsSent))  accepted \(accepted)  "
            + "duplicates \(duplicates)  errors \(c.load(.errors))  \(fixed(rate, 0)) events/s")
        lastNs = nowNs
        lastAcked = accepted + duplicates
    }
}

/// SIGINT/SIGTERM blocked in every thread and polled by the main thread, which turns them into
/// a graceful stop (the summary still prints).
struct SignalPoller {
    private var set = sigset_t()

    static func block() -> SignalPoller {
        var s = SignalPoller()
        sigemptyset(&s.set)
        sigaddset(&s.set, SIGTERM)
        sigaddset(&s.set, SIGINT)
        pthread_sigmask(SIG_BLOCK, &s.set, nil)
        return s
    }

    /// A pending signal, waiting at most `timeoutMs` for one.
    func poll(timeoutMs: Int) -> Int32? {
        var copy = set
        var timeout = timespec(tv_sec: timeoutMs / 1_000, tv_nsec: (timeoutMs % 1_000) * 1_000_000)
        let sig = sigtimedwait(&copy, nil, &timeout)
        return sig > 0 ? sig : nil
    }
}
