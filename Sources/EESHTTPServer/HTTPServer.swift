import CMicroHTTPD
import EESCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// An HTTP/1.1 server on libmicrohttpd: a pool of epoll threads, keep-alive, timeouts and limits
/// from MHD; request bodies are collected here and handed to an `HTTPHandler` whole.
public final class HTTPServer: Sendable {
    public let config: HTTPServerConfig
    private let context: ServerContext
    /// The MHD daemon pointer as a bit pattern (0 = not running); OpaquePointer is not Sendable.
    private let daemon = Mutex<Int>(0)
    private let boundPort = Atomic<Int>(0)

    public init(config: HTTPServerConfig, handler: any HTTPHandler) {
        self.config = config
        self.context = ServerContext(handler: handler, bodyBytesMax: config.bodyBytesMax)
    }

    /// The port actually listened on (useful with port 0).
    public var port: Int { boundPort.load(ordering: .relaxed) }
    /// Requests started and not yet completed.
    public var inFlight: Int { context.inFlight.load(ordering: .relaxed) }

    public func start() throws(ConfigError) {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(config.port).bigEndian)
        guard inet_pton(AF_INET, config.host == "localhost" ? "127.0.0.1" : config.host, &addr.sin_addr) == 1 else {
            throw ConfigError("listen host '\(config.host)' must be an IPv4 address")
        }
        let ctx = Unmanaged.passUnretained(context).toOpaque()
        let started = withUnsafeMutablePointer(to: &addr) { ap -> OpaquePointer? in
            ap.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                var options = [
                    MHD_OptionItem(option: .THREAD_POOL_SIZE, value: config.threads, ptr_value: nil),
                    MHD_OptionItem(option: .CONNECTION_LIMIT, value: config.connectionsMax, ptr_value: nil),
                    MHD_OptionItem(option: .CONNECTION_TIMEOUT, value: config.connectionTimeoutSeconds, ptr_value: nil),
                    MHD_OptionItem(option: .SOCK_ADDR, value: 0, ptr_value: UnsafeMutableRawPointer(sa)),
                    MHD_OptionItem(option: .NOTIFY_COMPLETED,
                                   value: Int(bitPattern: unsafeBitCast(requestCompleted, to: UnsafeMutableRawPointer.self)),
                                   ptr_value: ctx),
                    MHD_OptionItem(option: .END, value: 0, ptr_value: nil),
                ]
                let flags = MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue | MHD_USE_ITC.rawValue
                return options.withUnsafeMutableBufferPointer { opts in
                    cmhd_start_daemon(flags, UInt16(config.port), accessHandler, ctx, opts.baseAddress)
                }
            }
        }
        guard let d = started else {
            throw ConfigError("cannot listen on \(config.host):\(config.port) (in use or not permitted)")
        }
        boundPort.store(Int(cmhd_bound_port(d)), ordering: .relaxed)
        daemon.withLock { $0 = Int(bitPattern: d) }
    }

    /// Every response from now on carries `Connection: close`, so keep-alive clients move to
    /// another node (used while draining).
    public func closeConnectionsAfterResponse() { context.draining.store(true, ordering: .relaxed) }

    /// Stops accepting new connections; requests on open ones still complete.
    public func quiesce() {
        daemon.withLock { bits in
            if let d = OpaquePointer(bitPattern: bits) {
                let fd = MHD_quiesce_daemon(d)
                if fd >= 0 { close(fd) }
            }
        }
    }

    /// Closes everything; in-flight requests are cut. Call after `quiesce` and a bounded wait.
    public func stop() {
        daemon.withLock { bits in
            if let d = OpaquePointer(bitPattern: bits) { MHD_stop_daemon(d) }
            bits = 0
        }
    }
}

/// State shared with the C callbacks (passed as their closure pointer; the server keeps it alive).
final class ServerContext: Sendable {
    let handler: any HTTPHandler
    let bodyBytesMax: Int
    let inFlight = Atomic<Int>(0)
    let draining = Atomic<Bool>(false)

    init(handler: any HTTPHandler, bodyBytesMax: Int) {
        self.handler = handler
        self.bodyBytesMax = bodyBytesMax
    }
}

/// Per-request state, owned by the one MHD thread serving the connection.
final class RequestState {
    let method: String
    let path: String
    let headers: [String: String]
    var body: [UInt8] = []
    var tooLarge = false

    init(method: String, path: String, headers: [String: String]) {
        self.method = method
        self.path = path
        self.headers = headers
    }
}

private let collectHeader: MHD_KeyValueIterator = { cls, _, key, value in
    guard let cls, let key, let value else { return .YES }
    let box = Unmanaged<HeaderBox>.fromOpaque(cls).takeUnretainedValue()
    box.headers[String(cString: key).lowercased()] = String(cString: value)
    return .YES
}

final class HeaderBox { var headers: [String: String] = [:] }

private let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadSize, conCls in
    guard let cls, let connection, let conCls, let uploadSize else { return .NO }
    let ctx = Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue()
    if conCls.pointee == nil {
        // First call: headers only.
        let box = HeaderBox()
        let boxPtr = Unmanaged.passUnretained(box).toOpaque()
        _ = MHD_get_connection_values(connection, .HEADER_KIND, collectHeader, boxPtr)
        let m = method.map { String(cString: $0) } ?? ""
        let p = url.map { String(cString: $0) } ?? "/"
        ctx.inFlight.add(1, ordering: .relaxed)
        let state = RequestState(method: m, path: p, headers: box.headers)
        conCls.pointee = Unmanaged.passRetained(state).toOpaque()
        if let early = ctx.handler.preflight(method: m, path: p, headers: box.headers) {
            return send(early, connection, ctx)
        }
        if let len = box.headers["content-length"].flatMap(Int.init), len > 0 {
            state.body.reserveCapacity(min(len, ctx.bodyBytesMax) + 64)
        }
        return .YES
    }
    let state = Unmanaged<RequestState>.fromOpaque(conCls.pointee!).takeUnretainedValue()
    let n = uploadSize.pointee
    if n > 0 {
        if !state.tooLarge, let data = uploadData {
            if state.body.count + n > ctx.bodyBytesMax {
                state.tooLarge = true
                state.body = []
            } else {
                state.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
            }
        }
        uploadSize.pointee = 0
        return .YES
    }
    let request = HTTPRequest(method: state.method, path: state.path, headers: state.headers, body: state.body)
    state.body = []
    return send(ctx.handler.handle(request, bodyTooLarge: state.tooLarge), connection, ctx)
}

private func send(_ response: HTTPResponse, _ connection: OpaquePointer, _ ctx: ServerContext) -> MHD_Result {
    var body = response.body
    let r = body.withUnsafeMutableBytes { b in
        MHD_create_response_from_buffer(b.count, b.baseAddress, .RESPMEM_MUST_COPY)
    }
    guard let r else { return .NO }
    for (name, value) in response.headers { _ = MHD_add_response_header(r, name, value) }
    if ctx.draining.load(ordering: .relaxed) { _ = MHD_add_response_header(r, "Connection", "close") }
    let ret = MHD_queue_response(connection, UInt32(response.status), r)
    MHD_destroy_response(r)
    return ret
}

private let requestCompleted: MHD_RequestCompletedCallback = { cls, _, conCls, _ in
    guard let conCls, let p = conCls.pointee else { return }
    Unmanaged<RequestState>.fromOpaque(p).release()
    conCls.pointee = nil
    if let cls { Unmanaged<ServerContext>.fromOpaque(cls).takeUnretainedValue().inFlight.subtract(1, ordering: .relaxed) }
}
