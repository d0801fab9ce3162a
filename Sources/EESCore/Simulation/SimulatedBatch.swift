/// Ids of one simulated device's events and batches: a 16-hex-digit tag fixed by (seed, device
/// id) plus the position, so a resend, or a rerun with the same seed, carries the very same ids
/// and the ingest node deduplicates it. Ids stay short (≤ 37 bytes) whatever the device id.
public struct SimulationIDs: Sendable, Equatable {
    public let deviceID: String
    /// Hex tag, e.g. `3f9a0c12d4e5b6a7`.
    public let tag: String

    public init(seed: UInt64, deviceID: String) {
        self.deviceID = deviceID
        // A different mix than the temperature series' seed, so ids and values are unrelated.
        let h = SimRandom.mix(SimRandom.mix(seed &+ 0x5157_1D5) ^ SimRandom.fnv1a(deviceID))
        let hex = String(h, radix: 16)
        tag = String(repeating: "0", count: 16 - hex.count) + hex
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
        var out: [UInt8] = []
        out.reserveCapacity(96 + readings.count * (100 + ids.tag.utf8.count))
        out.append(contentsOf: "{\"device_id\":\(JSONText.quoted(ids.deviceID)),\"batch_id\":\(JSONText.quoted(batchID)),\"sent_at_ms\":\(sentAtMs),\"events\":[".utf8)
        for (i, r) in readings.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            // The tag is hex and the rest digits: nothing here needs JSON escaping.
            out.append(contentsOf: "{\"event_id\":\"".utf8)
            out.append(contentsOf: ids.tag.utf8)
            out.append(UInt8(ascii: "-"))
            out.append(contentsOf: String(r.seq).utf8)
            out.append(contentsOf: "\",\"event_type\":\"sensor.temperature\",\"ts_device_ms\":".utf8)
            out.append(contentsOf: String(timestampsMs[i]).utf8)
            out.append(contentsOf: ",\"payload\":{\"temperature\":".utf8)
            r.appendCelsius(to: &out)
            out.append(contentsOf: "}}".utf8)
        }
        out.append(contentsOf: "]}".utf8)
        body = out
    }

    /// The readings the threshold detector must report.
    public var anomalies: [Reading] { readings.filter(\.isAnomalous) }
}
