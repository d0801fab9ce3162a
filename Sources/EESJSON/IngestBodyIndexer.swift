import CIngestJSON
import EESCore

/// Indexes a `POST /ingest` body with simdjson in one pass (see CIngestJSON). Events are not
/// decoded: each keeps its raw bytes, and only ids, keys and timestamps are pulled out.
public struct IngestBodyIndexer: Sendable {
    public let limits: IngestLimits

    public init(limits: IngestLimits) { self.limits = limits }

    /// Indexes `body` (which it takes over; the batch keeps it). Syntax, presence and type errors
    /// come back with the field's path, e.g. `events[2].ts_device_ms: must be an integer`.
    public func index(_ body: consuming [UInt8]) -> Result<IngestBatch, IngestError> {
        var body = body
        let length = body.count
        // simdjson reads up to EES_JSON_PADDING bytes past the end; give it zeros to read.
        body.append(contentsOf: repeatElement(0, count: Int(EES_JSON_PADDING)))
        var scratch = [UInt8](repeating: 0, count: max(length, 1))
        var req = ees_request_index()
        // One more than allowed, so "too many" is told apart from "exactly the limit".
        let capacity = limits.eventsPerRequestMax + 1
        var events = [ees_event_index](repeating: ees_event_index(), count: min(capacity, length / 16 + 1))
        let status = body.withUnsafeBufferPointer { b in
            scratch.withUnsafeMutableBufferPointer { s in
                events.withUnsafeMutableBufferPointer { e in
                    b.withMemoryRebound(to: CChar.self) { cb in
                        s.withMemoryRebound(to: CChar.self) { cs in
                            ees_index_request(cb.baseAddress, length, cs.baseAddress, cs.count, &req, e.baseAddress, e.count)
                        }
                    }
                }
            }
        }
        body.removeLast(Int(EES_JSON_PADDING))
        if status != 0 { return .failure(error(status: status, req: req)) }

        func string(_ span: ees_span) -> String? {
            span.len == UInt32.max ? nil : String(decoding: scratch[Int(span.off)..<Int(span.off + span.len)], as: UTF8.self)
        }
        func range(_ span: ees_span) -> Range<Int> { Int(span.off)..<Int(span.off + span.len) }

        var out: [IngestEvent] = []
        out.reserveCapacity(Int(req.event_count))
        for i in 0..<Int(req.event_count) {
            let e = events[i]
            out.append(IngestEvent(raw: range(e.raw), eventID: range(e.event_id), eventType: range(e.event_type),
                                   streamKey: string(e.stream_key), tsDeviceMs: e.ts_device_ms))
        }
        return .success(IngestBatch(body: body, scratch: scratch, deviceID: string(req.device_id) ?? "",
                                    batchID: string(req.batch_id) ?? "", streamKey: string(req.stream_key),
                                    sentAtMs: req.sent_at_ms, events: out))
    }

    private func error(status: Int32, req: ees_request_index) -> IngestError {
        var r = req
        let field = withUnsafeBytes(of: &r.error_field) { p in
            String(decoding: p.prefix { $0 != 0 }, as: UTF8.self)
        }
        let path = req.error_event >= 0 ? (field == "event" ? "events[\(req.error_event)]" : "events[\(req.error_event)].\(field)") : field
        switch UInt32(status) {
        case EES_JSON_MISSING.rawValue:
            return .invalid("\(path): required")
        case EES_JSON_WRONG_TYPE.rawValue:
            return .invalid("\(path): \(expectedType(field))")
        case EES_JSON_TOO_MANY.rawValue:
            return .invalid("events: at most \(limits.eventsPerRequestMax) events per request")
        case EES_JSON_CAPACITY.rawValue:
            preconditionFailure("scratch buffer sized to the body cannot be too small")
        default:
            return .invalid(path == "body" ? "body: malformed JSON" : "\(path): malformed JSON")
        }
    }

    private func expectedType(_ field: String) -> String {
        switch field {
        case "ts_device_ms", "sent_at_ms", "local_seq": "must be an integer"
        case "events": "must be an array"
        case "payload", "headers", "meta", "event", "body": "must be an object"
        default: "must be a string"
        }
    }
}
