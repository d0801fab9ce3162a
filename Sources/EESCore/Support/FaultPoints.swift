#if canImport(Glibc)
import Glibc
#endif

/// Fault points for failure tests, armed only by the `EES_FAULT` environment variable: a
/// comma-separated list of `point:probability`, e.g. `crash-after-put:0.2`. Never set in production.
///
/// - `crash-after-put`: the flusher dies like `kill -9` after a segment PUT, before its commit.
/// - `stop-after-put`: the first time only, the flusher stops itself with SIGSTOP at that point, so
///   a test can let its lease lapse and then resume a stale leader.
/// - `processor-crash-after-commit`: the processor dies after a segment's COMMIT, before its XACK.
public struct FaultPoints: Sendable {
    public enum Point: String, Sendable, CaseIterable {
        case crashAfterPut = "crash-after-put"
        case stopAfterPut = "stop-after-put"
        case crashAfterCommit = "processor-crash-after-commit"
    }

    private let armed: [Point: Double]
    private let stopped = AtomicFlag()

    public static let none = FaultPoints(armed: [:])

    private init(armed: [Point: Double]) { self.armed = armed }

    /// Parses `EES_FAULT`; unknown or malformed items arm nothing.
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

    /// Called at `point`: dies (crash points) or freezes once (stop points) with the armed probability.
    public func hit(_ point: Point) {
        guard let p = armed[point], Double.random(in: 0..<1) < p else { return }
        switch point {
        case .crashAfterPut, .crashAfterCommit:
            _exit(137)   // no cleanup, no flush of anything: as abrupt as SIGKILL
        case .stopAfterPut:
            guard !stopped.isSet else { return }
            stopped.set()
            raise(SIGSTOP)   // the whole process freezes here until SIGCONT
        }
    }
}
