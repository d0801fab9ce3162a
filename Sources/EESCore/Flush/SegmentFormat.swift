/// Segment objects: keys and JSONL lines (docs/data-formats.md).
///
/// A line is a pure function of its buffer entry — the envelope written here, the device's event
/// nested byte for byte — so re-flushing a range always writes the same bytes to the same key.
public enum SegmentFormat {
    /// `stream/<stream_key>/seg/<start>-<end>.jsonl`, seqs zero-padded to 20 digits so that
    /// listing order is seq order.
    public static func key(stream: String, range: SeqRange) -> String {
        "\(streamPrefix(stream))\(pad(range.start))-\(pad(range.end)).jsonl"
    }

    /// The listing prefix of one stream's segments.
    public static func streamPrefix(_ stream: String) -> String { "stream/\(stream)/seg/" }

    /// The seq range encoded in a segment key, or nil for other keys.
    public static func range(ofKey key: String) -> SeqRange? {
        guard let slash = key.lastIndex(of: "/"), key.hasSuffix(".jsonl") else { return nil }
        let name = key[key.index(after: slash)...].dropLast(".jsonl".count)
        return SeqRange(parsing: String(name))
    }

    static func pad(_ v: Int64) -> String {
        let s = String(v)
        return String(repeating: "0", count: max(0, 20 - s.count)) + s
    }

    /// Appends the lines of `entries` (in order) to `out`; returns the number of lines.
    @discardableResult
    public static func appendLines(streamKey: String, entries: [BufferEntry], to out: inout [UInt8]) -> Int {
        var lines = 0
        for entry in entries {
            var seq = entry.firstSeq
            let envelopeTail = Array(",\"stream_key\":\(JSONText.quoted(streamKey)),\"device_id\":\(JSONText.quoted(entry.deviceID)),\"batch_id\":\(JSONText.quoted(entry.batchID)),\"ts_ingest_ms\":\(entry.tsIngestMs),\"event\":".utf8)
            for event in entry.events.split(separator: 0x0A, omittingEmptySubsequences: true) {
                out.append(contentsOf: "{\"seq\":\(seq)".utf8)
                out.append(contentsOf: envelopeTail)
                out.append(contentsOf: event)
                out.append(contentsOf: "}\n".utf8)
                seq += 1
                lines += 1
            }
            precondition(lines > 0 && seq == entry.lastSeq + 1, "buffer entry \(entry.firstSeq) holds \(seq - entry.firstSeq) events, says \(entry.count)")
        }
        return lines
    }

    /// The seq of a segment line (its first field), without parsing the rest.
    public static func seq(ofLine line: ArraySlice<UInt8>) -> Int64? {
        let prefix = Array("{\"seq\":".utf8)
        guard line.starts(with: prefix) else { return nil }
        var v: Int64 = 0
        var i = line.startIndex + prefix.count
        var digits = 0
        while i < line.endIndex, line[i] >= 48, line[i] <= 57, digits < 19 {
            v = v * 10 + Int64(line[i] - 48)
            i += 1
            digits += 1
        }
        return digits > 0 && i < line.endIndex && line[i] == UInt8(ascii: ",") ? v : nil
    }
}
