/// Semantic checks on an indexed batch (the JSON indexer already checked syntax, presence and
/// types). The first violation is reported with the field's path, e.g. `events[3].event_id`.
public struct IngestValidator: Sendable {
    public let limits: IngestLimits

    public init(limits: IngestLimits) { self.limits = limits }

    public func validate(_ batch: IngestBatch) -> IngestError? {
        if let m = checkIdentifier(batch.deviceID, "device_id") { return .invalid(m) }
        if let m = checkOpaqueID(batch.batchID[...].utf8, "batch_id") { return .invalid(m) }
        if let key = batch.streamKey, let m = checkIdentifier(key, "stream_key") { return .invalid(m) }
        if let m = checkTimestamp(batch.sentAtMs, "sent_at_ms") { return .invalid(m) }
        if batch.events.isEmpty { return .invalid("events: must not be empty") }
        if batch.events.count > limits.eventsPerRequestMax {
            return .invalid("events: at most \(limits.eventsPerRequestMax) events per request")
        }
        for (i, e) in batch.events.enumerated() {
            if let m = check(e, in: batch) { return .invalid("events[\(i)].\(m)") }
        }
        return nil
    }

    private func check(_ e: IngestEvent, in batch: IngestBatch) -> String? {
        if e.raw.count > limits.eventBytesMax { return "event: larger than \(limits.eventBytesMax) bytes" }
        if let m = checkOpaqueID(batch.eventID(e), "event_id") { return m }
        if let m = checkIdentifierBytes(batch.eventType(e), "event_type") { return m }
        if let key = e.streamKey, let m = checkIdentifier(key, "stream_key") { return m }
        return checkTimestamp(e.tsDeviceMs, "ts_device_ms")
    }

    /// Names used in Redis keys and object keys: `[A-Za-z0-9._:-]`, not `.`/`..`.
    private func checkIdentifier(_ s: String, _ field: String) -> String? {
        if let m = checkIdentifierBytes(s.utf8, field) { return m }
        if s == "." || s == ".." { return "\(field): must not be '.' or '..'" }
        return nil
    }

    private func checkIdentifierBytes<C: Collection<UInt8>>(_ bytes: C, _ field: String) -> String? {
        if bytes.isEmpty { return "\(field): must not be empty" }
        if bytes.count > limits.idBytesMax { return "\(field): longer than \(limits.idBytesMax) bytes" }
        if !bytes.allSatisfy(Identifier.isAllowed) { return "\(field): only letters, digits and . _ : - are allowed" }
        return nil
    }

    /// Ids only compared for equality (`event_id`, `batch_id`): any Unicode, no control characters.
    private func checkOpaqueID<C: Collection<UInt8>>(_ bytes: C, _ field: String) -> String? {
        if bytes.isEmpty { return "\(field): must not be empty" }
        if bytes.count > limits.idBytesMax { return "\(field): longer than \(limits.idBytesMax) bytes" }
        if bytes.contains(where: { $0 < 0x20 || $0 == 0x7f }) { return "\(field): control characters are not allowed" }
        return nil
    }

    private func checkTimestamp(_ v: Int64, _ field: String) -> String? {
        (0...timestampMsMax).contains(v) ? nil : "\(field): must be between 0 and \(timestampMsMax)"
    }
}

/// The character set of names that end up in Redis keys, object keys and URLs.
public enum Identifier {
    @inlinable public static func isAllowed(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
             UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// True when `s` is a valid device id / stream key.
    public static func isValid(_ s: String, maxBytes: Int = 128) -> Bool {
        !s.isEmpty && s.utf8.count <= maxBytes && s.utf8.allSatisfy(isAllowed) && s != "." && s != ".."
    }
}
