import EESCore

/// The outcome of a simulation: the summary printed on stdout and the `--report-json` document
/// (documented in docs/simulator.md; an e2e test asserts on it, so keys only ever get added).
struct SimulateReport {
    let plan: SimulatePlan
    let result: WorkerResult
    let elapsedS: Double
    let cpuS: Double
    let interrupted: Bool

    var eventsSent: Int { result.devices.reduce(0) { $0 + $1.sent } }
    var eventsAccepted: Int { result.devices.reduce(0) { $0 + $1.accepted } }
    var eventsDuplicate: Int { result.devices.reduce(0) { $0 + $1.duplicates } }
    var eventsFailed: Int { result.devices.reduce(0) { $0 + $1.failed } }
    /// Every batch sent was acknowledged (what the exit status reports).
    var succeeded: Bool { result.batchesFailed == 0 }

    private var eventsPerS: Double { elapsedS > 0 ? Double(eventsAccepted + eventsDuplicate) / elapsedS : 0 }
    private var requestsPerS: Double { elapsedS > 0 ? Double(result.requests) / elapsedS : 0 }
    private var cpuMicrosPerEvent: Double { eventsSent > 0 ? cpuS * 1e6 / Double(eventsSent) : 0 }

    private func ms(_ q: Double) -> String {
        result.latency.percentile(q).map { fixed(Double($0) / 1_000, 2) } ?? "null"
    }

    private var errorsText: String {
        result.errors.isEmpty ? "none" : result.errors.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: ", ")
    }

    func text() -> String {
        var lines = [
            "ees simulate: \(plan.devices.count) devices, seed \(plan.seed), batch \(plan.batchSize), \(plan.connections) connections, "
                + "\(fixed(elapsedS, 2)) s\(interrupted ? " (interrupted)" : "")",
            "events:      sent \(eventsSent), accepted \(eventsAccepted), duplicates \(eventsDuplicate), failed \(eventsFailed)",
            "requests:    \(result.requests) answered (\(result.batches) batches, \(result.batchesFailed) failed); errors: \(errorsText)",
            "anomalies:   \(result.anomaliesGenerated) readings > 80.0 °C (\(plan.model.mode.rawValue), rate \(plan.model.anomalyRate))",
            "throughput:  \(fixed(eventsPerS, 0)) events/s, \(fixed(requestsPerS, 1)) requests/s",
            result.latency.count == 0 ? "latency:     none (no request was acknowledged)"
                : "latency:     p50 \(ms(0.5)) ms, p99 \(ms(0.99)) ms, p99.9 \(ms(0.999)) ms, max \(fixed(Double(result.latency.maxMicros) / 1_000, 2)) ms (acknowledged requests)",
            "cpu:         \(fixed(cpuS, 2)) s (\(fixed(cpuMicrosPerEvent, 2)) µs per event)",
        ]
        if !succeeded { lines.append("FAILED: \(result.batchesFailed) batches were never acknowledged") }
        return lines.joined(separator: "\n")
    }

    func json() -> String {
        var o = "{\"endpoint\":\(JSONText.quoted(plan.endpoint.description)),\"devices\":\(plan.devices.count),\"seed\":\(plan.seed)"
        o += ",\"batch_size\":\(plan.batchSize),\"connections\":\(plan.connections),\"rate_events_per_s\":\(fixed(plan.rateEventsPerS, 1))"
        o += ",\"anomaly_mode\":\"\(plan.model.mode.rawValue)\",\"anomaly_rate\":\(plan.model.anomalyRate)"
        o += ",\"succeeded\":\(succeeded),\"interrupted\":\(interrupted)"
        o += ",\"events_sent\":\(eventsSent),\"events_accepted\":\(eventsAccepted),\"events_duplicate\":\(eventsDuplicate)"
        o += ",\"events_failed\":\(eventsFailed),\"batches\":\(result.batches),\"batches_failed\":\(result.batchesFailed)"
        o += ",\"requests\":\(result.requests),\"errors\":{"
        o += result.errors.sorted { $0.key < $1.key }.map { "\(JSONText.quoted($0.key)):\($0.value)" }.joined(separator: ",")
        o += "},\"elapsed_s\":\(fixed(elapsedS, 3)),\"events_per_s\":\(fixed(eventsPerS, 1)),\"requests_per_s\":\(fixed(requestsPerS, 1))"
        o += ",\"latency_ms\":{\"p50\":\(ms(0.5)),\"p99\":\(ms(0.99)),\"p999\":\(ms(0.999)),\"max\":\(fixed(Double(result.latency.maxMicros) / 1_000, 2))}"
        o += ",\"cpu_s\":\(fixed(cpuS, 3)),\"cpu_us_per_event\":\(fixed(cpuMicrosPerEvent, 3))"
        o += ",\"anomalies_generated\":\(result.anomaliesGenerated),\"anomalies_truncated\":\(result.anomaliesTruncated)"
        o += ",\"per_device\":{"
        o += result.devices.map {
            "\(JSONText.quoted($0.deviceID)):{\"sent\":\($0.sent),\"accepted\":\($0.accepted),\"duplicates\":\($0.duplicates),\"failed\":\($0.failed)}"
        }.joined(separator: ",")
        o += "},\"anomalies\":["
        o += result.anomalies.map {
            "{\"device_id\":\(JSONText.quoted($0.deviceID)),\"event_id\":\(JSONText.quoted($0.eventID)),\"temperature\":"
                + Reading(seq: 0, centiCelsius: $0.centiCelsius).celsiusText + "}"
        }.joined(separator: ",")
        return o + "]}\n"
    }
}

/// `x` with exactly `digits` decimals, without Foundation's String(format:).
func fixed(_ x: Double, _ digits: Int) -> String {
    guard x.isFinite else { return "0" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let scaled = (abs(x) * scale).rounded()
    guard scaled < 9e15 else { return String(x) }
    let n = Int64(scaled), unit = Int64(scale)
    let sign = x < 0 && n > 0 ? "-" : ""
    guard digits > 0 else { return sign + String(n) }
    let frac = String(n % unit)
    return sign + String(n / unit) + "." + String(repeating: "0", count: digits - frac.count) + frac
}
