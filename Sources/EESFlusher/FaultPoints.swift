#if canImport(Glibc)
import Glibc
#endif

import EESCore

/// Fault points for failure tests, armed only by the `EES_FAULT` environment variable, e.g.
/// `crash-after-put:0.2` (die like `kill -9` after an object PUT, before its commit, with that
/// probability) or `stop-after-put:1` (the first time only: stop the process with SIGSTOP there,
/// so a test can let the lease lapse and resume a stale leader). Never set in production.
public struct FaultPoints: Sendable {
    public enum Point: String, Sendable {
        case crashAfterPut = "crash-after-put"
        case stopAfterPut = "stop-after-put"
    }

    private let armed: [Point: Double]
    private let stopped = AtomicFlag()

    public static let none = FaultPoints(armed: [:])

    private init(armed: [Point: Double]) { self.armed = armed }

    /// Parses `EES_FAULT`, e.g. `crash-after-put:0.1`; unknown or malformed values arm nothing.
    public init(environment value: String?) {
        var a: [Point: Double] = [:]
        for item in (value ?? "").split(separator: ",") {
            let parts = item.split(separator: ":")
            if parts.count == 2, let p = Point(rawValue: String(parts[0])), let prob = Double(parts[1]), (0...1).contains(prob) {
                a[p] = prob
            }
        }
        armed = a
    }

    public var isArmed: Bool { !armed.isEmpty }

    /// Called between an object PUT and its commit.
    public func afterPut() {
        if let p = armed[.crashAfterPut], Double.random(in: 0..<1) < p {
            _exit(137)   // no cleanup, no flush of anything: as abrupt as SIGKILL
        }
        if let p = armed[.stopAfterPut], !stopped.isSet, Double.random(in: 0..<1) < p {
            stopped.set()
            raise(SIGSTOP)   // the whole process freezes here until SIGCONT
        }
    }
}
