import EESCore
import EESHTTPClient
import EESHTTPServer
import Foundation
import Synchronization
import Testing

/// The simulator's HTTP client against real peers: the project's own libmicrohttpd server on an
/// ephemeral port, and raw loopback sockets for what that server never does (chunked bodies,
/// silence).
@Suite struct HTTPClientTests {
    /// Echoes POST bodies, answers `/big` with 2 MiB and `/busy` with 503 + Retry-After.
    struct TestHandler: HTTPHandler {
        func preflight(method: String, path: String, headers: [String: String]) -> HTTPResponse? { nil }
        func handle(_ request: HTTPRequest, bodyTooLarge: Bool) -> HTTPResponse {
            switch request.path {
            case "/big": return HTTPResponse(status: 200, body: Array(repeating: 0x61, count: 2 << 20))
            case "/busy": return HTTPResponse(status: 503, headers: [("Retry-After", "3")], body: Array("{}".utf8))
            default:
                return HTTPResponse(status: 200, headers: [("x-seen-device", request.header("x-device-id") ?? "-")], body: request.body)
            }
        }
    }

    func server(idleTimeoutSeconds: Int = 30) throws -> HTTPServer {
        var config = HTTPServerConfig()
        config.port = 0
        config.threads = 1
        config.connectionTimeoutSeconds = idleTimeoutSeconds
        config.bodyBytesMax = 4 << 20
        let s = HTTPServer(config: config, handler: TestHandler())
        try s.start()
        return s
    }

    func endpoint(_ port: Int) throws -> HTTPEndpoint { try HTTPEndpoint(url: "http://127.0.0.1:\(port)") }

    @Test func keepAliveReusesOneConnection() throws {
        let s = try server()
        defer { s.stop() }
        let c = HTTPConnection(endpoint: try endpoint(s.port))
        for i in 0..<20 {
            let body = Array("request \(i)".utf8)
            let r = try c.request(method: "POST", path: "/echo", headers: [("x-device-id", "d\(i)")], body: body)
            #expect(r.status == 200)
            #expect(r.body == body)
            #expect(r.header("x-seen-device") == "d\(i)")
        }
        #expect(c.connectionsOpened == 1)
        #expect(c.requestsSent == 20)
    }

    @Test func reconnectsAfterTheServerClosedAnIdleConnection() throws {
        let s = try server(idleTimeoutSeconds: 1)
        defer { s.stop() }
        let c = HTTPConnection(endpoint: try endpoint(s.port))
        #expect(try c.request(method: "POST", path: "/echo", body: [1]).status == 200)
        sleepMs(2_200)   // past MHD's idle timeout: the server has closed the connection
        #expect(try c.request(method: "POST", path: "/echo", body: [2]).body == [2])
        #expect(c.connectionsOpened == 2)
    }

    @Test func retryAfterIsRead() throws {
        let s = try server()
        defer { s.stop() }
        let r = try HTTPConnection(endpoint: try endpoint(s.port)).request(method: "GET", path: "/busy")
        #expect(r.status == 503)
        #expect(r.retryAfterSeconds == 3)
    }

