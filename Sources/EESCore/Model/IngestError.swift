/// Why a request was refused. Each case maps to one HTTP status; `message` names the field at
/// fault and never contains secrets or payload bytes.
public struct IngestError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case invalidRequest = "invalid_request"            // 400
        case unauthorized                                  // 401
        case notFound = "not_found"                        // 404
        case methodNotAllowed = "method_not_allowed"       // 405
        case payloadTooLarge = "payload_too_large"         // 413
        case unsupportedMediaType = "unsupported_media_type" // 415
        case rateLimited = "rate_limited"                  // 429
        case unavailable                                   // 503
    }
    public let code: Code
    public let message: String
    /// Seconds a client should wait before retrying (429/503).
    public let retryAfterSeconds: Int?

    public init(_ code: Code, _ message: String, retryAfterSeconds: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfterSeconds = retryAfterSeconds
    }

    public var status: Int {
        switch code {
        case .invalidRequest: 400
        case .unauthorized: 401
        case .notFound: 404
        case .methodNotAllowed: 405
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .rateLimited: 429
        case .unavailable: 503
        }
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalid(_ message: String) -> IngestError { IngestError(.invalidRequest, message) }
}
