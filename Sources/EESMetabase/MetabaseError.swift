/// Why provisioning failed. `description` names the request (method and URL, which hold only
/// ids) and the HTTP status, never a password, API key or session token: the message part is
/// scrubbed of every secret the client holds before it is stored here.
public struct MetabaseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A closed set, for exit decisions and tests.
    public enum Code: String, Sendable, CaseIterable {
        /// A flag or URL is unusable (caught before any request).
        case invalidConfiguration = "invalid_configuration"
        /// Metabase rejected the credentials (HTTP 401, or 403 where a login was expected).
        case unauthorized
        /// Metabase answered with an unexpected status.
        case httpStatus = "http_status"
        /// No answer: connect refused, timeout, connection closed (after the retries).
        case transport
        /// The answer is not the JSON shape the documented API returns.
        case unexpectedResponse = "unexpected_response"
        /// Metabase did not report healthy within the wait.
        case notReady = "not_ready"
        /// The instance is new and only an API key was given (no user to create).
        case setupNeedsUser = "setup_needs_user"
    }

    public let code: Code
    public let message: String
    /// The HTTP status when one was received.
    public let status: Int?

    public init(_ code: Code, _ message: String, status: Int? = nil) {
        self.code = code
        self.message = message
        self.status = status
    }

    public var description: String { message }
}

/// Removes secrets from text that came from a server or a lower layer before it goes into an
/// error: each secret is replaced by `***`.
struct SecretScrubber: Sendable {
    private var secrets: [String]

    init(_ secrets: [String]) { self.secrets = secrets.filter { $0.utf8.count >= 3 } }

    mutating func add(_ secret: String) { if secret.utf8.count >= 3 { secrets.append(secret) } }

    func scrub(_ text: String) -> String {
        var out = text
        for s in secrets { out = out.replacing(s, with: "***") }
        return out
    }
}
