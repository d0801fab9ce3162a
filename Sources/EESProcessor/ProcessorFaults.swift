#if canImport(Glibc)
import Glibc
#endif

/// Crash points for failure tests, armed only by `EES_FAULT` (`processor-crash-after-commit:<p>`):
/// the process dies like `kill -9` right after a segment's COMMIT and before its XACK, the window
/// in which a redelivery must not duplicate rows. Never set in production.
public struct ProcessorFaults: Sendable {
    public enum Point: String, Sendable { case afterCommit = "processor-crash-after-commit" }

    private let armed: [Point: Double]

    public static let none = ProcessorFaults(armed: [:])

    private init(armed: [Point: Double]) { self.armed = armed }

    /// Parses `EES_FAULT` (comma-separated `point:probability`); other roles' points are ignored.
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

    func hit(_ point: Point) {
        guard let p = armed[point], Double.random(in: 0..<1) < p else { return }
        _exit(137)   // no cleanup: as abrupt as SIGKILL
    }
}
