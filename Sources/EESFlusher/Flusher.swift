import EESCore
import EESRedis
import Foundation
import Synchronization

/// The flusher role. A lease thread keeps this node's fair share of partition leases; worker
/// threads flush the streams of the partitions it leads:
///
///   begin (fenced: records `pending = start-end`) → PUT segment → commit (fenced: flushed_seq,
///   index, trim, dirty set, notification)
///
/// A crash anywhere leaves `pending` set; the next leader re-flushes exactly that range, whose
/// bytes are a pure function of the buffer, so the same key gets the same bytes.
public final class Flusher: Sendable {
    let config: FlusherConfig
    let store: RedisFlushStore
    let objects: any ObjectStore
    let metrics: FlusherMetrics
    let logger: Logger
    let time: any TimeSource
    let faults: FaultPoints
    private let leases: Mutex<[Int: Held]>
    private let threads = RoleThreads()
    private var stopping: AtomicFlag { threads.stopping }

    struct Held: Sendable {
        var state: LeaseState
        var fence: RedisFlushStore.Fence
    }

    public init(config: FlusherConfig, store: RedisFlushStore, objects: any ObjectStore, metrics registry: MetricsRegistry,
                logger: Logger, time: any TimeSource = SystemTime(), faults: FaultPoints = .none) throws(ConfigError) {
        try config.check()
        self.config = config
        self.store = store
        self.objects = objects
        self.metrics = FlusherMetrics(registry: registry)
        self.logger = logger
        self.time = time
        self.faults = faults
        self.leases = Mutex([:])
    }

    public func start() {
        threads.spawn { self.leaseLoop() }
        for w in 0..<config.workers { threads.spawn { self.workLoop(worker: w) } }
        logger.info("flusher started", [(.count, String(config.workers))])
    }

    /// Stops the threads (bounded by `stopTimeoutMs`) and releases this node's leases so another
    /// flusher takes over at once instead of after the TTL.
    public func stop() {
        threads.stop(timeoutMs: config.stopTimeoutMs)
        let held = leases.withLock { l in
            let all = l.values.map(\.fence)
            l.removeAll()
            return all
        }
        for fence in held { try? store.release(fence) }
        try? store.leave(node: config.nodeID)
        metrics.leasesHeld.set(0)
        logger.info("flusher stopped", [(.count, String(held.count))])
    }

    /// Partitions this node currently trusts itself to lead.
    public var heldPartitions: [Int] {
        let now = time.nowMs()
        return leases.withLock { $0.filter { $0.value.state.isHeld(nowMs: now) }.keys.sorted() }
    }

    // MARK: leadership

    private func leaseLoop() {
        let tickMs = Int(max(50, min(500, config.leaseTTLMs / 6)))
        while !stopping.isSet {
            do {
                try leaseTick()
            } catch {
                metrics.redisError()
                logger.warning("flusher lease upkeep failed", [(.error, "\(error)")])
            }
            sleepMs(tickMs)
        }
    }

    func leaseTick() throws(RedisError) {
        let ttl = config.leaseTTLMs
        let live = try store.heartbeat(node: config.nodeID, nowMs: time.nowMs(), ttlMs: ttl)
        let share = (config.partitions + max(1, live) - 1) / max(1, live)
        // Renew what we hold; forget what lapsed.
        for (p, held) in leases.withLock({ $0 }) {
            let started = time.nowMs()
            if !held.state.isHeld(nowMs: started) {
                lose(p, reason: "lapsed")
            } else if held.state.needsRenewal(nowMs: started) {
                if try store.renew(held.fence, ttlMs: ttl) {
                    leases.withLock { $0[p]?.state.renewed(requestStartedMs: started) }
                } else {
                    lose(p, reason: "taken")
                }
            }
        }
        var mine = leases.withLock { $0.keys.sorted() }
        // Over the fair share (a flusher joined): hand back one partition per tick.
        if mine.count > share, let p = mine.last {
            if let held = leases.withLock({ $0.removeValue(forKey: p) }) { try store.release(held.fence) }
            logger.info("flusher lease handed back", [(.partition, String(p))])
            mine.removeLast()
        }
        // Under it: try free partitions, starting at a node-specific offset to spread contention.
        if mine.count < share {
            let offset = Partitioning.partition(of: config.nodeID, count: config.partitions)
            for i in 0..<config.partitions where mine.count < share {
                let p = (offset + i) % config.partitions
                if mine.contains(p) { continue }
                let started = time.nowMs()
                if let fence = try store.acquire(partition: p, node: config.nodeID, ttlMs: ttl) {
                    var state = LeaseState(ttlMs: ttl)
                    state.acquired(epoch: fence.epoch, requestStartedMs: started)
                    leases.withLock { $0[p] = Held(state: state, fence: fence) }
                    mine.append(p)
                    logger.info("flusher lease acquired", [(.partition, String(p)), (.epoch, String(fence.epoch))])
                }
            }
        }
        metrics.leasesHeld.set(Double(mine.count))
    }

    private func lose(_ partition: Int, reason: String) {
        leases.withLock { _ = $0.removeValue(forKey: partition) }
        logger.warning("flusher lease lost", [(.partition, String(partition)), (.reason, reason)])
    }

    /// The fence for a partition, only while the lease can be trusted.
    func fence(_ partition: Int) -> RedisFlushStore.Fence? {
        let now = time.nowMs()
        return leases.withLock { l in
            guard let h = l[partition], h.state.isHeld(nowMs: now) else { return nil }
            return h.fence
        }
    }

