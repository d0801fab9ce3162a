/// Ids of one simulated device's events and batches: a 16-hex-digit tag fixed by (seed, device
/// id) plus the position, so a resend, or a rerun with the same seed, carries the very same ids
/// and the ingest node deduplicates it. Ids stay short (≤ 37 bytes) whatever the device id.
public struct SimulationIDs: Sendable, Equatable {
    public let deviceID: String
    /// Hex tag, e.g. `3f9a0c12d4e5b6a7`.
    public let tag: String
    /// The tag's bytes, for building bodies without going through String.
    public let tagBytes: [UInt8]

    public init(seed: UInt64, deviceID: String) {
        self.deviceID = deviceID
        // A different mix than the temperature series' seed, so ids and values are unrelated.
        let h = SimRandom.mix(SimRandom.mix(seed &+ 0x5157_1D5) ^ SimRandom.fnv1a(deviceID))
        let hex = String(h, radix: 16)
        tag = String(repeating: "0", count: 16 - hex.count) + hex
        tagBytes = Array(tag.utf8)
    }

    /// `<tag>-<seq>` for the reading at `seq` (1-based).
    public func eventID(seq: Int) -> String { "\(tag)-\(seq)" }
    /// `<tag>-b<index>` for the device's batch number `index` (0-based).
    public func batchID(index: Int) -> String { "\(tag)-b\(index)" }
}

/// One request's worth of a device's readings, and its body exactly as it is sent — and resent:
/// the bytes are built once, so every attempt carries the same batch_id, event_ids and times.
public struct SimulatedBatch: Sendable {
    public static let eventType = "sensor.temperature"

    public let deviceID: String
    public let batchID: String
    public let readings: [Reading]
    public let body: [UInt8]

    /// `timestampsMs[i]` is the device time of `readings[i]`.
    public init(ids: SimulationIDs, batchIndex: Int, readings: [Reading], timestampsMs: [Int64], sentAtMs: Int64) {
        precondition(readings.count == timestampsMs.count && !readings.isEmpty, "one timestamp per reading")
        deviceID = ids.deviceID
        batchID = ids.batchID(index: batchIndex)
        self.readings = readings
        let head = Array("{\"device_id\":\(JSONText.quoted(ids.deviceID)),\"batch_id\":\(JSONText.quoted(batchID)),\"sent_at_ms\":".utf8)
        let tag = ids.tagBytes
        // An exact upper bound: every number takes at most `ByteWriter.decimalBytesMax` bytes.
        let perEvent = 1 + Fragment.eventID.count + tag.count + 1 + Fragment.eventType.count + Fragment.payload.count
            + Fragment.eventEnd.count + 2 * ByteWriter.decimalBytesMax + ByteWriter.centiBytesMax
        let capacity = head.count + ByteWriter.decimalBytesMax + Fragment.events.count + readings.count * perEvent + Fragment.bodyEnd.count
        // Written through a raw pointer into reserved bytes: this loop is the load generator's hot
        // path, and Array.append's capacity checks and generic paths were most of its cost.
        body = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
            var w = ByteWriter(buffer)
            w.put(head)
            w.putDecimal(sentAtMs)
            w.put(Fragment.events)
            for (i, r) in readings.enumerated() {
                if i > 0 { w.put(UInt8(ascii: ",")) }
                // The tag is hex and the rest digits: nothing here needs JSON escaping.
                w.put(Fragment.eventID)
                w.put(tag)
                w.put(UInt8(ascii: "-"))
                w.putDecimal(Int64(r.seq))
                w.put(Fragment.eventType)
                w.putDecimal(timestampsMs[i])
                w.put(Fragment.payload)
                w.putCenti(r.centiCelsius)
                w.put(Fragment.eventEnd)
            }
            w.put(Fragment.bodyEnd)
            count = w.count
        }
    }

    private enum Fragment {
        static let events = Array(",\"events\":[".utf8)
        static let eventID = Array("{\"event_id\":\"".utf8)
        static let eventType = Array("\",\"event_type\":\"sensor.temperature\",\"ts_device_ms\":".utf8)
        static let payload = Array(",\"payload\":{\"temperature\":".utf8)
        static let eventEnd = Array("}}".utf8)
        static let bodyEnd = Array("]}".utf8)
    }

    /// The readings the threshold detector must report.
    public var anomalies: [Reading] { readings.filter(\.isAnomalous) }
}
