/// Writes bytes through a raw pointer into memory the caller reserved with an exact upper bound
/// (a bug, not an input, would overrun it: that is checked with a precondition per call).
struct ByteWriter {
    /// Bytes of the longest Int64 in decimal ("-9223372036854775808").
    static let decimalBytesMax = 20
    /// Bytes of the longest hundredths value as written by `putCenti`.
    static let centiBytesMax = decimalBytesMax + 3

    private let buffer: UnsafeMutableBufferPointer<UInt8>
    private(set) var count = 0

    init(_ buffer: UnsafeMutableBufferPointer<UInt8>) { self.buffer = buffer }

    mutating func put(_ byte: UInt8) {
        precondition(count < buffer.count, "ByteWriter capacity")
        buffer[count] = byte
        count += 1
    }

    mutating func put(_ bytes: [UInt8]) {
        precondition(count + bytes.count <= buffer.count, "ByteWriter capacity")
        bytes.withUnsafeBufferPointer { src in
            guard let from = src.baseAddress, let to = buffer.baseAddress else { return }
            (to + count).update(from: from, count: src.count)
        }
        count += bytes.count
    }

    mutating func putDecimal(_ v: Int64) {
        precondition(count + ByteWriter.decimalBytesMax <= buffer.count, "ByteWriter capacity")
        if v < 0 { put(UInt8(ascii: "-")) }
        var m = v.magnitude
        var digits = 0
        var t = m
        repeat {
            digits += 1
            t /= 10
        } while t > 0
        var i = count + digits
        count = i
        repeat {
            i -= 1
            buffer[i] = UInt8(ascii: "0") + UInt8(m % 10)
            m /= 10
        } while m > 0
    }

    /// Hundredths as a decimal with two places: 2305 → "23.05", -5 → "-0.05".
    mutating func putCenti(_ centi: Int) {
        if centi < 0 { put(UInt8(ascii: "-")) }
        let m = Int64(centi.magnitude)
        putDecimal(m / 100)
        put(UInt8(ascii: "."))
        put(UInt8(ascii: "0") + UInt8(m % 100 / 10))
        put(UInt8(ascii: "0") + UInt8(m % 10))
    }
}

extension ByteWriter {
    /// Runs `write` on up to `bytesMax` new bytes at the end of `out` and keeps what it wrote.
    static func append(to out: inout [UInt8], bytesMax: Int, _ write: (inout ByteWriter) -> Void) {
        let start = out.count
        out.append(contentsOf: repeatElement(0, count: bytesMax))
        let written = out.withUnsafeMutableBufferPointer { all in
            var w = ByteWriter(UnsafeMutableBufferPointer(rebasing: all[start...]))
            write(&w)
            return w.count
        }
        out.removeLast(bytesMax - written)
    }
}

/// Integers as decimal ASCII straight into a byte array, without building a String.
public enum DecimalASCII {
    public static func append(_ v: Int64, to out: inout [UInt8]) {
        ByteWriter.append(to: &out, bytesMax: ByteWriter.decimalBytesMax) { $0.putDecimal(v) }
    }
}
