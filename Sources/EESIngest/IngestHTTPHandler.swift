import EESCore
import EESCrypto
import EESHTTPServer
import Synchronization

/// Routes: `POST /ingest` plus the ops routes (`/healthz`, `/readyz`, `/metrics`).
public final class IngestHTTPHandler: HTTPHandler {
    let ingestor: Ingestor
    let metrics: IngestMetrics
    let logger: Logger
    let time: any TimeSource
    let ops: OpsRoutes

    public init(ingestor: Ingestor, metrics: IngestMetrics, logger: Logger, time: any TimeSource,
                isReady: @escaping @Sendable () -> Bool) {
        self.ingestor = ingestor
        self.metrics = metrics
        self.logger = logger
        self.time = time
        self.ops = OpsRoutes(registry: metrics.registry, isReady: isReady)
    }

    public func preflight(method: String, path: String, headers: [String: String]) -> HTTPResponse? {
        guard path == "/ingest", method == "POST" else { return nil }
        let type = headers["content-type"]?.split(separator: ";").first?.trimmingSpaces.lowercased()
        guard type == "application/json" else {
            return error(IngestError(.unsupportedMediaType, "content-type: must be application/json"),
                         requestID: requestID(headers), reason: "unsupported_media_type", device: headers["x-device-id"])
        }
        if let declared = headers["content-length"].flatMap(Int.init), declared > ingestor.config.limits.bodyBytesMax {
            return error(IngestError(.payloadTooLarge, "body: larger than \(ingestor.config.limits.bodyBytesMax) bytes"),
                         requestID: requestID(headers), reason: "body_too_large", device: headers["x-device-id"])
        }
        return nil
    }

    public func handle(_ request: HTTPRequest, bodyTooLarge: Bool) -> HTTPResponse {
        if request.path == "/ingest" {
            guard request.method == "POST" else {
                return count("/ingest", error(IngestError(.methodNotAllowed, "method \(request.method) is not allowed here"),
                                              requestID: requestID(request.headers), reason: nil, device: nil))
            }
            return ingest(request, bodyTooLarge: bodyTooLarge)
        }
        if request.path == "/metrics" { metrics.cacheEntries.set(Double(ingestor.auth.cache.count)) }
        if let r = ops.respond(method: request.method, path: request.path) { return count(request.path, r) }
        return count("other", error(IngestError(.notFound, "no such route"), requestID: requestID(request.headers),
                                    reason: nil, device: nil))
    }

    private func ingest(_ request: HTTPRequest, bodyTooLarge: Bool) -> HTTPResponse {
        let start = time.monotonicNs()
        let rid = requestID(request.headers)
        let device = request.header("x-device-id")
        let (result, reason) = ingestor.ingest(Ingestor.Request(
            deviceID: device, apiKey: request.header("x-api-key"), contentEncoding: request.header("content-encoding"),
            body: request.body, bodyTooLarge: bodyTooLarge))
        let response: HTTPResponse
        switch result {
        case .success(let streams):
            response = .json(200, IngestResponses.accepted(requestID: rid, streams: streams), headers: [("x-request-id", rid)])
        case .failure(let e):
            response = error(e, requestID: rid, reason: reason, device: device)
        }
        metrics.requestSeconds.observe(Double(time.monotonicNs() - start) / 1e9)
        return count("/ingest", response)
    }

    private func error(_ e: IngestError, requestID rid: String, reason: String?, device: String?) -> HTTPResponse {
        if let reason {
            metrics.rejected(reason)
            // Client mistakes are routine: info. Unavailability is what an operator must see.
            let level: Logger.Level = e.code == .unavailable ? .warning : .info
            var md: [(LogKey, String)] = [(.requestID, rid), (.status, String(e.status)), (.reason, reason), (.error, e.message)]
            if let device, Identifier.isValid(device) { md.append((.deviceID, device)) }
            logger.log(level, "ingest request refused", md)
        }
        var headers = [("x-request-id", rid)]
        if let retry = e.retryAfterSeconds { headers.append(("Retry-After", String(retry))) }
        return .json(e.status, IngestResponses.error(e, requestID: rid), headers: headers)
    }

    private func count(_ route: String, _ r: HTTPResponse) -> HTTPResponse {
        metrics.request(route: route, status: r.status)
        return r
    }

    /// A client's `x-request-id` is kept when it is short and printable; else the trace id of a valid
    /// `traceparent`; else a random one is made.
    private func requestID(_ headers: [String: String]) -> String {
        if let given = headers["x-request-id"], (1...128).contains(given.utf8.count),
           given.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7f && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return given
        }
        // W3C trace context `00-<trace-id>-<parent-id>-<flags>`: the trace id joins our logs to the caller's trace.
        if let tp = headers["traceparent"]?.split(separator: "-"), tp.count == 4, tp[1].count == 32,
           tp[1].utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }), tp[1] != Substring(String(repeating: "0", count: 32)) {
            return String(tp[1])
        }
        // 128 random bits in one getrandom call (two UInt64 from SystemRandomNumberGenerator were
        // two syscalls per request).
        return Crypto.hex(Crypto.randomBytes(16))
    }
}

/// Response bodies (docs/http-api.md).
enum IngestResponses {
    static func accepted(requestID: String, streams: [StreamOutcome]) -> String {
        let acc = streams.reduce(0) { $0 + $1.accepted }
        let dup = streams.reduce(0) { $0 + $1.duplicates }
        // Top-level seqs: the range of the request's one stream; null when several streams or none new.
        let single = streams.count == 1 && streams[0].accepted > 0 ? streams[0] : nil
        var out = "{\"request_id\":\(JSONText.quoted(requestID)),\"accepted_count\":\(acc),\"duplicate_count\":\(dup)"
        out += ",\"first_seq\":\(single.map { String($0.firstSeq) } ?? "null"),\"last_seq\":\(single.map { String($0.lastSeq) } ?? "null")"
        out += ",\"streams\":["
        for (i, s) in streams.enumerated() {
            if i > 0 { out += "," }
            out += "{\"stream_key\":\(JSONText.quoted(s.streamKey)),\"accepted_count\":\(s.accepted),\"duplicate_count\":\(s.duplicates)"
            out += s.accepted > 0 ? ",\"first_seq\":\(s.firstSeq),\"last_seq\":\(s.lastSeq)}" : ",\"first_seq\":null,\"last_seq\":null}"
        }
        return out + "]}"
    }

    static func error(_ e: IngestError, requestID: String) -> String {
        "{\"error\":\"\(e.code.rawValue)\",\"message\":\(JSONText.quoted(e.message)),\"request_id\":\(JSONText.quoted(requestID))}"
    }
}

