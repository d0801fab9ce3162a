import EESCore

/// Key rules shared by every store, so a key the file store accepts is one S3 accepts and the
/// other way round: relative, slash-separated, no empty, `.` or `..` segments, no NUL, at most
/// `ObjectKey.byteCountMax` UTF-8 bytes (S3's own limit).
public enum ObjectKey {
    /// S3's limit on a key's length in UTF-8 bytes.
    public static let byteCountMax = 1024

    /// Throws `.rejected` naming the key when it breaks a rule.
    public static func validate(_ key: String) throws(ObjectStoreError) {
        let bytes = Array(key.utf8)
        guard !bytes.isEmpty else { throw ObjectStoreError(.rejected, "object key is empty") }
        guard bytes.count <= byteCountMax else {
            throw ObjectStoreError(.rejected, "object key is \(bytes.count) bytes, over \(byteCountMax): \(key.prefix(80))…")
        }
        guard !bytes.contains(0) else { throw ObjectStoreError(.rejected, "object key contains NUL: \(key)") }
        guard bytes.first != slash else { throw ObjectStoreError(.rejected, "object key must be relative: \(key)") }
        for segment in bytes.split(separator: slash, omittingEmptySubsequences: false) {
            if segment.isEmpty { throw ObjectStoreError(.rejected, "object key has an empty segment: \(key)") }
            if segment.elementsEqual([dot]) || segment.elementsEqual([dot, dot]) {
                throw ObjectStoreError(.rejected, "object key has a '.' or '..' segment: \(key)")
            }
        }
    }

    /// A list prefix may be empty or end inside a segment (`stream/ab`), but its complete segments
    /// follow the key rules, so it can never name a path outside the store.
    public static func validatePrefix(_ prefix: String) throws(ObjectStoreError) {
        guard !prefix.isEmpty else { return }
        let bytes = Array(prefix.utf8)
        guard bytes.count <= byteCountMax, !bytes.contains(0), bytes.first != slash else {
            throw ObjectStoreError(.rejected, "list prefix is not a valid key prefix: \(prefix.prefix(80))")
        }
        // Every segment followed by a slash is complete; the last one may be partial.
        let complete = bytes.split(separator: slash, omittingEmptySubsequences: false).dropLast()
        for segment in complete where segment.isEmpty || segment.elementsEqual([dot]) || segment.elementsEqual([dot, dot]) {
            throw ObjectStoreError(.rejected, "list prefix has an empty, '.' or '..' segment: \(prefix)")
        }
    }

    /// Percent-encodes `key` for an S3 request path the way SigV4 canonicalises it: unreserved
    /// bytes (`A-Z a-z 0-9 - _ . ~`) and `/` stay, every other UTF-8 byte becomes `%XX` (uppercase).
    /// curl signs the path exactly as given, so this form is both what is sent and what is signed.
    public static func s3PathEncoded(_ key: String) -> String { percentEncoded(key, keepSlash: true) }

    /// Percent-encodes a query-string value per SigV4 (like the path, but `/` is encoded too).
    public static func s3QueryEncoded(_ value: String) -> String { percentEncoded(value, keepSlash: false) }

    private static func percentEncoded(_ s: String, keepSlash: Bool) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            if isUnreserved(b) || (keepSlash && b == slash) {
                out.append(b)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0x0f)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static func isUnreserved(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
             UInt8(ascii: "."), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static let slash = UInt8(ascii: "/")
    private static let dot = UInt8(ascii: ".")
}

/// Byte-wise comparisons. Swift's `String` compares and matches prefixes by Unicode canonical
/// equivalence, but object stores order and match keys by their UTF-8 bytes.
extension String {
    /// True when `self`'s UTF-8 bytes sort strictly before `other`'s.
    func utf8Precedes(_ other: String) -> Bool { utf8.lexicographicallyPrecedes(other.utf8) }

    /// True when `self`'s UTF-8 bytes begin with `prefix`'s.
    func utf8HasPrefix(_ prefix: String) -> Bool { utf8.starts(with: prefix.utf8) }
}
