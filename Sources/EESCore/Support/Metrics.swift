import Synchronization

/// Prometheus metrics in text exposition format. Names follow `ees_<what>_<unit>[_total]`; label
/// values come from bounded sets (routes, status codes, error codes), never ids.
public final class MetricsRegistry: Sendable {
    private struct Family {
        let help: String
        let type: String
        var series: [String: any MetricSeries] = [:]   // key: rendered label set
        var order: [String] = []
    }

    private let families = Mutex<([String: Family], [String])>(([:], []))

    public init() {}

    public func counter(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Counter {
        series(name, help, "counter", labels) { Counter() }
    }

    public func gauge(_ name: String, _ help: String, _ labels: [(String, String)] = []) -> Gauge {
        series(name, help, "gauge", labels) { Gauge() }
    }

    public func histogram(_ name: String, _ help: String, buckets: [Double] = Histogram.latencyBuckets,
                          _ labels: [(String, String)] = []) -> Histogram {
        series(name, help, "histogram", labels) { Histogram(buckets: buckets) }
    }

    private func series<T: MetricSeries>(_ name: String, _ help: String, _ type: String,
                                         _ labels: [(String, String)], make: () -> T) -> T {
        let key = labels.map { "\($0.0)=\"\(escape($0.1))\"" }.joined(separator: ",")
        return families.withLock { state in
            if state.0[name] == nil {
                state.0[name] = Family(help: help, type: type)
                state.1.append(name)
            }
            if let existing = state.0[name]!.series[key] as? T { return existing }
            let s = make()
            state.0[name]!.series[key] = s
            state.0[name]!.order.append(key)
            return s
        }
    }

    /// The whole registry in Prometheus text format (version 0.0.4).
    public func render() -> String {
        let snapshot = families.withLock { ($0.0, $0.1) }
        var out = ""
        for name in snapshot.1 {
            guard let f = snapshot.0[name] else { continue }
            out += "# HELP \(name) \(f.help)\n# TYPE \(name) \(f.type)\n"
            for key in f.order { f.series[key]!.render(name: name, labels: key, into: &out) }
        }
        return out
    }

    private func escape(_ v: String) -> String {
        // Looked up on every request: skip the (slow) replacing when there is nothing to escape.
        guard v.utf8.contains(where: { $0 == UInt8(ascii: "\\") || $0 == UInt8(ascii: "\"") || $0 == 0x0A }) else { return v }
        return v.replacingAll("\\", with: "\\\\").replacingAll("\"", with: "\\\"").replacingAll("\n", with: "\\n")
    }
}

public protocol MetricSeries: Sendable {
    func render(name: String, labels: String, into out: inout String)
}

func braces(_ labels: String) -> String { labels.isEmpty ? "" : "{\(labels)}" }

public final class Counter: MetricSeries {
    private let value = Atomic<Int>(0)
    public init() {}
    public func inc(_ by: Int = 1) { value.add(by, ordering: .relaxed) }
    public var current: Int { value.load(ordering: .relaxed) }
    public func render(name: String, labels: String, into out: inout String) {
        out += "\(name)\(braces(labels)) \(current)\n"
    }
}

/// A gauge holding a Double (stored as its bit pattern).
public final class Gauge: MetricSeries {
    private let bits = Atomic<UInt64>(0)
    public init() {}
    public func set(_ v: Double) { bits.store(v.bitPattern, ordering: .relaxed) }
    public func add(_ d: Double) {
        var old = bits.load(ordering: .relaxed)
        while true {
            let (done, now) = bits.compareExchange(expected: old, desired: (Double(bitPattern: old) + d).bitPattern,
                                                   ordering: .relaxed)
            if done { return }
            old = now
        }
    }
    public var current: Double { Double(bitPattern: bits.load(ordering: .relaxed)) }
    public func render(name: String, labels: String, into out: inout String) {
        out += "\(name)\(braces(labels)) \(current)\n"
    }
}

public final class Histogram: MetricSeries {
    /// Seconds, from 100 µs to 10 s.
    public static let latencyBuckets: [Double] = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                  0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    private let bounds: [Double]
    private let state: Mutex<(counts: [Int], sum: Double, total: Int)>

    public init(buckets: [Double]) {
        bounds = buckets
        state = Mutex((Array(repeating: 0, count: buckets.count), 0, 0))
    }

    public func observe(_ v: Double) {
        let i = bounds.firstIndex { v <= $0 }
        state.withLock { s in
            if let i { s.counts[i] += 1 }
            s.sum += v
            s.total += 1
        }
    }

    public var count: Int { state.withLock { $0.total } }

    public func render(name: String, labels: String, into out: inout String) {
        let s = state.withLock { $0 }
        var cumulative = 0
        let sep = labels.isEmpty ? "" : ","
        for (i, b) in bounds.enumerated() {
            cumulative += s.counts[i]
            out += "\(name)_bucket{\(labels)\(sep)le=\"\(b)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{\(labels)\(sep)le=\"+Inf\"} \(s.total)\n"
        out += "\(name)_sum\(braces(labels)) \(s.sum)\n\(name)_count\(braces(labels)) \(s.total)\n"
    }
}

extension String {
    /// Foundation-free replace (the core does not import Foundation).
    public func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (header values, list items).
    public var trimmingSpaces: Substring {
        var s = self
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return s
    }
}
