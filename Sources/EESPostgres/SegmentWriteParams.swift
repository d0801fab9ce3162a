import EESCore

/// Parameters of `PostgresMetricsSink.writeSQL`: the segment row ($1–$5), then one array per
/// column of the metric rows ($6–$12) and of the anomalies ($13–$23).
struct SegmentWriteParams {
    let values: [String?]

    init(segment: ProcessedSegment, metrics: [MetricRow], anomalies: [AnomalyRow]) {
        values = [
            segment.segKey, segment.streamKey, String(segment.seqStart), String(segment.seqEnd), String(segment.rows),
            ArrayLiteral.ints(metrics.map(\.tsMs)),
            ArrayLiteral.texts(metrics.map(\.deviceId)),
            ArrayLiteral.texts(metrics.map(\.streamKey)),
            ArrayLiteral.ints(metrics.map(\.seq)),
            ArrayLiteral.texts(metrics.map(\.metric)),
            ArrayLiteral.doubles(metrics.map(\.value)),
            ArrayLiteral.ints(metrics.map(\.ingestedAtMs)),
            ArrayLiteral.ints(anomalies.map(\.detectedAtMs)),
            ArrayLiteral.ints(anomalies.map(\.tsMs)),
            ArrayLiteral.texts(anomalies.map(\.deviceId)),
            ArrayLiteral.texts(anomalies.map(\.streamKey)),
            ArrayLiteral.ints(anomalies.map(\.seq)),
            ArrayLiteral.texts(anomalies.map(\.metric)),
            ArrayLiteral.doubles(anomalies.map(\.value)),
            ArrayLiteral.doubles(anomalies.map(\.threshold)),
            ArrayLiteral.texts(anomalies.map(\.algorithm)),
            ArrayLiteral.texts(anomalies.map(\.severity)),
            ArrayLiteral.texts(anomalies.map(\.detailsJSON)),
        ]
    }
}

/// Postgres array input syntax (one-dimensional): `{1,2}`, `{"a","b \"q\" c\\d"}`.
///
/// Every text element is double-quoted, so commas, braces, spaces and the word NULL are data; inside
/// the quotes only `"` and `\` need a backslash. Other bytes (TAB, LF, any Unicode) pass through.
/// A U+0000 passes through too and is refused when the parameter is sent.
enum ArrayLiteral {
    static func ints(_ xs: [Int64]) -> String {
        var out = "{"
        out.reserveCapacity(xs.count * 14 + 2)
        for (i, x) in xs.enumerated() {
            if i > 0 { out += "," }
            out += String(x)
        }
        return out + "}"
    }

    /// Shortest text that reads back to the same `Double`; non-finite values in Postgres's spelling.
    static func doubles(_ xs: [Double]) -> String {
        var out = "{"
        out.reserveCapacity(xs.count * 12 + 2)
        for (i, x) in xs.enumerated() {
            if i > 0 { out += "," }
            out += x.isNaN ? "NaN" : x.isInfinite ? (x < 0 ? "-Infinity" : "Infinity") : x.description
        }
        return out + "}"
    }

    static func texts(_ xs: [String]) -> String {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(xs.reduce(2) { $0 + $1.utf8.count + 3 })
        for (i, s) in xs.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(UInt8(ascii: "\""))
            for b in s.utf8 {
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { out.append(UInt8(ascii: "\\")) }
                out.append(b)
            }
            out.append(UInt8(ascii: "\""))
        }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}
