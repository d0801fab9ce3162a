import EESCore
import EESRedis
import Foundation
import Synchronization

/// The processor role. Worker threads each run, as consumer `<node>[-w<n>]` of group `processor`:
///
///   XAUTOCLAIM idle entries (periodically) / XREADGROUP new ones → per entry: GET segment → parse,
///   detect → sink.write (ONE transaction, idempotent) → XADD derived anomalies → XACK
///
/// Postgres, the object store and Redis being unavailable are waits, never losses: the worker
/// retries the same entry with capped backoff and acknowledges nothing until it is done, touching
/// the entries it holds so that no other processor claims them meanwhile. Entries of a crashed or
/// hung processor are claimed after `claimIdleMs`; one delivered more than `maxDeliveries` times
/// is dead-lettered. Damaged segments go to the dead-letter queue (`dlq/segments/…` object + the
/// `ees:dlq:segments` stream) after their good rows are written.
public final class Processor: Sendable {
    let config: ProcessorConfig
    let queue: RedisSegmentQueue
    let objects: any ObjectStore
    let sinks: [any MetricsSink]
    let core: SegmentProcessor
    let metrics: ProcessorMetrics
    let logger: Logger
    let time: any TimeSource
    let faults: FaultPoints
    private let threads = RoleThreads()
    private var stopping: AtomicFlag { threads.stopping }

    /// - Parameters:
    ///   - redis: where the notification streams are; the processor's own pool waits longer per
    ///     command than `blockMs`, so a blocking read is never cut short by the client timeout.
    ///   - sinks: one per worker (a Postgres sink holds one connection).
    public init(config: ProcessorConfig, redis: RedisConfig, keys: RedisKeys, objects: any ObjectStore,
                sinks: [any MetricsSink], detectors: [any Detector], metrics registry: MetricsRegistry, logger: Logger,
                time: any TimeSource = SystemTime(), faults: FaultPoints = .none) throws(ConfigError) {
        try config.check()
        guard sinks.count == config.workers else { throw ConfigError("processor needs one metrics sink per worker") }
        var rc = redis
        rc.commandTimeoutMs = max(rc.commandTimeoutMs, config.blockMs + 2_000)
        self.config = config
        self.queue = RedisSegmentQueue(client: RedisClient(config: rc), keys: keys, partitions: config.partitions)
        self.objects = objects
        self.sinks = sinks
        self.core = SegmentProcessor(detectors: detectors, time: time)
        self.metrics = ProcessorMetrics(registry: registry)
        self.logger = logger
        self.time = time
        self.faults = faults
    }

    public func start() {
        for w in 0..<config.workers {
            threads.spawn { [self] in
                workLoop(Worker(consumer: config.consumerName(worker: w), sink: sinks[w], startedNs: time.monotonicNs()))
            }
        }
        logger.info("processor started", [(.count, String(config.workers))])
    }

    /// Stops the workers, bounded by `stopTimeoutMs`. A segment in progress is finished when it
    /// can be; anything not acknowledged stays pending and is claimed by another processor.
    public func stop() {
        let unfinished = threads.stop(timeoutMs: config.stopTimeoutMs)
        logger.info("processor stopped", [(.count, String(unfinished))])
    }

    /// Per-thread state: the consumer name, its sink, and the entries it holds unacknowledged.
    final class Worker {
        let consumer: String
        let sink: any MetricsSink
        var held: [RedisSegmentQueue.Entry] = []
        var lastTouchNs: UInt64
        var cursors: [String] = []
        var nextSweepNs: UInt64 = 0
        var nextConsumerCleanupNs: UInt64 = 0
        var groupsReady = false

        init(consumer: String, sink: any MetricsSink, startedNs: UInt64) {
            self.consumer = consumer
            self.sink = sink
            lastTouchNs = startedNs
        }
    }

    // MARK: the loop

