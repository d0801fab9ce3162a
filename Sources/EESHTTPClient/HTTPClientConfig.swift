/// Every limit of one `HTTPConnection`: each wait and each buffer is bounded by one of these.
public struct HTTPClientConfig: Sendable, Equatable {
    /// A TCP connect gives up after this long.
    public var connectTimeoutMs: Int = 2_000
    /// One whole exchange (sending the request and reading the complete response) gives up
    /// after this long; the connection is then closed, since a late response would desynchronise it.
    public var requestTimeoutMs: Int = 10_000
    /// Largest response head (status line and headers).
    public var responseHeadBytesMax: Int = 16 << 10
    /// Largest response body (after de-chunking).
    public var responseBodyBytesMax: Int = 1 << 20
    /// When a request on a reused keep-alive connection fails before any response byte arrives
    /// (the server had closed the idle connection), send it once more on a fresh connection, as
    /// browsers and curl do. Only for requests that are safe to repeat (ingest requests are: the
    /// node deduplicates by event id).
    public var retryOnStaleConnection: Bool = true

    public init() {}

    /// Checks the relationships between the values; a bad value is a programming error here,
    /// since the CLI validates user input into this struct.
    public func validated() -> HTTPClientConfig {
        precondition(connectTimeoutMs > 0 && requestTimeoutMs > 0, "HTTP client timeouts must be positive")
        precondition(responseHeadBytesMax >= 256 && responseBodyBytesMax >= 0, "HTTP client response limits too small")
        return self
    }
}

/// A complete response: status, headers (names lower-cased, in order) and the whole body.
public struct HTTPClientResponse: Sendable {
    public let status: Int
    public let headers: [(name: String, value: String)]
    public let body: [UInt8]

    public init(status: Int, headers: [(name: String, value: String)], body: [UInt8]) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The first header with this name (give it lower-cased).
    public func header(_ lowerCaseName: String) -> String? {
        headers.first { $0.name == lowerCaseName }?.value
    }

    /// `Retry-After` in seconds; the HTTP-date form is not used by this project's servers and
    /// reads as nil (the caller then backs off on its own).
    public var retryAfterSeconds: Int? {
        header("retry-after").flatMap { Int($0.trimmingSpaces) }.flatMap { $0 >= 0 ? $0 : nil }
    }
}

extension String {
    var trimmingSpaces: Substring { self[...].trimmingSpaces }
}
