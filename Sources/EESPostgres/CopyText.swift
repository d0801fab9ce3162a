/// Builds a `COPY … FROM STDIN` payload in Postgres's text format: fields separated by TAB, rows
/// ended by LF, NULL written as `\N`.
///
/// Inside a value, backslash, TAB, LF and CR are written as `\\`, `\t`, `\n`, `\r` — the characters
/// the format requires escaping — and everything else (other control characters, any Unicode) goes
/// through as UTF-8. Postgres text cannot hold U+0000; a string containing it sets `containsNUL`
/// and the caller must refuse the payload (the server would reject it anyway, less clearly).
public struct CopyTextEncoder: Sendable {
    /// The payload so far.
    public private(set) var bytes: [UInt8]
    /// Completed rows.
    public private(set) var rowCount = 0
    /// Whether any string value contained U+0000.
    public private(set) var containsNUL = false
    private var atRowStart = true

    public init(reservingCapacity: Int = 0) {
        bytes = []
        bytes.reserveCapacity(reservingCapacity)
    }

    /// Appends a text value, escaped.
    public mutating func append(_ value: String) {
        separate()
        var value = value
        value.withUTF8 { utf8 in
            for b in utf8 {
                switch b {
                case 0x5C: bytes.append(0x5C); bytes.append(0x5C)   // \  -> \\
                case 0x09: bytes.append(0x5C); bytes.append(0x74)   // TAB -> \t
                case 0x0A: bytes.append(0x5C); bytes.append(0x6E)   // LF -> \n
                case 0x0D: bytes.append(0x5C); bytes.append(0x72)   // CR -> \r
                case 0x00: containsNUL = true
                default: bytes.append(b)
                }
            }
        }
    }

    /// Appends an integer in decimal, without allocating a String.
    public mutating func append(_ value: Int64) {
        separate()
        if value == 0 { bytes.append(0x30); return }
        if value < 0 { bytes.append(0x2D) }
        // Digits of the magnitude, written backwards into a fixed buffer (Int64.min has 19 digits).
        var magnitude = value.magnitude
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buf in
            while magnitude > 0 {
                buf[count] = UInt8(truncatingIfNeeded: magnitude % 10) + 0x30
                magnitude /= 10
                count += 1
            }
            for i in stride(from: count - 1, through: 0, by: -1) { bytes.append(buf[i]) }
        }
    }

    /// Appends a float as the shortest text that reads back to the same `Double` (Postgres's
    /// `float8` input is exact for it); non-finite values in Postgres's spelling.
    public mutating func append(_ value: Double) {
        separate()
        let text: String
        if value.isNaN {
            text = "NaN"
        } else if value.isInfinite {
            text = value < 0 ? "-Infinity" : "Infinity"
        } else {
            text = value.description
        }
        bytes.append(contentsOf: text.utf8)
    }

    /// Appends SQL NULL.
    public mutating func appendNull() {
        separate()
        bytes.append(0x5C)
        bytes.append(0x4E)   // \N
    }

    /// Ends the current row.
    public mutating func endRow() {
        bytes.append(0x0A)
        rowCount += 1
        atRowStart = true
    }

    private mutating func separate() {
        if atRowStart { atRowStart = false } else { bytes.append(0x09) }
    }
}
