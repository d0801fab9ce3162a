import CSodium

/// SHA-256 (libsodium's `crypto_hash_sha256`) and lowercase hex, for content hashes such as the
/// `x-amz-content-sha256` header and `api_key_hash`.
public enum SHA256 {
    /// Length of a digest in bytes.
    public static let digestByteCount = Int(crypto_hash_sha256_BYTES)

    /// libsodium asks for `sodium_init()` before any other call; a `static let` runs it once,
    /// thread-safely, on first use. It returns -1 only when the library cannot initialise at all.
    private static let initialised: Bool = sodium_init() >= 0

    /// The 32-byte digest of `bytes`.
    public static func digest(_ bytes: [UInt8]) -> [UInt8] {
        precondition(initialised, "libsodium failed to initialise")
        var out = [UInt8](repeating: 0, count: digestByteCount)
        bytes.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                // crypto_hash_sha256 cannot fail for in-memory input; its int result is always 0.
                _ = crypto_hash_sha256(output.baseAddress!, input.baseAddress, UInt64(input.count))
            }
        }
        return out
    }

    /// The digest of `bytes` as 64 lowercase hex characters.
    public static func hexDigest(_ bytes: [UInt8]) -> String { hex(digest(bytes)) }

    /// `bytes` as lowercase hex, two characters per byte.
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
