/// Why an HTTP exchange failed. `description` names the kind and a short reason, never a header
/// value or body (they may carry API keys or payloads).
public struct HTTPClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A closed set, so callers can count failures by kind with bounded labels.
    public enum Code: String, Sendable, CaseIterable {
        /// The URL is not `http://host[:port][/path]`.
        case invalidURL = "invalid_url"
        /// The request itself is unfit to send (a header with CR or LF in it).
        case invalidRequest = "invalid_request"
        /// The host name did not resolve to an IPv4 address.
        case resolve
        /// The TCP connection was refused, unreachable or failed.
        case connect
        /// A connect or the whole exchange took longer than its limit.
        case timeout
        /// The peer closed or reset the connection before the response was complete.
        case closed
        /// Any other socket error.
        case io
        /// The response is not HTTP/1.x as this client reads it.
        case malformedResponse = "malformed_response"
        /// The response head or body is over its limit.
        case responseTooLarge = "response_too_large"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
