#if canImport(Glibc)
import Glibc
#endif

/// Crash points for failure tests, armed only by the `EES_FAULT` environment variable
/// (`crash-after-put:<probability>`): the process dies like `kill -9` at that point, so tests can
/// reach the window between an object PUT and its commit. Never set in production.
public struct FaultPoints: Sendable {
    public enum Point: String, Sendable { case afterPut = "crash-after-put" }

    private let armed: [Point: Double]

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

    public func hit(_ point: Point) {
        guard let p = armed[point], Double.random(in: 0..<1) < p else { return }
        _exit(137)   // no cleanup, no flush of anything: as abrupt as SIGKILL
    }
}