    // MARK: flushing

    private func workLoop(worker: Int) {
        var failures = 0
        while !stopping.isSet {
            var flushed = false
            var oldest: Int64?
            do {
                for p in stride(from: worker, to: config.partitions, by: config.workers) where !stopping.isSet {
                    guard let fence = fence(p) else { continue }
                    for (stream, oldestMs) in try store.dirtyStreams(partition: p, limit: config.streamsPerPass) {
                        if stopping.isSet { break }
                        oldest = min(oldest ?? oldestMs, oldestMs)
                        if try flushStream(stream, oldestMs: oldestMs, fence: fence) { flushed = true }
                    }
                }
                failures = 0
            } catch let e as ObjectStoreError {
                metrics.objectStoreError(e.code.rawValue)
                logger.warning("segment write failed, will retry", [(.error, e.description)])
                failures += 1
            } catch {
                metrics.redisError()
                logger.warning("flush pass failed, will retry", [(.error, "\(error)")])
                failures += 1
            }
            if worker == 0 { metrics.lagSeconds.set(oldest.map { Double(max(0, time.nowMs() - $0)) / 1000 } ?? 0) }
            if failures > 0 {
                sleepMs(config.failureBackoff.delayMs(attempt: failures - 1))
            } else if !flushed {
                sleepMs(config.pollMs)
            }
        }
    }

    /// Flushes one segment of `stream` if one is due (or pending). True when a segment was committed.
    func flushStream(_ stream: String, oldestMs: Int64, fence: RedisFlushStore.Fence) throws -> Bool {
        let st = try store.state(stream: stream)
        let range: SeqRange
        var read: [BufferEntry] = []
        if let pending = st.pending {
            range = pending
        } else {
            guard config.policy.shouldFlush(bufferedEvents: st.bufferedEvents, bufferedBytes: st.bufferedBytes,
                                            oldestMs: oldestMs, nowMs: time.nowMs()) else { return false }
            read = try nextSegmentEntries(stream, after: st.flushedSeq)
            guard let first = read.first, let last = read.last else { return false }
            range = SeqRange(start: first.firstSeq, end: last.lastSeq)
        }
        let started = time.monotonicNs()
        switch try store.begin(stream: stream, range: range, fence: fence) {
        case .fenced:
            metrics.fenced.inc()
            lose(fence.partition, reason: "fenced at begin")
            return false
        case .flush(let target):
            // Entries already read serve when the pending range is the one just chosen.
            let entries = target == range && !read.isEmpty
                ? read : try store.entries(stream: stream, fromSeq: target.start, toSeq: target.end, limit: target.count)
            return try write(stream, range: target, entries: entries, fence: fence, startedNs: started)
        }
    }

    /// Whole entries from the front of the buffer, up to the count/size limits.
    private func nextSegmentEntries(_ stream: String, after flushedSeq: Int64) throws -> [BufferEntry] {
        var collected: [BufferEntry] = []
        var from = flushedSeq + 1
        while collected.reduce(0, { $0 + $1.count }) < config.policy.eventsMax {
            let page = try store.entries(stream: stream, fromSeq: from, toSeq: nil, limit: config.entriesPerRead)
            guard let last = page.last else { break }
            collected += page
            let take = config.policy.entriesForSegment(collected)
            if take < collected.count || page.count < config.entriesPerRead {
                collected = Array(collected.prefix(take))
                break
            }
            from = last.lastSeq + 1
        }
        return Array(collected.prefix(config.policy.entriesForSegment(collected)))
    }

    private func write(_ stream: String, range: SeqRange, entries: [BufferEntry], fence: RedisFlushStore.Fence,
                       startedNs: UInt64) throws -> Bool {
        guard entries.first?.firstSeq == range.start, entries.last?.lastSeq == range.end,
              zip(entries, entries.dropFirst()).allSatisfy({ $0.lastSeq + 1 == $1.firstSeq }) else {
            // The buffer lost events the log never got: only possible if Redis lost data.
            logger.error("buffer does not hold the pending range", [(.streamKey, stream), (.seq, range.description)])
            throw RedisError(.protocolViolation, "buffer of \(stream) does not hold \(range)")
        }
        var body = [UInt8]()
        body.reserveCapacity(entries.reduce(0) { $0 + $1.events.count + $1.count * 128 })
        SegmentFormat.appendLines(streamKey: stream, entries: entries, to: &body)
        let key = SegmentFormat.key(stream: stream, range: range)
        guard self.fence(fence.partition) != nil else { return false }
        try objects.put(key: key, bytes: body)
        faults.hit(.crashAfterPut)
        faults.hit(.stopAfterPut)
        guard self.fence(fence.partition) != nil else { return false }
        let outcome = try store.commit(stream: stream, range: range, segmentKey: key,
                                       bytes: entries.reduce(0) { $0 + $1.events.count },
                                       newestTsMs: entries.map(\.tsIngestMs).max() ?? 0, fence: fence,
                                       notificationsMax: config.notificationsMax)
        switch outcome {
        case .committed:
            metrics.segments.inc()
            metrics.segmentBytes.inc(body.count)
            metrics.events.inc(range.count)
            metrics.flushSeconds.observe(Double(time.monotonicNs() - startedNs) / 1e9)
            logger.debug("segment committed", [(.streamKey, stream), (.seq, range.description), (.bytes, String(body.count))])
            return true
        case .fenced:
            metrics.fenced.inc()
            lose(fence.partition, reason: "fenced at commit")
            return false
        case .notPending:
            return false
        }
    }
}
