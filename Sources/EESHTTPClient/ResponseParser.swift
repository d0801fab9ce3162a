/// Reads one HTTP/1.x response out of the bytes received so far. Pure: the connection feeds it
/// the growing buffer and asks whether the response is complete; it never touches a socket.
/// Bodies are framed by Content-Length, chunked transfer coding, or the end of the connection.
struct ResponseParser {
    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
        case untilClose
    }

    private enum ChunkPhase {
        case sizeLine
        case data(remaining: Int)
        case dataEnd
        case trailers
    }

    let headBytesMax: Int
    let bodyBytesMax: Int
    /// A response to HEAD has no body whatever its headers say.
    let isHead: Bool

    private(set) var status = 0
    private(set) var headers: [(name: String, value: String)] = []
    private(set) var framing = Framing.none
    /// Index just past the head's blank line, once the head is in.
    private(set) var bodyStart: Int?
    /// The server asked to close, or the framing needs the close: do not reuse the connection.
    private(set) var mustClose = false
    /// How far the head search has looked, so each call scans only new bytes.
    private var scanned = 0
    private var chunkPhase = ChunkPhase.sizeLine
    private var chunkPos = 0
    private var chunkedBody: [UInt8] = []
    /// Index just past the response's last byte, once complete.
    private(set) var end: Int?

    init(headBytesMax: Int, bodyBytesMax: Int, isHead: Bool) {
        self.headBytesMax = headBytesMax
        self.bodyBytesMax = bodyBytesMax
        self.isHead = isHead
    }

    /// Parses as far as `buffer` allows; true once the response is complete. `eof` tells that
    /// the peer closed: that completes a body framed by the close, and is an error otherwise.
    mutating func advance(_ buffer: [UInt8], eof: Bool) throws(HTTPClientError) -> Bool {
        if bodyStart == nil {
            guard try findHead(buffer) else {
                if eof { throw HTTPClientError(.closed, "connection closed before the response head was complete") }
                return false
            }
        }
        guard let start = bodyStart else { return false }
        switch framing {
        case .none:
            end = start
            return true
        case .length(let n):
            if buffer.count - start >= n {
                end = start + n
                return true
            }
            if eof { throw HTTPClientError(.closed, "connection closed after \(buffer.count - start) of \(n) body bytes") }
            return false
        case .untilClose:
            if buffer.count - start > bodyBytesMax { throw HTTPClientError(.responseTooLarge, "body over \(bodyBytesMax) bytes") }
            if eof { end = buffer.count }
            return eof
        case .chunked:
            if try advanceChunks(buffer) { return true }
            if eof { throw HTTPClientError(.closed, "connection closed inside a chunked body") }
            return false
        }
    }

    /// The body of a complete response.
    func body(_ buffer: [UInt8]) -> [UInt8] {
        guard let start = bodyStart, let end else { return [] }
        return framing == .chunked ? chunkedBody : Array(buffer[start..<end])
    }

    // MARK: head

    private mutating func findHead(_ buffer: [UInt8]) throws(HTTPClientError) -> Bool {
        var i = max(0, scanned - 3)
        let limit = buffer.count - 3
        while i < limit {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
                try parseHead(buffer[0..<i])
                bodyStart = i + 4
                return true
            }
            i += 1
        }
        scanned = buffer.count
        if buffer.count > headBytesMax { throw HTTPClientError(.responseTooLarge, "response head over \(headBytesMax) bytes") }
        return false
    }

    private mutating func parseHead(_ head: ArraySlice<UInt8>) throws(HTTPClientError) {
        guard head.count <= headBytesMax else { throw HTTPClientError(.responseTooLarge, "response head over \(headBytesMax) bytes") }
        // Lines are walked in place (no split arrays): a head is parsed for every request.
        var lines: [ArraySlice<UInt8>] = []
        var lineStart = head.startIndex
        while true {
            let newline = head[lineStart...].firstIndex(of: 10) ?? head.endIndex
            var lineEnd = newline
            if lineEnd > lineStart && head[lineEnd - 1] == 13 { lineEnd -= 1 }
            lines.append(head[lineStart..<lineEnd])
            guard newline < head.endIndex else { break }
            lineStart = newline + 1
        }
        let statusLine = lines[0]
        // "HTTP/1.x SSS[ reason]"
        let s = statusLine.startIndex
        guard statusLine.count >= 12, statusLine.starts(with: ResponseParser.http1), statusLine[s + 8] == 32,
              statusLine.count == 12 || statusLine[s + 12] == 32,
              statusLine[(s + 9)..<(s + 12)].allSatisfy({ (48...57).contains($0) }) else {
            throw HTTPClientError(.malformedResponse, "not an HTTP/1.x status line")
        }
        status = statusLine[(s + 9)..<(s + 12)].reduce(0) { $0 * 10 + Int($1 - 48) }
        guard status >= 100 else { throw HTTPClientError(.malformedResponse, "not an HTTP/1.x status line") }
        let http10 = statusLine[s + 7] == UInt8(ascii: "0")
        var contentLength: Int?
        var chunked = false
        var keepAlive = false
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: 58), colon > line.startIndex else {
                throw HTTPClientError(.malformedResponse, "header line without a name and colon")
            }
            let name = String(decoding: line[line.startIndex..<colon].lazy.map { (65...90).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
            var valueStart = colon + 1, valueEnd = line.endIndex
            while valueStart < valueEnd && (line[valueStart] == 32 || line[valueStart] == 9) { valueStart += 1 }
            while valueEnd > valueStart && (line[valueEnd - 1] == 32 || line[valueEnd - 1] == 9) { valueEnd -= 1 }
            let value = String(decoding: line[valueStart..<valueEnd], as: UTF8.self)
            headers.append((name, value))
            switch name {
            case "content-length":
                guard let n = Int(value), n >= 0 else { throw HTTPClientError(.malformedResponse, "bad Content-Length") }
                guard contentLength == nil || contentLength == n else { throw HTTPClientError(.malformedResponse, "conflicting Content-Length") }
                contentLength = n
            case "transfer-encoding":
                chunked = value.lowercased().split(separator: ",").last.map { $0.trimmingSpaces == "chunked" } ?? false
            case "connection":
                let tokens = value.lowercased().split(separator: ",").map { String($0.trimmingSpaces) }
                if tokens.contains("close") { mustClose = true }
                if tokens.contains("keep-alive") { keepAlive = true }
            default:
                break
            }
        }
        if http10 && !keepAlive { mustClose = true }
        if isHead || status == 204 || status == 304 || (100..<200).contains(status) {
            framing = .none
        } else if chunked {
            framing = .chunked   // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3)
        } else if let n = contentLength {
            guard n <= bodyBytesMax else { throw HTTPClientError(.responseTooLarge, "body of \(n) bytes over \(bodyBytesMax)") }
            framing = .length(n)
        } else {
            framing = .untilClose
            mustClose = true
        }
    }

    // MARK: chunked

    private mutating func advanceChunks(_ buffer: [UInt8]) throws(HTTPClientError) -> Bool {
        if chunkPos == 0, let start = bodyStart { chunkPos = start }
        while true {
            switch chunkPhase {
            case .sizeLine:
                guard let lineEnd = crlf(buffer, from: chunkPos) else { return try needLine(buffer) }
                let line = buffer[chunkPos..<lineEnd]
                let digits = line.prefix { $0 != 59 && $0 != 32 && $0 != 9 }   // drop ";ext" and spaces
                guard !digits.isEmpty, digits.count <= 8, let size = Int(String(decoding: digits, as: UTF8.self), radix: 16) else {
                    throw HTTPClientError(.malformedResponse, "bad chunk size")
                }
                guard chunkedBody.count + size <= bodyBytesMax else {
                    throw HTTPClientError(.responseTooLarge, "body over \(bodyBytesMax) bytes")
                }
                chunkPos = lineEnd + 2
                chunkPhase = size == 0 ? .trailers : .data(remaining: size)
            case .data(let remaining):
                let available = min(remaining, buffer.count - chunkPos)
                guard available > 0 else { return false }
                chunkedBody.append(contentsOf: buffer[chunkPos..<(chunkPos + available)])
                chunkPos += available
                chunkPhase = remaining == available ? .dataEnd : .data(remaining: remaining - available)
            case .dataEnd:
                guard buffer.count - chunkPos >= 2 else { return false }
                guard buffer[chunkPos] == 13 && buffer[chunkPos + 1] == 10 else {
                    throw HTTPClientError(.malformedResponse, "chunk not followed by CRLF")
                }
                chunkPos += 2
                chunkPhase = .sizeLine
            case .trailers:
                guard let lineEnd = crlf(buffer, from: chunkPos) else { return try needLine(buffer) }
                let empty = lineEnd == chunkPos
                chunkPos = lineEnd + 2
                if empty {
                    end = chunkPos
                    return true
                }
            }
        }
    }

    /// A size or trailer line is still incomplete: fine unless it has grown past any sane length.
    private func needLine(_ buffer: [UInt8]) throws(HTTPClientError) -> Bool {
        if buffer.count - chunkPos > 4096 { throw HTTPClientError(.malformedResponse, "chunk line too long") }
        return false
    }

    private static let http1 = Array("HTTP/1.".utf8)

    private func crlf(_ buffer: [UInt8], from: Int) -> Int? {
        var i = from
        while i + 1 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 { return i }
            i += 1
        }
        return nil
    }
}
