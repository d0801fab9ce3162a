import EESCompression
import EESCore
import EESCrypto
import EESJSON

/// The result of one accepted request, per stream.
public struct StreamOutcome: Sendable, Equatable {
    public let streamKey: String
    public let accepted: Int
    public let duplicates: Int
    public let firstSeq: Int64
    public let lastSeq: Int64
}

/// `POST /ingest` without HTTP: authenticate → decompress → index → validate → rate-limit →
/// store per stream. Runs on an HTTP worker thread and blocks on Redis.
public final class Ingestor: Sendable {
    public struct Request: Sendable {
        public var deviceID: String?
        public var apiKey: String?
        public var contentEncoding: String?
        public var body: [UInt8]
        public var bodyTooLarge: Bool

        public init(deviceID: String?, apiKey: String?, contentEncoding: String?, body: [UInt8], bodyTooLarge: Bool = false) {
            self.deviceID = deviceID
            self.apiKey = apiKey
            self.contentEncoding = contentEncoding
            self.body = body
            self.bodyTooLarge = bodyTooLarge
        }
    }

    let config: IngestConfig
    let store: any IngestStore
    let auth: DeviceAuthenticator
    let limiter: RateLimiter
    let indexer: IngestBodyIndexer
    let validator: IngestValidator
    let metrics: IngestMetrics
    let time: any TimeSource

    public init(config: IngestConfig, store: any IngestStore, auth: DeviceAuthenticator, limiter: RateLimiter,
                metrics: IngestMetrics, time: any TimeSource) {
        self.config = config
        self.store = store
        self.auth = auth
        self.limiter = limiter
        self.indexer = IngestBodyIndexer(limits: config.limits)
        self.validator = IngestValidator(limits: config.limits)
        self.metrics = metrics
        self.time = time
    }

    /// Accepted streams, or the error to answer with, plus a refusal reason for logs and metrics
    /// (never the key).
    public func ingest(_ request: Request) -> (result: Result<[StreamOutcome], IngestError>, reason: String?) {
        if request.bodyTooLarge { return fail(.payloadTooLarge, "body: larger than \(config.limits.bodyBytesMax) bytes", "body_too_large") }

        let outcome: DeviceAuthenticator.Outcome
        do {
            outcome = try auth.authenticate(deviceID: request.deviceID, apiKey: request.apiKey)
        } catch {
            return fail(.unavailable, "device registry unavailable", "redis_unavailable", retry: config.retryAfterSeconds)
        }
        guard case .authenticated(let device) = outcome else {
            if case .refused(let reason) = outcome { return fail(.unauthorized, "invalid credentials", reason) }
            return fail(.unauthorized, "invalid credentials", "unknown")
        }

        var body = request.body
        switch request.contentEncoding?.lowercased() {
        case nil, "identity":
            break
        case "gzip":
            switch Gunzip.decompress(body, maxBytes: config.limits.bodyBytesMax) {
            case .success(let plain): body = plain
            case .failure(.tooLarge):
                return fail(.payloadTooLarge, "body: larger than \(config.limits.bodyBytesMax) bytes after gunzip", "body_too_large")
            case .failure(.corrupt): return fail(.invalidRequest, "body: invalid gzip data", "invalid_gzip")
            }
        default:
            return fail(.unsupportedMediaType, "content-encoding: only gzip is supported", "unsupported_encoding")
        }

        var batch: IngestBatch
        switch indexer.index(body) {
        case .success(let b): batch = b
        case .failure(let e): return (.failure(e), "invalid_request")
        }
        if batch.deviceID != device.deviceID {
            return fail(.invalidRequest, "device_id: does not match the x-device-id header", "device_mismatch")
        }
        if let e = validator.validate(batch) { return (.failure(e), "invalid_request") }

        let now = time.nowMs()
        if let wait = limiter.take(device: device.deviceID, events: batch.events.count, nowMs: now) {
            return fail(.rateLimited, "device over its rate of \(Int(config.rate.eventsPerSecond)) events/s", "rate_limited", retry: wait)
        }

        let chunks = StreamResolution.chunks(of: batch, deviceStreamKey: device.streamKey)
        let writes = chunks.map { makeWrite($0, &batch, nowMs: now) }
        let results: [ChunkResult]
        do {
            results = try store.append(writes)
        } catch {
            return fail(.unavailable, "event store unavailable", "redis_unavailable", retry: config.retryAfterSeconds)
        }
        var streams: [StreamOutcome] = []
        for (chunk, r) in zip(chunks, results) {
            guard case .stored(let acc, let dup, let first, let last) = r else {
                return fail(.unavailable, "stream \(chunk.streamKey): buffer is over its high-water mark", "buffer_full",
                            retry: config.retryAfterSeconds)
            }
            streams.append(StreamOutcome(streamKey: chunk.streamKey, accepted: acc, duplicates: dup, firstSeq: first, lastSeq: last))
        }
        for s in streams {
            metrics.accepted.inc(s.accepted)
            metrics.duplicates.inc(s.duplicates)
        }
        return (.success(streams), nil)
    }

    private func makeWrite(_ chunk: StreamChunk, _ batch: inout IngestBatch, nowMs: Int64) -> ChunkWrite {
        var ids = [UInt8]()
        ids.reserveCapacity(chunk.eventIndexes.count * DedupID.width)
        var joined = [UInt8]()
        joined.reserveCapacity(chunk.eventIndexes.reduce(0) { $0 + batch.events[$1].raw.count + 1 })
        for (n, i) in chunk.eventIndexes.enumerated() {
            let e = batch.events[i]
            DedupID.append(deviceID: batch.deviceID, eventID: batch.eventID(e), to: &ids)
            JSONLineSafety.makeLineSafe(&batch.body, range: e.raw)
            if n > 0 { joined.append(0x0A) }
            joined.append(contentsOf: batch.body[e.raw])
        }
        return ChunkWrite(streamKey: chunk.streamKey, deviceID: batch.deviceID, batchID: batch.batchID, tsIngestMs: nowMs,
                          dedupIDs: ids, events: joined, count: chunk.eventIndexes.count)
    }

    private func fail(_ code: IngestError.Code, _ message: String, _ reason: String, retry: Int? = nil)
        -> (result: Result<[StreamOutcome], IngestError>, reason: String?) {
        (.failure(IngestError(code, message, retryAfterSeconds: retry)), reason)
    }
}
