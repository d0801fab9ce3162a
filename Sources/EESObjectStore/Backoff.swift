/// Capped exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And
/// Jitter"): retry n waits a uniform random time in 0...min(max, base × 2^(n-1)).
enum Backoff {
    /// The upper bound of the wait before retry `retry` (1-based).
    static func ceilingMs(retry: Int, baseMs: Int, maxMs: Int) -> Int {
        let shift = min(max(retry - 1, 0), 30)   // 2^30 × base already exceeds any sane cap
        return min(maxMs, baseMs << shift)
    }

    static func delayMs<G: RandomNumberGenerator>(retry: Int, baseMs: Int, maxMs: Int, using generator: inout G) -> Int {
        Int.random(in: 0...ceilingMs(retry: retry, baseMs: baseMs, maxMs: maxMs), using: &generator)
    }
}
