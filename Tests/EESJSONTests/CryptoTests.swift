import EESCrypto
import Testing

@Suite struct CryptoTests {
    @Test func sha256KnownVector() {
        #expect(Crypto.sha256Hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Crypto.hex(Crypto.sha256(Array("abc".utf8)[...])) == Crypto.sha256Hex("abc"))
    }

    @Test func hexRoundTrip() {
        let bytes: [UInt8] = [0, 1, 0x7f, 0x80, 0xfe, 0xff]
        #expect(Crypto.hex(bytes) == "00017f80feff")
        #expect(Crypto.unhex("00017f80feff") == bytes)
        #expect(Crypto.unhex("00017F80FEFF") == bytes)
        #expect(Crypto.unhex("abc") == nil)
        #expect(Crypto.unhex("zz") == nil)
        #expect(Crypto.unhex("") == [])
    }

    @Test func constantTimeEqual() {
        #expect(Crypto.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!Crypto.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!Crypto.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(!Crypto.constantTimeEqual([], []))
    }
}

@Suite struct APIKeyTests {
    @Test func generatedKeysAreLongRandomAndPrefixed() {
        let keys = (0..<100).map { _ in APIKeys.generate() }
        #expect(Set(keys).count == 100)
        for k in keys {
            #expect(k.hasPrefix("ees_"))
            #expect(k.utf8.count == 4 + 64)
            #expect(Crypto.unhex(String(k.dropFirst(4)))?.count == 32)
        }
    }

    @Test func storedHashIsTheHexSHA256OfTheKey() {
        #expect(APIKeys.hash("ees_test") == "9453d42f205119fa4f68d0d3462d2ca920aa30dfc217dee2fed0c79c1facc651")
    }

    @Test func verify() {
        let key = APIKeys.generate()
        let stored = APIKeys.hash(key)
        #expect(APIKeys.verify(presented: key, storedHashHex: stored))
        #expect(APIKeys.verify(presented: key, storedHashHex: stored.uppercased()))
        #expect(!APIKeys.verify(presented: APIKeys.generate(), storedHashHex: stored))
        #expect(!APIKeys.verify(presented: key + " ", storedHashHex: stored))
        #expect(!APIKeys.verify(presented: "", storedHashHex: stored))
        // The stored value is a hash, never the key: presenting the hash itself fails.
        #expect(!APIKeys.verify(presented: stored, storedHashHex: stored))
    }

    @Test func missingOrBrokenRecordNeverVerifies() {
        let key = APIKeys.generate()
        #expect(!APIKeys.verify(presented: key, storedHashHex: nil))
        #expect(!APIKeys.verify(presented: key, storedHashHex: ""))
        #expect(!APIKeys.verify(presented: key, storedHashHex: "not hex"))
        #expect(!APIKeys.verify(presented: key, storedHashHex: String(APIKeys.hash(key).prefix(62))))
        // The dummy hash used for unknown devices cannot be matched by choosing a stored value.
        #expect(!APIKeys.verify(presented: key, storedHashHex: String(repeating: "a5", count: 32)))
    }
}

@Suite struct DedupIDTests {
    func id(_ device: String, _ event: String) -> [UInt8] {
        var out = [UInt8]()
        DedupID.append(deviceID: device, eventID: Array(event.utf8), to: &out)
        return out
    }

    @Test func fixedWidthAndPinned() {
        #expect(DedupID.width == 16)
        #expect(id("d1", "e1").count == 16)
        #expect(id("d", String(repeating: "x", count: 10_000)).count == 16)
        // First 16 bytes of SHA-256("d1\0e1"), computed independently: the ids already in Redis
        // depend on this, so it must not change.
        #expect(Crypto.hex(id("d1", "e1")) == "411c3eb1355e010355c8fbb35b5baf3c")
    }

    @Test func deterministicAndSeparatedByDeviceAndEvent() {
        #expect(id("d1", "e1") == id("d1", "e1"))
        #expect(id("d1", "e1") != id("d2", "e1"))
        #expect(id("d1", "e1") != id("d1", "e2"))
        // The separator keeps (ab, c) and (a, bc) apart.
        #expect(id("ab", "c") != id("a", "bc"))
        #expect(id("a", "") != id("", "a"))
        // Ids are bytes: NFC and NFD spellings of "é" are different events.
        #expect(id("d", "\u{e9}") != id("d", "e\u{301}"))
    }

    @Test func appendsInOrder() {
        var out = [UInt8]()
        DedupID.append(deviceID: "d", eventID: Array("a".utf8), to: &out)
        DedupID.append(deviceID: "d", eventID: Array("b".utf8)[...], to: &out)
        #expect(out.count == 32)
        #expect(Array(out[0..<16]) == id("d", "a"))
        #expect(Array(out[16..<32]) == id("d", "b"))
    }
}
