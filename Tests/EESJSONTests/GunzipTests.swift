import EESCompression
import EESTestSupport
import Foundation
import Testing


@Suite struct GunzipTests {
    let limit = 1 << 20

    @Test func roundTrip() throws {
        var data = [UInt8]()
        for i in 0..<200_000 { data.append(UInt8(truncatingIfNeeded: i &* 2_654_435_761 >> 13)) }
        let packed = try gzip(data)
        #expect(Gunzip.decompress(packed, maxBytes: limit) == .success(data))
    }

    @Test func smallAndEmptyPayloads() throws {
        #expect(Gunzip.decompress(try gzip(Array("{}".utf8)), maxBytes: limit) == .success(Array("{}".utf8)))
        #expect(Gunzip.decompress(try gzip([]), maxBytes: limit) == .success([]))
    }

    @Test func exactlyTheLimitIsAllowed() throws {
        let data = [UInt8](repeating: UInt8(ascii: "a"), count: 100_000)
        let packed = try gzip(data)
        #expect(Gunzip.decompress(packed, maxBytes: 100_000) == .success(data))
        #expect(Gunzip.decompress(packed, maxBytes: 99_999) == .failure(.tooLarge))
    }

    @Test func bombIsStoppedAtTheLimit() throws {
        // 64 MiB of zeros packs into ~64 KiB; decompression must stop at the limit, not inflate it all.
        let packed = try gzip([UInt8](repeating: 0, count: 64 << 20), level: 9)
        #expect(packed.count < 100_000)
        let clock = ContinuousClock()
        let start = clock.now
        #expect(Gunzip.decompress(packed, maxBytes: limit) == .failure(.tooLarge))
        #expect(clock.now - start < .seconds(5))
    }

    @Test func corruptData() throws {
        let packed = try gzip(Array(String(repeating: "hello gzip ", count: 1000).utf8))
        #expect(Gunzip.decompress(Array("not gzip at all".utf8), maxBytes: limit) == .failure(.corrupt))
        #expect(Gunzip.decompress([], maxBytes: limit) == .failure(.corrupt))
        var flipped = packed
        flipped[packed.count / 2] ^= 0x55          // in the deflate data
        #expect(Gunzip.decompress(flipped, maxBytes: limit) == .failure(.corrupt))
        var badCRC = packed
        badCRC[packed.count - 6] ^= 0x01           // in the CRC-32 trailer
        #expect(Gunzip.decompress(badCRC, maxBytes: limit) == .failure(.corrupt))
        var badMagic = packed
        badMagic[0] = 0x1e
        #expect(Gunzip.decompress(badMagic, maxBytes: limit) == .failure(.corrupt))
    }

    @Test func truncatedData() throws {
        let packed = try gzip(Array(String(repeating: "truncate me ", count: 5000).utf8))
        for cut in [1, 4, 8, packed.count / 2, packed.count - 10] {
            #expect(Gunzip.decompress(Array(packed.dropLast(cut)), maxBytes: limit) == .failure(.corrupt), "cut \(cut)")
        }
        #expect(Gunzip.decompress(Array(packed.prefix(10)), maxBytes: limit) == .failure(.corrupt))
    }

    @Test func trailingBytesAfterTheMemberAreRefused() throws {
        let packed = try gzip(Array("{}".utf8))
        #expect(Gunzip.decompress(packed + [0x00], maxBytes: limit) == .failure(.corrupt))
        #expect(Gunzip.decompress(packed + Array("garbage".utf8), maxBytes: limit) == .failure(.corrupt))
    }
}
