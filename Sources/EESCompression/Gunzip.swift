import CZlib

/// Bounded gzip decompression: stops as soon as the output would pass `maxBytes`, so a small
/// "gzip bomb" cannot make the node allocate more than the body limit.
public enum Gunzip {
    public enum Failure: Error, Equatable, Sendable {
        case tooLarge
        case corrupt
    }

    public static func decompress(_ input: [UInt8], maxBytes: Int) -> Result<[UInt8], Failure> {
        var stream = z_stream()
        // 15 + 16: zlib window bits with gzip header detection.
        guard inflateInit2_(&stream, 15 + 16, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            return .failure(.corrupt)
        }
        defer { inflateEnd(&stream) }
        var out = [UInt8]()
        out.reserveCapacity(min(maxBytes, max(input.count * 4, 4096)))
        var chunk = [UInt8](repeating: 0, count: 64 << 10)
        var input = input
        return input.withUnsafeMutableBufferPointer { inp -> Result<[UInt8], Failure> in
            stream.next_in = inp.baseAddress
            stream.avail_in = UInt32(inp.count)
            while true {
                let (rc, produced) = chunk.withUnsafeMutableBufferPointer { c -> (Int32, Int) in
                    stream.next_out = c.baseAddress
                    stream.avail_out = UInt32(c.count)
                    let rc = inflate(&stream, Z_NO_FLUSH)
                    return (rc, c.count - Int(stream.avail_out))
                }
                if out.count + produced > maxBytes { return .failure(.tooLarge) }
                out.append(contentsOf: chunk[0..<produced])
                switch rc {
                case Z_STREAM_END:
                    // Trailing bytes after the gzip member are not accepted.
                    return stream.avail_in == 0 ? .success(out) : .failure(.corrupt)
                case Z_OK:
                    if produced == 0 && stream.avail_in == 0 { return .failure(.corrupt) }   // truncated
                case Z_BUF_ERROR:
                    if stream.avail_in == 0 { return .failure(.corrupt) }
                default:
                    return .failure(.corrupt)
                }
            }
        }
    }
}