    private func workLoop(_ w: Worker) {
        w.cursors = Array(repeating: "0-0", count: config.partitions)
        var failures = 0
        while !stopping.isSet {
            do throws(RedisError) {
                let batch = try nextBatch(w)
                failures = 0
                w.held = batch
                w.lastTouchNs = time.monotonicNs()
                for entry in batch {
                    if stopping.isSet { break }
                    touchIfDue(w)
                    handle(entry, w)
                }
                w.held = []
            } catch {
                metrics.redisErrors.inc()
                if error.message.contains("NOGROUP") { w.groupsReady = false }   // Redis lost its data
                if failures == 0 || failures % 20 == 0 {
                    logger.warning("notification read failed, will retry", [(.error, error.description), (.attempt, String(failures + 1))])
                }
                failures += 1
                _ = pause(config.retryBackoff.delayMs(attempt: failures - 1), w)
            }
        }
    }

    /// Claimed entries when a sweep is due and finds some, else new entries (blocking up to blockMs).
    private func nextBatch(_ w: Worker) throws(RedisError) -> [RedisSegmentQueue.Entry] {
        if !w.groupsReady {
            try queue.ensureGroups()
            w.groupsReady = true
        }
        let now = time.monotonicNs()
        if now >= w.nextConsumerCleanupNs {
            w.nextConsumerCleanupNs = now + 600 * 1_000_000_000
            let removed = try queue.removeIdleConsumers(idleMs: config.consumerIdleRemoveMs)
            if removed > 0 { logger.info("idle consumers removed", [(.count, String(removed))]) }
        }
        if now >= w.nextSweepNs {
            let claimed = try queue.claimIdle(consumer: w.consumer, minIdleMs: config.claimIdleMs, count: config.readCount,
                                              cursors: &w.cursors)
            for t in claimed.trimmed {
                // The stream's MAXLEN dropped a notification nobody processed: its segment must be
                // replayed from the object store by an operator.
                logger.error("unprocessed notification was trimmed", [(.partition, String(t.partition)), (.key, t.id)])
            }
            // A cursor not back at 0-0 means more idle entries wait: sweep again right away.
            let more = w.cursors.contains { $0 != "0-0" }
            w.nextSweepNs = more ? now : now + UInt64(config.sweepIntervalMs) * 1_000_000
            if !claimed.entries.isEmpty {
                metrics.claimed.inc(claimed.entries.count)
                logger.info("idle notifications claimed", [(.count, String(claimed.entries.count))])
                return claimed.entries
            }
        }
        let entries = try queue.read(consumer: w.consumer, count: config.readCount, blockMs: config.blockMs)
        if entries.isEmpty { metrics.lagSeconds.set(0) }
        return entries
    }

    // MARK: one notification

