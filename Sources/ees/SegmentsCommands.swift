import EESCore
import EESObjectStore
import Foundation

/// `ees segments ls|cat`: read the log through the object store, as operators and jobs do.
enum SegmentsCommands {
    static let store = [
        OptionSpec("object-store", env: "EES_OBJECT_STORE", default: "file:///var/lib/ees/segments",
                   help: "s3://BUCKET?endpoint=URL&region=R or file:///path (credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"),
    ]
    static let selection = [
        OptionSpec("stream", help: "stream key"),
        OptionSpec("from-seq", default: "1", help: "first seq wanted"),
        OptionSpec("to-seq", help: "last seq wanted (default: the end)"),
    ]

    static var all: [Command] {
        [
            Command(path: ["segments", "ls"], usage: "ees segments ls --stream K [--from-seq N]",
                    summary: "Lists a stream's segments (key, seq range, bytes) in seq order.",
                    specs: selection + store, run: ls),
            Command(path: ["segments", "cat"], usage: "ees segments cat --stream K [--from-seq N] [--to-seq M]",
                    summary: "Prints a stream's events as JSONL lines, in seq order, from the segments.",
                    specs: selection + store, run: cat),
        ]
    }

    private static func selected(_ o: ParsedOptions) throws -> (any ObjectStore, String, Int64, Int64, [String]) {
        let stream = try o.require("stream")
        guard Identifier.isValid(stream) else { throw ConfigError("--stream: letters, digits and . _ : - only") }
        let from = Int64(try o.int("from-seq", in: 1...Int.max) ?? 1)
        let to = Int64(try o.int("to-seq", in: 1...Int.max) ?? Int.max)
        let objects = try ObjectStoreURL.open(try o.require("object-store"), env: ProcessInfo.processInfo.environment)
        var keys: [String] = []
        var after: String?
        let prefix = SegmentFormat.streamPrefix(stream)
        while true {
            let page = try objects.list(prefix: prefix, startAfter: after, limit: 1000)
            keys += page.filter { k in SegmentFormat.range(ofKey: k).map { $0.end >= from && $0.start <= to } ?? false }
            guard page.count == 1000, let last = page.last else { break }
            after = last
        }
        return (objects, stream, from, to, keys)
    }

    private static func ls(_ o: ParsedOptions) throws -> Int32 {
        let (objects, _, _, _, keys) = try selected(o)
        out("KEY\tSTART\tEND\tBYTES")
        for k in keys {
            guard let r = SegmentFormat.range(ofKey: k) else { continue }
            out("\(k)\t\(r.start)\t\(r.end)\t\(try objects.head(key: k).map(String.init) ?? "-")")
        }
        return Exit.ok
    }

    private static func cat(_ o: ParsedOptions) throws -> Int32 {
        let (objects, _, from, to, keys) = try selected(o)
        for k in keys {
            guard let bytes = try objects.get(key: k) else { continue }
            var chunk = [UInt8]()
            for line in bytes.split(separator: 0x0A) {
                guard let seq = SegmentFormat.seq(ofLine: line), seq >= from, seq <= to else { continue }
                chunk += line
                chunk.append(0x0A)
            }
            chunk.withUnsafeBytes { p in _ = write(1, p.baseAddress, p.count) }
        }
        return Exit.ok
    }
}
