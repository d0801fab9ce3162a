/// A parsed JSON value, for reading segment lines off the hot path.
///
/// The core stays free of Foundation, and a strict RFC 8259 reader of a few hundred lines is faster
/// than `JSONSerialization` for the processor's one-line-at-a-time work. Objects keep their members
/// in document order (metric rows come out in payload order); `member(_:)` returns the LAST member
/// of a repeated name, as JavaScript and `JSONSerialization` do.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// `int` is the exact value when the literal is an integer that fits Int64 (no fraction or
    /// exponent); `double` is always set (it may be ±infinity for a literal like `1e400`).
    case number(double: Double, int: Int64?)
    case string(String)
    case array([JSONValue])
    case object([JSONMember])

    /// The last member called `name` of an object; nil for other values or when absent.
    public func member(_ name: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.last { $0.name == name }?.value
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// An integer literal that fits Int64.
    public var int64: Int64? {
        if case .number(_, let i) = self { return i }
        return nil
    }

    /// A finite number (bools are not numbers).
    public var finiteDouble: Double? {
        if case .number(let d, _) = self, d.isFinite { return d }
        return nil
    }

    public var members: [JSONMember]? {
        if case .object(let m) = self { return m }
        return nil
    }
}

public struct JSONMember: Sendable, Equatable {
    public let name: String
    public let value: JSONValue
    public init(name: String, value: JSONValue) {
        self.name = name
        self.value = value
    }
}

/// Why a text is not JSON: a constant reason and the byte offset where it was found. Never
/// carries the text itself (it may be a device's payload).
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public let reason: String
    public let offset: Int
    public var description: String { "\(reason) at byte \(offset)" }
}

/// A strict JSON reader (RFC 8259): one value, surrounded by optional whitespace; UTF-8 validated;
/// no control characters in strings; unpaired surrogates refused; nesting at most `depthMax`.
public struct JSONReader {
    /// Deeper documents are refused: bounds the recursion.
    public static let depthMax = 64

    public static func parse(_ bytes: ArraySlice<UInt8>) throws(JSONParseError) -> JSONValue {
        try bytes.withUnsafeBufferPointer { (buf: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue in
            var r = JSONReader(buf)
            r.skipSpace()
            let v = try r.value(depth: 0)
            r.skipSpace()
            if r.i != r.end { throw r.fail("trailing characters") }
            return v
        }
    }

    public static func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue { try parse(bytes[...]) }

    private let p: UnsafeBufferPointer<UInt8>
    private var i = 0
    private let end: Int

    private init(_ p: UnsafeBufferPointer<UInt8>) {
        self.p = p
        end = p.count
    }

    private func fail(_ reason: StaticString) -> JSONParseError {
        JSONParseError(reason: reason.description, offset: i)
    }

    private mutating func skipSpace() {
        while i < end {
            switch p[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard i < end else { throw fail("unexpected end") }
        switch p[i] {
        case UInt8(ascii: "{"): return try object(depth: depth + 1)
        case UInt8(ascii: "["): return try array(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard end - i >= n else { throw fail("unexpected end") }
        for k in 0..<n where p[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
        i += n
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.depthMax else { throw fail("nested too deeply") }
        i += 1
        var members: [JSONMember] = []
        skipSpace()
        if i < end, p[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
        while true {
            skipSpace()
            guard i < end, p[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
            let name = try string()
            skipSpace()
            guard i < end, p[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            members.append(JSONMember(name: name, value: try value(depth: depth)))
            skipSpace()
            guard i < end else { throw fail("unexpected end") }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= Self.depthMax else { throw fail("nested too deeply") }
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < end, p[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth))
            skipSpace()
            guard i < end else { throw fail("unexpected end") }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func string() throws(JSONParseError) -> String {
        i += 1   // opening quote
        let start = i
        // Fast path: no escapes, so the bytes between the quotes are the string.
        while i < end {
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                let s = UnsafeBufferPointer(rebasing: p[start..<i])
                guard let text = String(validating: s, as: UTF8.self) else { throw fail("invalid UTF-8") }
                i += 1
                return text
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw fail("control character in string") }
            i += 1
        }
        var out = Array(UnsafeBufferPointer(rebasing: p[start..<i]))
        while i < end {
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                guard let text = String(validating: out, as: UTF8.self) else { throw fail("invalid UTF-8") }
                return text
            }
            if b < 0x20 { throw fail("control character in string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            i += 1
            guard i < end else { break }
            let e = p[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard end - i >= 6, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                        throw fail("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate")
                }
                guard let u = Unicode.Scalar(scalar) else { throw fail("invalid escape") }
                out.append(contentsOf: UTF8.encode(u)!)
            default: throw fail("invalid escape")
            }
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard end - i >= 4 else { throw fail("unexpected end") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = p[i]
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
            i += 1
        }
        return v
    }

    private mutating func number() throws(JSONParseError) -> JSONValue {
        let start = i
        if p[i] == UInt8(ascii: "-") { i += 1 }
        guard i < end, isDigit(p[i]) else { throw fail("invalid number") }
        if p[i] == UInt8(ascii: "0") {
            i += 1
            if i < end, isDigit(p[i]) { throw fail("leading zero in number") }
        } else {
            while i < end, isDigit(p[i]) { i += 1 }
        }
        var integral = true
        if i < end, p[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            guard i < end, isDigit(p[i]) else { throw fail("invalid number") }
            while i < end, isDigit(p[i]) { i += 1 }
        }
        if i < end, p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < end, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            guard i < end, isDigit(p[i]) else { throw fail("invalid number") }
            while i < end, isDigit(p[i]) { i += 1 }
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: p[start..<i]), as: UTF8.self)
        guard let d = Double(text) else { throw fail("invalid number") }
        return .number(double: d, int: integral ? Int64(text) : nil)
    }

    private func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }
}
