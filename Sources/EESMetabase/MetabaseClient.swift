import EESCore
import EESHTTPClient

/// JSON over one keep-alive HTTP/1.1 connection to Metabase, with the auth header on every call
/// once signed in, bounded retries, and errors that name the request and status but no secret.
///
/// Retries (at most `attemptsMax` attempts, backoff doubling from `backoffBaseMs` to
/// `backoffMaxMs`, or `Retry-After` when given and shorter): GET and PUT on any network error and
/// on 429/502/503/504, since repeating them changes nothing; POST only when the request cannot
/// have been acted on — the TCP connect failed, or Metabase answered 429 or 503 — so a lost
/// response never creates a second card or dashboard.
public final class MetabaseClient {
    public let endpoint: HTTPEndpoint
    private let connection: HTTPConnection
    private let limits: MetabaseLimits
    private var scrubber: SecretScrubber
    private var authHeader: (String, String)?
    private let time = SystemTime()

    public init(url: String, limits: MetabaseLimits, secrets: [String]) throws(MetabaseError) {
        try limits.validate()
        do throws(HTTPClientError) {
            endpoint = try HTTPEndpoint(url: url)
        } catch {
            throw MetabaseError(error.code == .resolve ? .transport : .invalidConfiguration, "Metabase URL: \(error.message)")
        }
        var http = HTTPClientConfig()
        http.connectTimeoutMs = limits.connectTimeoutMs
        http.requestTimeoutMs = limits.requestTimeoutMs
        http.responseBodyBytesMax = limits.responseBodyBytesMax
        connection = HTTPConnection(endpoint: endpoint, config: http)
        self.limits = limits
        scrubber = SecretScrubber(secrets)
    }

    /// Sends `X-Metabase-Session` from now on.
    public func useSession(_ token: String) {
        scrubber.add(token)
        authHeader = ("X-Metabase-Session", token)
    }

    /// Sends `x-api-key` from now on.
    public func useAPIKey(_ key: String) {
        scrubber.add(key)
        authHeader = ("x-api-key", key)
    }

    /// Polls GET /api/health until it says `{"status":"ok"}` (Metabase answers 503 while it
    /// initialises, and refuses connections before that), at most `readyWaitMs`.
    public func waitUntilReady() throws(MetabaseError) {
        let deadline = time.monotonicNs() + UInt64(limits.readyWaitMs) * 1_000_000
        var last = "no answer"
        while true {
            do throws(HTTPClientError) {
                let r = try connection.request(method: "GET", path: "/api/health", headers: [("Accept", "application/json")])
                if r.status == 200, JSON.decode(r.body)?["status"]?.string == "ok" { return }
                last = "HTTP \(r.status)"
            } catch {
                last = scrubber.scrub(error.description)
            }
            guard time.monotonicNs() < deadline else {
                throw MetabaseError(.notReady, "GET \(endpoint)/api/health: Metabase not ready within \(limits.readyWaitMs / 1000) s (last: \(last))")
            }
            sleepMs(limits.readyPollMs)
        }
    }

    /// One call; the body of a 2xx answer as JSON (`.null` when empty). Any other status throws:
    /// 401, and 403 when `forbiddenIsAuth`, as `.unauthorized`.
    public func call(_ method: String, _ path: String, _ body: JSON? = nil, forbiddenIsAuth: Bool = false) throws(MetabaseError) -> JSON {
        let response = try send(method, path, body)
        let what = "\(method) \(endpoint)\(path)"
        guard (200..<300).contains(response.status) else {
            let detail = Self.detail(response.body).map { ": " + scrubber.scrub($0) } ?? ""
            let auth = response.status == 401 || (forbiddenIsAuth && response.status == 403)
            throw MetabaseError(auth ? .unauthorized : .httpStatus, "\(what): HTTP \(response.status)\(detail)", status: response.status)
        }
        if response.body.isEmpty { return .null }
        guard let json = JSON.decode(response.body) else {
            throw MetabaseError(.unexpectedResponse, "\(what): HTTP \(response.status) with a body that is not JSON", status: response.status)
        }
        return json
    }

    private func send(_ method: String, _ path: String, _ body: JSON?) throws(MetabaseError) -> HTTPClientResponse {
        var headers = [("Accept", "application/json")]
        if body != nil { headers.append(("Content-Type", "application/json")) }
        if let authHeader { headers.append(authHeader) }
        let bytes = body?.encoded() ?? []
        let idempotent = method != "POST"
        var attempt = 1
        while true {
            var waitMs = min(limits.backoffMaxMs, limits.backoffBaseMs << min(attempt - 1, 20))
            do throws(HTTPClientError) {
                let r = try connection.request(method: method, path: path, headers: headers, body: bytes)
                let retryable = idempotent ? [429, 502, 503, 504].contains(r.status) : [429, 503].contains(r.status)
                guard retryable, attempt < limits.attemptsMax else { return r }
                if let s = r.retryAfterSeconds { waitMs = min(waitMs, max(s * 1000, limits.backoffBaseMs)) }
            } catch {
                guard idempotent || error.code == .connect, attempt < limits.attemptsMax else {
                    throw MetabaseError(.transport, "\(method) \(endpoint)\(path): \(scrubber.scrub(error.description)) "
                                        + "(after \(attempt) attempt\(attempt == 1 ? "" : "s"))")
                }
            }
            sleepMs(waitMs)
            attempt += 1
        }
    }

    /// A short reason from an error body: Metabase's `message`, its per-field `errors`, or the
    /// first line of a text body (401 answers are the plain text "Unauthenticated"). At most
    /// 300 characters.
    static func detail(_ body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        var text: String
        if let json = JSON.decode(body) {
            if let m = json["message"]?.string {
                text = m
            } else if case .object(let fields)? = json["errors"] {
                text = fields.keys.sorted().map { "\($0): \(fields[$0]?.string ?? "invalid")" }.joined(separator: "; ")
            } else if let s = json.string {
                text = s
            } else {
                return nil
            }
        } else {
            text = String(decoding: body.prefix(600), as: UTF8.self)
            text = String(text.prefix { $0 != "\n" && $0 != "\r" })
        }
        return text.count > 300 ? String(text.prefix(300)) + "…" : (text.isEmpty ? nil : text)
    }
}
