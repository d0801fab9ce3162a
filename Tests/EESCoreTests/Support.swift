import EESCore

/// Builds an `IngestBatch` the way the JSON indexer would, without JSON: each event's raw bytes
/// are laid out one after the other in `body`, and ids/types are copied into `scratch`.
struct TestEvent {
    var id: String = "e-1"
    var type: String = "reading"
    var streamKey: String?
    var ts: Int64 = 1_700_000_000_000
    /// The event's bytes as sent; by default a small object (only its length matters to the validator).
    var raw: String?
}

func makeBatch(deviceID: String = "dev-1", batchID: String = "batch-1", streamKey: String? = nil,
               sentAtMs: Int64 = 1_700_000_000_000, events: [TestEvent]) -> IngestBatch {
    var body: [UInt8] = []
    var scratch: [UInt8] = []
    var out: [IngestEvent] = []
    for e in events {
        let raw = Array((e.raw ?? "{\"event_id\":\"x\",\"payload\":{}}").utf8)
        let rawRange = body.count..<(body.count + raw.count)
        body += raw
        body.append(UInt8(ascii: ","))
        let idRange = scratch.count..<(scratch.count + e.id.utf8.count)
        scratch += Array(e.id.utf8)
        let typeRange = scratch.count..<(scratch.count + e.type.utf8.count)
        scratch += Array(e.type.utf8)
        out.append(IngestEvent(raw: rawRange, eventID: idRange, eventType: typeRange, streamKey: e.streamKey, tsDeviceMs: e.ts))
    }
    return IngestBatch(body: body, scratch: scratch, deviceID: deviceID, batchID: batchID, streamKey: streamKey,
                       sentAtMs: sentAtMs, events: out)
}

func events(_ n: Int) -> [TestEvent] { (0..<n).map { TestEvent(id: "e-\($0)") } }
