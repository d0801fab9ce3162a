/// A request as the handler sees it: headers with lower-cased names, the whole body read.
public struct HTTPRequest: Sendable {
    public let method: String
    public let path: String
    public let headers: [String: String]
    public var body: [UInt8]

    public init(method: String, path: String, headers: [String: String], body: [UInt8]) {
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body
    }

    public func header(_ lowerCaseName: String) -> String? { headers[lowerCaseName] }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }

    public static func text(_ status: Int, _ text: String, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: Array(text.utf8))
    }
}

/// The application behind the server. Both calls run on the server's worker threads and may block.
public protocol HTTPHandler: Sendable {
    /// Called once the headers are in, before the body is read: a response refuses the request
    /// early (unknown route, wrong content type, declared length over the limit); nil reads on.
    func preflight(method: String, path: String, headers: [String: String]) -> HTTPResponse?
    /// The response for a complete request. `bodyTooLarge` is set when the body passed
    /// `bodyBytesMax` while being read (the excess was discarded, not buffered).
    func handle(_ request: HTTPRequest, bodyTooLarge: Bool) -> HTTPResponse
}

/// Server limits; every one is a bound on memory, threads or time.
public struct HTTPServerConfig: Sendable, Equatable {
    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// Worker threads; each serves many connections (epoll) and runs handlers on them.
    public var threads: Int = 4
    /// Open connections at most; further ones are refused.
    public var connectionsMax: Int = 1024
    /// Idle keep-alive connections are closed after this many seconds.
    public var connectionTimeoutSeconds: Int = 30
    /// Bodies are buffered up to this many bytes; the rest is discarded and the handler told.
    public var bodyBytesMax: Int = 1 << 20

    public init() {}
}