    private func handle(_ entry: RedisSegmentQueue.Entry, _ w: Worker) {
        let started = time.monotonicNs()
        let parsed = SegmentNotification.parse(fields: entry.fields)
        if entry.deliveries > config.maxDeliveries {
            var d = deadLetter(.maxDeliveries, entry, w, note: try? parsed.get())
            d.error = "delivered \(entry.deliveries) times, more than the limit of \(config.maxDeliveries)"
            deadLetterAndAck(d, entry, w)
            return
        }
        let note: SegmentNotification
        switch parsed {
        case .failure(let e):
            var d = deadLetter(.badNotification, entry, w, note: nil)
            d.error = e.message
            deadLetterAndAck(d, entry, w)
            return
        case .success(let n): note = n
        }
        let log = logger.with([(.streamKey, note.streamKey), (.seq, note.range.description)])

        // 1. The segment's bytes.
        let bytes: [UInt8]
        switch retrying("object store", w, { () -> Step<[UInt8]?> in
            do throws(ObjectStoreError) {
                return .done(try objects.get(key: note.key))
            } catch {
                metrics.objectStoreError(error.code.rawValue)
                return error.code == .rejected ? .deadLetter(.unreadableObject, error.description) : .retry(error.description)
            }
        }) {
        case .stopped: return
        case .deadLetter(let reason, let message):
            var d = deadLetter(reason, entry, w, note: note)
            d.error = message
            deadLetterAndAck(d, entry, w)
            return
        case .value(let b?): bytes = b
        case .value(nil):
            // Written before and deleted since (retention), or never there.
            switch retrying("postgres", w, { () -> Step<Bool> in
                do throws(MetricsSinkError) { return .done(try w.sink.isProcessed(segKey: note.key)) } catch {
                    metrics.postgresErrors.inc()
                    return .retry(error.description)
                }
            }) {
            case .value(true): ack(entry, w)
            case .value(false), .deadLetter:
                var d = deadLetter(.missingObject, entry, w, note: note)
                d.error = "no object at \(note.key)"
                deadLetterAndAck(d, entry, w)
            case .stopped: break
            }
            return
        }

        // 2. Rows and anomalies, written in one transaction.
        let work = core.prepare(note, bytes: bytes)
        let outcome: WriteOutcome
        switch retrying("postgres", w, { () -> Step<WriteOutcome> in
            do throws(MetricsSinkError) {
                return .done(try w.sink.write(segment: work.segment, metrics: work.metrics, anomalies: work.anomalies))
            } catch {
                metrics.postgresErrors.inc()
                return error.code == .rejected ? .deadLetter(.rejected, error.description) : .retry(error.description)
            }
        }) {
        case .stopped: return
        case .deadLetter(let reason, let message):
            var d = deadLetter(reason, entry, w, note: note)
            d.error = message
            d.problems = work.problems
            d.missingSeqs = work.missingSeqs
            deadLetterAndAck(d, entry, w)
            return
        case .value(let o): outcome = o
        }
        faults.hit(.crashAfterCommit)

        // 3. Derived events, after the commit. Also on `.alreadyProcessed`: the earlier attempt may
        // have died before publishing, so the stream is at-least-once (consumers dedup on `id`).
        if !work.anomalies.isEmpty {
            let events = work.anomalies.map { $0.derivedEventFields(segmentKey: note.key) }
            guard case .value = retrying("redis", w, { () -> Step<Void> in
                do throws(RedisError) {
                    return .done(try queue.append(to: queue.keys.derivedAnomalies, events, maxLen: config.derivedStreamMax))
                } catch {
                    metrics.redisErrors.inc()
                    return .retry(error.description)
                }
            }) else { return }
            metrics.derivedEvents.inc(events.count)
        }

        // 4. Acknowledge (through the dead-letter queue when some lines were damaged).
        if let reason = work.deadLetterReason {
            var d = deadLetter(reason, entry, w, note: note)
            d.problems = work.problems
            d.missingSeqs = work.missingSeqs
            guard deadLetterAndAck(d, entry, w) else { return }
        } else {
            guard ack(entry, w) else { return }
        }
        switch outcome {
        case .written(let m, let a):
            metrics.segmentsWritten.inc()
            metrics.rows.inc(m)
            metrics.anomalies.inc(a)
        case .alreadyProcessed:
            metrics.segmentsAlreadyProcessed.inc()
            log.info("segment was already processed", [(.key, note.key)])
        }
        metrics.lagSeconds.set(Double(max(0, time.nowMs() - note.newestIngestMs)) / 1000)
        metrics.segmentSeconds.observe(Double(time.monotonicNs() - started) / 1e9)
        log.debug("segment processed", [(.count, String(work.metrics.count))])
    }

    // MARK: dead letters and acknowledgements

    private func deadLetter(_ reason: DeadLetterReason, _ entry: RedisSegmentQueue.Entry, _ w: Worker,
                            note: SegmentNotification?) -> DeadLetter {
        DeadLetter(reason: reason, partition: entry.partition, entryID: entry.id, fields: entry.fields, note: note,
                   deliveries: entry.deliveries, consumer: w.consumer, atMs: time.nowMs())
    }

