/// The counts of a 200 answer to `POST /ingest` (docs/http-api.md). The body is the node's own
/// fixed shape with the top-level counts before `streams`, so reading the first occurrence of
/// each key is exact and avoids a JSON decoder on the load generator's hot path.
public struct IngestReply: Sendable, Equatable {
    public let acceptedCount: Int
    public let duplicateCount: Int

    public init(acceptedCount: Int, duplicateCount: Int) {
        self.acceptedCount = acceptedCount
        self.duplicateCount = duplicateCount
    }

    /// Nil when either count is missing or not a non-negative integer.
    public init?(body: [UInt8]) {
        guard let a = IngestReply.integer(after: Array("\"accepted_count\":".utf8), in: body),
              let d = IngestReply.integer(after: Array("\"duplicate_count\":".utf8), in: body) else { return nil }
        acceptedCount = a
        duplicateCount = d
    }

    private static func integer(after key: [UInt8], in body: [UInt8]) -> Int? {
        guard body.count >= key.count else { return nil }
        var i = 0
        while i + key.count <= body.count {
            if body[i] == key[0] && body[i..<(i + key.count)].elementsEqual(key) {
                var j = i + key.count
                while j < body.count && body[j] == 32 { j += 1 }
                var value = 0, digits = 0
                while j < body.count, (48...57).contains(body[j]), digits < 15 {
                    value = value * 10 + Int(body[j] - 48)
                    digits += 1
                    j += 1
                }
                return digits > 0 ? value : nil
            }
            i += 1
        }
        return nil
    }
}
