import CSodium

/// libsodium behind a few functions: SHA-256, constant-time comparison, random bytes.
public enum Crypto {
    /// libsodium must be initialised once before use; `sodium_init` is idempotent and thread-safe.
    static let ready: Bool = sodium_init() >= 0

    public static func sha256<C: Collection<UInt8>>(_ data: C) -> [UInt8] {
        precondition(ready, "libsodium failed to initialise")
        var out = [UInt8](repeating: 0, count: Int(crypto_hash_sha256_BYTES))
        let done = data.withContiguousStorageIfAvailable { p in
            crypto_hash_sha256(&out, p.baseAddress, UInt64(p.count))
        }
        if done == nil {
            let copy = Array(data)
            crypto_hash_sha256(&out, copy, UInt64(copy.count))
        }
        return out
    }

    /// Lower-case hex SHA-256 of a string's UTF-8 bytes (how API keys are stored).
    public static func sha256Hex(_ s: String) -> String { hex(sha256(Array(s.utf8))) }

    /// Compares in time independent of where the inputs differ (for secrets and their hashes).
    public static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count, !a.isEmpty else { return false }
        return sodium_memcmp(a, b, a.count) == 0
    }

    public static func randomBytes(_ n: Int) -> [UInt8] {
        precondition(ready, "libsodium failed to initialise")
        var out = [UInt8](repeating: 0, count: n)
        randombytes_buf(&out, n)
        return out
    }

    /// Inlinable so it is specialised in the caller's module (it builds every request id).
    @inlinable
    public static func hex<C: Collection<UInt8>>(_ bytes: C) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Parses lower- or upper-case hex; nil on odd length or a non-hex digit.
    public static func unhex(_ s: String) -> [UInt8]? {
        let u = Array(s.utf8)
        guard u.count % 2 == 0 else { return nil }
        func v(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out = [UInt8]()
        out.reserveCapacity(u.count / 2)
        var i = 0
        while i < u.count {
            guard let hi = v(u[i]), let lo = v(u[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }
}

/// Device API keys: 32 random bytes, shown once as `ees_<64 hex>`; stored only as their SHA-256.
public enum APIKeys {
    public static func generate() -> String { "ees_" + Crypto.hex(Crypto.randomBytes(32)) }

    public static func hash(_ key: String) -> String { Crypto.sha256Hex(key) }

    /// Checks a presented key against a stored hex hash in constant time. A missing record is
    /// checked against a dummy hash so that timing does not reveal whether the device exists.
    public static func verify(presented: String, storedHashHex: String?) -> Bool {
        let presentedHash = Crypto.sha256(Array(presented.utf8))
        let stored = storedHashHex.flatMap(Crypto.unhex) ?? dummyHash
        let equal = Crypto.constantTimeEqual(presentedHash, stored.count == 32 ? stored : dummyHash)
        return equal && storedHashHex != nil
    }

    private static let dummyHash = [UInt8](repeating: 0xA5, count: 32)
}

/// Dedup identity of an event: 16 bytes of SHA-256(device_id, 0, event_id). Fixed width keeps the
/// Redis sets small and the script's argument short; 128 bits make an accidental collision (which
/// would drop a genuine event) negligible (~n²/2¹²⁹ per stream window).
public enum DedupID {
    public static let width = 16

    /// Inlinable so callers in other modules get it specialised: unspecialised, every byte went
    /// through a witness table (it and its two temporary arrays were ~11% of the node's CPU).
    @inlinable
    public static func append<C: Collection<UInt8>>(deviceID: String, eventID: C, to out: inout [UInt8]) {
        let done: Void? = eventID.withContiguousStorageIfAvailable { e in
            append(deviceID: deviceID, eventID: UnsafeRawBufferPointer(e), to: &out)
        }
        if done == nil { Array(eventID).withUnsafeBytes { append(deviceID: deviceID, eventID: $0, to: &out) } }
    }

    /// The same id from raw bytes, hashed incrementally: no temporary arrays per event.
    public static func append(deviceID: String, eventID: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        precondition(Crypto.ready, "libsodium failed to initialise")
        var state = crypto_hash_sha256_state()
        crypto_hash_sha256_init(&state)
        var device = deviceID
        device.withUTF8 { d in _ = crypto_hash_sha256_update(&state, d.baseAddress, UInt64(d.count)) }
        var separator: UInt8 = 0
        crypto_hash_sha256_update(&state, &separator, 1)
        crypto_hash_sha256_update(&state, eventID.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt64(eventID.count))
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: Int(crypto_hash_sha256_BYTES)) { digest in
            crypto_hash_sha256_final(&state, digest.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: digest[..<width]))
        }
    }
}