    /// Object, then stream entry, then XACK; each retried until done. False when stopped first.
    @discardableResult
    private func deadLetterAndAck(_ d: DeadLetter, _ entry: RedisSegmentQueue.Entry, _ w: Worker) -> Bool {
        let objectKey = d.objectKey
        let body = d.json()
        guard case .value = retrying("object store", w, { () -> Step<Void> in
            do throws(ObjectStoreError) { return .done(try objects.put(key: objectKey, bytes: body)) } catch {
                metrics.objectStoreError(error.code.rawValue)
                return .retry(error.description)
            }
        }) else { return false }
        guard case .value = retrying("redis", w, { () -> Step<Void> in
            do throws(RedisError) {
                return .done(try queue.append(to: queue.keys.deadLetterSegments, [d.streamFields], maxLen: config.deadLetterStreamMax))
            } catch {
                metrics.redisErrors.inc()
                return .retry(error.description)
            }
        }) else { return false }
        metrics.dlq(d.reason).inc()
        // ERROR: part of the data did not reach Postgres and an operator has to look at it.
        logger.error("segment dead-lettered", [(.reason, d.reason.rawValue), (.key, objectKey),
                                               (.count, String(d.problems.count)), (.partition, String(d.partition))])
        return ack(entry, w)
    }

    @discardableResult
    private func ack(_ entry: RedisSegmentQueue.Entry, _ w: Worker) -> Bool {
        guard case .value = retrying("redis", w, { () -> Step<Void> in
            do throws(RedisError) { return .done(try queue.ack(entry)) } catch {
                metrics.redisErrors.inc()
                return .retry(error.description)
            }
        }) else { return false }
        w.held.removeAll { $0.id == entry.id && $0.partition == entry.partition }
        return true
    }

    // MARK: retries

    enum Step<T> {
        case done(T)
        /// A dependency is unavailable: wait and try the same thing again.
        case retry(String)
        /// The data can never succeed: dead-letter it.
        case deadLetter(DeadLetterReason, String)
    }

    enum Outcome<T> {
        case value(T)
        case deadLetter(DeadLetterReason, String)
        case stopped
    }

    /// Runs `body` until it is done or dead-letters, waiting with capped backoff in between; gives
    /// up (`.stopped`, nothing acknowledged) only when the processor is stopping.
    private func retrying<T>(_ dependency: String, _ w: Worker, _ body: () -> Step<T>) -> Outcome<T> {
        var attempt = 0
        while true {
            switch body() {
            case .done(let v):
                if attempt > 0 { logger.info("dependency available again", [(.component, dependency), (.attempt, String(attempt + 1))]) }
                return .value(v)
            case .deadLetter(let r, let m): return .deadLetter(r, m)
            case .retry(let message):
                if attempt == 0 || attempt % 20 == 0 {
                    logger.warning("dependency unavailable, retrying", [(.component, dependency), (.error, message),
                                                                        (.attempt, String(attempt + 1))])
                }
                attempt += 1
                if !pause(config.retryBackoff.delayMs(attempt: attempt - 1), w) { return .stopped }
            }
        }
    }

    /// Sleeps `ms` in short slices, touching held entries when due. False when stopping.
    private func pause(_ ms: Int, _ w: Worker) -> Bool {
        var left = ms
        repeat {
            if stopping.isSet { return false }
            touchIfDue(w)
            let slice = min(left, 100)
            sleepMs(slice)
            left -= slice
        } while left > 0
        return !stopping.isSet
    }

    /// Keeps this worker's unacknowledged entries from going idle long enough to be claimed.
    private func touchIfDue(_ w: Worker) {
        let now = time.monotonicNs()
        guard !w.held.isEmpty, now - w.lastTouchNs >= UInt64(config.touchIntervalMs) * 1_000_000 else { return }
        do throws(RedisError) {
            try queue.touch(consumer: w.consumer, w.held, minIdleMs: config.claimIdleMs / 4)
            w.lastTouchNs = now
        } catch {
            metrics.redisErrors.inc()
        }
    }
}
