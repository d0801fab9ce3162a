#if canImport(Glibc)
import Glibc
#endif

/// Where requests go: an `http://host[:port][/base]` URL with the host resolved once, up front,
/// to an IPv4 address (so no request ever waits on a resolver). There is no TLS: a TLS endpoint
/// sits behind a terminating proxy.
public struct HTTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// The host as written in the URL (sent in the `Host` header).
    public let host: String
    public let port: Int
    /// The URL's path without a trailing slash ("" for none); request paths are appended to it.
    public let basePath: String
    /// The resolved IPv4 address in network byte order.
    public let ipv4: UInt32

    /// Parses and resolves `url`. Name resolution uses the system resolver once (it may block for
    /// the resolver's own timeout); a literal IPv4 address resolves without any lookup.
    public init(url: String) throws(HTTPClientError) {
        guard url.hasPrefix("http://") else {
            if url.hasPrefix("https://") { throw HTTPClientError(.invalidURL, "https is not supported (no TLS); use http://") }
            throw HTTPClientError(.invalidURL, "the URL must start with http://")
        }
        let rest = url.dropFirst("http://".count)
        let authority = rest.prefix { $0 != "/" }
        var path = String(rest.dropFirst(authority.count))
        while path.hasSuffix("/") { path.removeLast() }
        guard !authority.contains("@") else { throw HTTPClientError(.invalidURL, "credentials in the URL are not supported") }
        var hostPart = authority
        var port = 80
        if let colon = authority.lastIndex(of: ":") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else {
                throw HTTPClientError(.invalidURL, "the port must be 1-65535")
            }
            port = p
            hostPart = authority[..<colon]
        }
        guard !hostPart.isEmpty, hostPart.utf8.count <= 253 else { throw HTTPClientError(.invalidURL, "the URL has no host") }
        host = String(hostPart)
        self.port = port
        basePath = path
        ipv4 = try HTTPEndpoint.resolve(host)
    }

    public var description: String { "http://\(host):\(port)\(basePath)" }

    /// The value of the `Host` header.
    var hostHeader: String { port == 80 ? host : "\(host):\(port)" }

    private static func resolve(_ host: String) throws(HTTPClientError) -> UInt32 {
        var literal = in_addr()
        if inet_pton(AF_INET, host, &literal) == 1 { return literal.s_addr }
        var hints = addrinfo()
        hints.ai_family = AF_INET
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
            throw HTTPClientError(.resolve, "cannot resolve host '\(host)' to an IPv4 address")
        }
        defer { freeaddrinfo(list) }
        guard let sa = first.pointee.ai_addr else { throw HTTPClientError(.resolve, "no address for host '\(host)'") }
        return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_addr.s_addr }
    }
}
