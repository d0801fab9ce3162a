import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 client over a blocking socket, so tests control every byte:
/// chunked bodies, partial bodies, keep-alive, odd headers. Every read and write has a timeout.
struct HTTPReply: CustomStringConvertible {
    var status: Int
    /// Lower-cased names.
    var headers: [String: String]
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var description: String { "\(status) \(text)" }

    /// The body as a JSON object (empty when it is not one).
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:]
    }

    func int(_ key: String) -> Int? { json[key] as? Int }
    func string(_ key: String) -> String? { json[key] as? String }
    func isNull(_ key: String) -> Bool { json[key] is NSNull }
    var streams: [[String: Any]] { json["streams"] as? [[String: Any]] ?? [] }
}

struct RawHTTPError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

final class RawHTTPConnection {
    private let fd: Int32
    private var buffer: [UInt8] = []

    /// Connects to 127.0.0.1:`port`; throws if refused.
    init(port: Int, timeoutSeconds: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTPError("socket: errno \(errno)") }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            close(fd)
            throw RawHTTPError("connect 127.0.0.1:\(port): errno \(e)")
        }
    }

    deinit { close(fd) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw RawHTTPError("send: errno \(errno)") }
            sent += n
        }
    }

    func send(_ text: String) throws { try send(Array(text.utf8)) }

    /// The request head: `Content-Length` is added when `contentLength` is given.
    static func head(_ method: String, _ path: String, _ headers: [(String, String)], contentLength: Int?) -> String {
        var s = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        for (k, v) in headers { s += "\(k): \(v)\r\n" }
        if let contentLength { s += "Content-Length: \(contentLength)\r\n" }
        return s + "\r\n"
    }

    func request(_ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> HTTPReply {
        try send(Array(Self.head(method, path, headers, contentLength: body?.count ?? (method == "POST" ? 0 : nil)).utf8) + (body ?? []))
        return try readReply()
    }

    /// Sends `body` with `Transfer-Encoding: chunked` in chunks of `chunkBytes`.
    func requestChunked(_ path: String, headers: [(String, String)], body: [UInt8], chunkBytes: Int = 8192) throws -> HTTPReply {
        try send(Self.head("POST", path, headers + [("Transfer-Encoding", "chunked")], contentLength: nil))
        var i = 0
        while i < body.count {
            let end = min(i + chunkBytes, body.count)
            try send(Array((String(end - i, radix: 16) + "\r\n").utf8) + body[i..<end] + Array("\r\n".utf8))
            i = end
        }
        try send("0\r\n\r\n")
        return try readReply()
    }

    /// Reads one response (skipping `100 Continue`); the body by Content-Length, else to EOF.
    func readReply() throws -> HTTPReply {
        while true {
            let head = try readHead()
            var lines = head.components(separatedBy: "\r\n")
            let statusLine = lines.removeFirst().split(separator: " ")
            guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw RawHTTPError("bad status line in \(head)") }
            var headers: [String: String] = [:]
            for l in lines where !l.isEmpty {
                guard let colon = l.firstIndex(of: ":") else { continue }
                headers[l[..<colon].lowercased()] = l[l.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
            if status == 100 { continue }
            var body: [UInt8]
            if let len = headers["content-length"].flatMap(Int.init) {
                body = try readExactly(len)
            } else {
                body = buffer
                buffer = []
                while let more = try readSome() { body += more }
            }
            return HTTPReply(status: status, headers: headers, body: body)
        }
    }

    private func readHead() throws -> String {
        let end: [UInt8] = [13, 10, 13, 10]
        while true {
            if buffer.count >= 4, let r = firstRange(of: end, in: buffer) {
                let head = String(decoding: buffer[..<r], as: UTF8.self)
                buffer.removeFirst(r + 4)
                return head
            }
            guard let more = try readSome() else { throw RawHTTPError("connection closed before a response") }
            buffer += more
        }
    }

    private func readExactly(_ n: Int) throws -> [UInt8] {
        while buffer.count < n {
            guard let more = try readSome() else { throw RawHTTPError("connection closed inside a body") }
            buffer += more
        }
        let out = Array(buffer[..<n])
        buffer.removeFirst(n)
        return out
    }

    /// nil at EOF.
    private func readSome() throws -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return nil }
        guard n > 0 else { throw RawHTTPError("recv: errno \(errno) (timeout?)") }
        return Array(chunk[..<n])
    }

    private func firstRange(of needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] && Array(hay[i..<(i + needle.count)]) == needle {
            return i
        }
        return nil
    }
}

enum HTTP {
    /// One request on a new connection.
    static func request(port: Int, _ method: String, _ path: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> HTTPReply {
        try RawHTTPConnection(port: port).request(method, path, headers: headers + [("Connection", "close")], body: body)
    }

    static func get(port: Int, _ path: String) throws -> HTTPReply { try request(port: port, "GET", path) }
}
