import EESCore
#if canImport(Glibc)
import Glibc
#endif

/// One blocking HTTP/1.1 connection to one endpoint, reused across requests (keep-alive) and
/// reopened when the server closed it. Used by one thread at a time: it is deliberately not
/// `Sendable`. Every wait is bounded: the connect by `connectTimeoutMs`, each exchange by
/// `requestTimeoutMs`; responses are bounded in size. Requests go out one at a time (no pipelining).
public final class HTTPConnection {
    public let endpoint: HTTPEndpoint
    public let config: HTTPClientConfig
    /// TCP connections opened so far (1 for any number of requests while keep-alive holds).
    public private(set) var connectionsOpened = 0
    /// Requests written to a socket so far, including a resend after a stale keep-alive connection.
    public private(set) var requestsSent = 0

    private var fd: Int32 = -1
    /// Set once any response byte arrived in the current exchange (then a failure is not a stale
    /// connection, and the request is not silently resent).
    private var receivedAny = false
    private var outgoing: [UInt8] = []
    private var incoming: [UInt8] = []
    private let scratch: UnsafeMutableRawBufferPointer
    private let time = SystemTime()

    private static let scratchBytes = 64 << 10

    public init(endpoint: HTTPEndpoint, config: HTTPClientConfig = HTTPClientConfig()) {
        self.endpoint = endpoint
        self.config = config.validated()
        scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: HTTPConnection.scratchBytes, alignment: 16)
    }

    deinit {
        closeSocket()
        scratch.deallocate()
    }

    /// Sends one request and reads its whole response. `path` is appended to the endpoint's base
    /// path; `Host` and `Content-Length` are added here. Throws on any network failure, timeout,
    /// malformed or oversized response; HTTP error statuses are returned, not thrown.
    public func request(method: String, path: String, headers: [(String, String)] = [],
                        body: [UInt8] = []) throws(HTTPClientError) -> HTTPClientResponse {
        try buildRequest(method: method, path: path, headers: headers, body: body)
        let deadlineNs = time.monotonicNs() + UInt64(config.requestTimeoutMs) * 1_000_000
        if fd >= 0 && !isIdleAndOpen() { closeSocket() }
        let reused = fd >= 0
        do throws(HTTPClientError) {
            return try exchange(isHead: method == "HEAD", deadlineNs: deadlineNs)
        } catch where reused && !receivedAny && config.retryOnStaleConnection && (error.code == .closed || error.code == .io) {
            // The server closed the idle connection as we wrote to it: one resend on a new one.
            return try exchange(isHead: method == "HEAD", deadlineNs: deadlineNs)
        }
    }

    /// Closes the connection now (the next request opens a new one).
    public func close() { closeSocket() }

    // MARK: exchange

    private func exchange(isHead: Bool, deadlineNs: UInt64) throws(HTTPClientError) -> HTTPClientResponse {
        receivedAny = false
        do throws(HTTPClientError) {
            if fd < 0 { try open(deadlineNs: deadlineNs) }
            try sendAll(deadlineNs: deadlineNs)
            requestsSent += 1
            return try receive(isHead: isHead, deadlineNs: deadlineNs)
        } catch {
            closeSocket()   // the connection's state is unknown: never reuse it
            throw error
        }
    }

    private func buildRequest(method: String, path: String, headers: [(String, String)], body: [UInt8]) throws(HTTPClientError) {
        func clean(_ s: String) -> Bool { !s.utf8.contains(13) && !s.utf8.contains(10) }
        guard clean(method), clean(path), !method.contains(" "), !path.contains(" "),
              headers.allSatisfy({ clean($0.0) && clean($0.1) && !$0.0.contains(":") }) else {
            throw HTTPClientError(.invalidRequest, "CR, LF or a misplaced space or colon in the request line or a header")
        }
        outgoing.removeAll(keepingCapacity: true)
        outgoing.append(contentsOf: method.utf8)
        outgoing.append(32)
        outgoing.append(contentsOf: endpoint.basePath.utf8)
        outgoing.append(contentsOf: (path.hasPrefix("/") ? path : "/" + path).utf8)
        outgoing.append(contentsOf: " HTTP/1.1\r\nHost: ".utf8)
        outgoing.append(contentsOf: endpoint.hostHeader.utf8)
        if !body.isEmpty || method == "POST" || method == "PUT" {
            outgoing.append(contentsOf: "\r\nContent-Length: ".utf8)
            outgoing.append(contentsOf: String(body.count).utf8)
        }
        outgoing.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            outgoing.append(contentsOf: name.utf8)
            outgoing.append(contentsOf: ": ".utf8)
            outgoing.append(contentsOf: value.utf8)
            outgoing.append(contentsOf: "\r\n".utf8)
        }
        outgoing.append(contentsOf: "\r\n".utf8)
        outgoing.append(contentsOf: body)
    }

    private func receive(isHead: Bool, deadlineNs: UInt64) throws(HTTPClientError) -> HTTPClientResponse {
        incoming.removeAll(keepingCapacity: true)
        var parser = ResponseParser(headBytesMax: config.responseHeadBytesMax, bodyBytesMax: config.responseBodyBytesMax, isHead: isHead)
        var eof = false
        while true {
            if try parser.advance(incoming, eof: eof), let end = parser.end {
                if (100..<200).contains(parser.status) {
                    // An interim response (100 Continue): drop it and read on for the final one.
                    incoming.removeFirst(end)
                    parser = ResponseParser(headBytesMax: config.responseHeadBytesMax, bodyBytesMax: config.responseBodyBytesMax, isHead: isHead)
                    continue
                }
                let response = HTTPClientResponse(status: parser.status, headers: parser.headers, body: parser.body(incoming))
                // Bytes past the response, or a close the server asked for: the connection is done.
                if parser.mustClose || eof || end != incoming.count { closeSocket() }
                return response
            }
            guard !eof else { throw HTTPClientError(.closed, "connection closed before the response was complete") }
            eof = try readSome(deadlineNs: deadlineNs)
        }
    }

    // MARK: socket

    private func open(deadlineNs: UInt64) throws(HTTPClientError) {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue | SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw HTTPClientError(.io, "socket() failed (errno \(errno))") }
        var one: Int32 = 1
        // Requests are written whole in one send: Nagle would only add a round trip of delay.
        _ = setsockopt(s, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(endpoint.port).bigEndian)
        address.sin_addr.s_addr = endpoint.ipv4
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            guard errno == EINPROGRESS else {
                let e = errno
                Glibc.close(s)
                throw HTTPClientError(.connect, "connect to \(endpoint.host):\(endpoint.port) failed (errno \(e))")
            }
            let connectDeadline = min(deadlineNs, time.monotonicNs() + UInt64(config.connectTimeoutMs) * 1_000_000)
            do throws(HTTPClientError) {
                guard try wait(s, events: Int16(POLLOUT), deadlineNs: connectDeadline) else {
                    throw HTTPClientError(.timeout, "connect to \(endpoint.host):\(endpoint.port) timed out")
                }
            } catch {
                Glibc.close(s)
                throw error
            }
            var soError: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            _ = getsockopt(s, SOL_SOCKET, SO_ERROR, &soError, &length)
            guard soError == 0 else {
                Glibc.close(s)
                throw HTTPClientError(.connect, "connect to \(endpoint.host):\(endpoint.port) failed (errno \(soError))")
            }
        }
        fd = s
        connectionsOpened += 1
    }

    private func sendAll(deadlineNs: UInt64) throws(HTTPClientError) {
        var offset = 0
        while offset < outgoing.count {
            let n = outgoing.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                offset += n
                continue
            }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK {
                guard try wait(fd, events: Int16(POLLOUT), deadlineNs: deadlineNs) else {
                    throw HTTPClientError(.timeout, "sending the request timed out")
                }
                continue
            }
            if e == EPIPE || e == ECONNRESET { throw HTTPClientError(.closed, "connection closed while sending") }
            throw HTTPClientError(.io, "send failed (errno \(e))")
        }
    }

    /// Reads what is available (waiting until the deadline); true at end of stream. Waits first:
    /// a response is rarely there yet, and a recv that says EAGAIN is a wasted system call.
    private func readSome(deadlineNs: UInt64) throws(HTTPClientError) -> Bool {
        guard try wait(fd, events: Int16(POLLIN), deadlineNs: deadlineNs) else {
            throw HTTPClientError(.timeout, "no complete response within \(config.requestTimeoutMs) ms")
        }
        while true {
            let n = recv(fd, scratch.baseAddress, scratch.count, 0)
            if n > 0 {
                receivedAny = true
                incoming.append(contentsOf: UnsafeRawBufferPointer(rebasing: scratch[0..<n]))
                return false
            }
            if n == 0 { return true }
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK {
                guard try wait(fd, events: Int16(POLLIN), deadlineNs: deadlineNs) else {
                    throw HTTPClientError(.timeout, "no complete response within \(config.requestTimeoutMs) ms")
                }
                continue
            }
            if e == ECONNRESET { throw HTTPClientError(.closed, "connection reset while reading") }
            throw HTTPClientError(.io, "recv failed (errno \(e))")
        }
    }

    /// Waits until `fd` is ready for `events`; false when the deadline passed first.
    private func wait(_ fd: Int32, events: Int16, deadlineNs: UInt64) throws(HTTPClientError) -> Bool {
        while true {
            let now = time.monotonicNs()
            guard now < deadlineNs else { return false }
            // Round up so a sub-millisecond remainder still waits rather than spinning.
            let ms = Int32(min(UInt64(Int32.max), (deadlineNs - now + 999_999) / 1_000_000))
            var p = pollfd(fd: fd, events: events, revents: 0)
            let r = poll(&p, 1, ms)
            if r > 0 { return true }   // ready, or an error/hang-up the next call will report
            if r == 0 { continue }     // re-check the deadline
            if errno == EINTR { continue }
            throw HTTPClientError(.io, "poll failed (errno \(errno))")
        }
    }

    /// An idle keep-alive connection has nothing to read; readable means the server closed it
    /// (or sent bytes nobody asked for): either way it cannot carry the next request.
    private func isIdleAndOpen() -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 0
    }

    private func closeSocket() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }
}