    @Test func aResponseOverTheLimitIsRefusedAndTheConnectionDropped() throws {
        let s = try server()
        defer { s.stop() }
        var config = HTTPClientConfig()
        config.responseBodyBytesMax = 1 << 20
        let c = HTTPConnection(endpoint: try endpoint(s.port), config: config)
        #expect(throws: HTTPClientError.self) { try c.request(method: "GET", path: "/big") }
        do { _ = try c.request(method: "GET", path: "/big") } catch { #expect(error.code == .responseTooLarge) }
        // The connection is usable again (a fresh socket: the unread rest is never parsed).
        #expect(try c.request(method: "POST", path: "/echo", body: [7]).body == [7])
        #expect(c.connectionsOpened == 3)
    }

    @Test func aSilentServerTimesOut() throws {
        // A listening socket that never accepts: the kernel completes the connect, nobody answers.
        let (fd, port) = try loopbackSocket()
        try #require(listen(fd, 8) == 0)
        defer { close(fd) }
        var config = HTTPClientConfig()
        config.requestTimeoutMs = 300
        let c = HTTPConnection(endpoint: try endpoint(port), config: config)
        let start = SystemTime().monotonicNs()
        do {
            _ = try c.request(method: "POST", path: "/ingest", body: [1, 2, 3])
            Issue.record("a silent server answered")
        } catch {
            #expect(error.code == .timeout)
        }
        let elapsedMs = (SystemTime().monotonicNs() - start) / 1_000_000
        #expect(elapsedMs >= 290 && elapsedMs < 2_000)
    }

    @Test func aRefusedConnectIsAConnectError() throws {
        let c = HTTPConnection(endpoint: try endpoint(try unusedPort()))
        do {
            _ = try c.request(method: "GET", path: "/")
            Issue.record("connected to a port nobody listens on")
        } catch {
            #expect(error.code == .connect)
        }
    }

    @Test func chunkedBodiesAreDecodedAndTheConnectionKept() throws {
        let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n7\r\n, world\r\n0\r\nx-trailer: t\r\n\r\n"
        let plain = "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok"
        let peer = try ScriptedPeer(responses: [chunked, plain])
        let c = HTTPConnection(endpoint: try endpoint(peer.port))
        let first = try c.request(method: "GET", path: "/a")
        #expect(first.status == 200)
        #expect(String(decoding: first.body, as: UTF8.self) == "hello, world")
        let second = try c.request(method: "POST", path: "/b", body: Array("xyz".utf8))
        #expect(second.status == 201)
        #expect(second.body == Array("ok".utf8))
        #expect(c.connectionsOpened == 1)
        #expect(peer.requests() == ["GET /a HTTP/1.1", "POST /b HTTP/1.1"])
    }

    @Test func aBodyFramedByCloseEndsTheConnection() throws {
        let peer = try ScriptedPeer(responses: ["HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil close"], closeAfterLast: true)
        let c = HTTPConnection(endpoint: try endpoint(peer.port))
        #expect(try c.request(method: "GET", path: "/").body == Array("until close".utf8))
    }

    @Test func badURLsAndHeadersAreRefused() throws {
        #expect(throws: HTTPClientError.self) { try HTTPEndpoint(url: "https://127.0.0.1:1") }
        #expect(throws: HTTPClientError.self) { try HTTPEndpoint(url: "127.0.0.1:8080") }
        #expect(throws: HTTPClientError.self) { try HTTPEndpoint(url: "http://127.0.0.1:0") }
        let e = try HTTPEndpoint(url: "http://localhost:8080/base/")
        #expect(e.basePath == "/base" && e.port == 8080 && e.description == "http://localhost:8080/base")
        let c = HTTPConnection(endpoint: e)
        do {
            _ = try c.request(method: "GET", path: "/", headers: [("x-api-key", "k\r\nInjected: 1")])
            Issue.record("a header with CRLF was sent")
        } catch {
            #expect(error.code == .invalidRequest)
        }
    }
}

/// A loopback peer that accepts one connection and answers each request (head plus
/// Content-Length body) with the next scripted response, recording request lines.
final class ScriptedPeer: Sendable {
    let port: Int
    private let seen = Mutex<[String]>([])

    init(responses: [String], closeAfterLast: Bool = false) throws {
        let (fd, port) = try loopbackSocket()
        try #require(listen(fd, 4) == 0)
        self.port = port
        let thread = Thread { [self] in
            defer { close(fd) }
            let client = accept(fd, nil, nil)
            guard client >= 0 else { return }
            defer { close(client) }
            for response in responses {
                guard let line = ScriptedPeer.readRequest(client) else { return }
                seen.withLock { $0.append(line) }
                _ = Array(response.utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            }
            if !closeAfterLast { _ = ScriptedPeer.readRequest(client) }   // hold the connection until the client leaves
        }
        thread.start()
    }

    /// Request lines seen so far (each is recorded before its response is sent).
    func requests() -> [String] { seen.withLock { $0 } }

    /// Reads one request; returns its request line, nil when the client closed.
    private static func readRequest(_ fd: Int32) -> String? {
        var head = [UInt8]()
        var byte: UInt8 = 0
        while !head.reversed().starts(with: [10, 13, 10, 13]) && head.count < 65_536 {
            guard recv(fd, &byte, 1, 0) == 1 else { return nil }
            head.append(byte)
        }
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n")
        var remaining = lines.first { $0.lowercased().hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        while remaining > 0, recv(fd, &byte, 1, 0) == 1 { remaining -= 1 }
        return lines.first.map(String.init)
    }
}
