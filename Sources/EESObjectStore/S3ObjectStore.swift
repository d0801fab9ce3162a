import EESCore
import EESCrypto
import Glibc

/// The `ObjectStore` port on an S3-compatible bucket, through libcurl with its built-in SigV4.
///
/// Calls block the calling thread (the flusher's and processor's own threads) for at most
/// `maxAttempts` × (`requestTimeoutMs` + backoff). Network errors, 5xx and 429 are retried with
/// capped exponential backoff and full jitter; other 4xx are not. Safe to share between threads.
/// Keys must satisfy `ObjectKey.validate` (the same rules as `FileObjectStore`).
public final class S3ObjectStore: ObjectStore, Sendable {
    /// The configuration this store was made with (its description redacts the secret).
    public let config: S3Config
    private let client: CurlClient
    /// `scheme://host[:port]` for path style; `scheme://bucket.host[:port]` for virtual-host style.
    private let origin: String
    /// `/bucket` for path style, empty for virtual-host style.
    private let bucketPath: String
    /// The bucket itself (create, list): `origin/bucket` or `bucket-origin/`.
    private let bucketURL: String
    /// `s3://bucket at endpoint`, the context every error message starts from.
    private let location: String

    /// Checks `config` (see `S3Config.validate()`); contacts nothing.
    public init(config: S3Config) throws(ObjectStoreConfigError) {
        try config.validate()
        guard let parts = config.endpointParts else { preconditionFailure("validate() accepted a bad endpoint") }
        if !config.pathStyle && (parts.host.hasPrefix("[") || parts.host.allSatisfy({ $0.isNumber || $0 == "." })) {
            throw ObjectStoreConfigError("S3 virtual-host style (path_style=false) needs a DNS name as endpoint host, not '\(parts.host)'")
        }
        let port = parts.port.map { ":\($0)" } ?? ""
        self.config = config
        self.origin = config.pathStyle ? "\(parts.scheme)://\(parts.host)\(port)"
                                       : "\(parts.scheme)://\(config.bucket).\(parts.host)\(port)"
        self.bucketPath = config.pathStyle ? "/\(config.bucket)" : ""
        self.bucketURL = config.pathStyle ? "\(origin)/\(config.bucket)" : "\(origin)/"
        self.location = "s3://\(config.bucket) at \(config.endpoint)"
        self.client = CurlClient(settings: CurlSettings(
            connectTimeoutMs: config.connectTimeoutMs, requestTimeoutMs: config.requestTimeoutMs,
            responseBytesMax: config.responseBytesMax, username: config.accessKeyId,
            password: config.secretAccessKey, awsSigV4: "aws:amz:\(config.region):s3"))
    }

    /// The URL of `key` (already validated), encoded as it is sent and signed.
    func objectURL(_ key: String) -> String { "\(origin)\(bucketPath)/\(ObjectKey.s3PathEncoded(key))" }

    /// The ListObjectsV2 URL. SigV4 wants the query in canonical form (parameters sorted by
    /// name, values strictly encoded) and curl 7.88 signs the query exactly as given, so it is
    /// built sorted here.
    func listURL(prefix: String, startAfter: String?, continuationToken: String?, maxKeys: Int) -> String {
        var params: [(String, String)] = [("encoding-type", "url"), ("list-type", "2"), ("max-keys", String(maxKeys))]
        if let continuationToken { params.append(("continuation-token", continuationToken)) }
        if !prefix.isEmpty { params.append(("prefix", prefix)) }
        if let startAfter, !startAfter.isEmpty { params.append(("start-after", startAfter)) }
        params.sort { $0.0.utf8Precedes($1.0) }
        let query = params.map { "\($0.0)=\(ObjectKey.s3QueryEncoded($0.1))" }.joined(separator: "&")
        return "\(bucketURL)?\(query)"
    }

    public func put(key: String, bytes: [UInt8]) throws(ObjectStoreError) {
        try ObjectKey.validate(key)
        let digest = Crypto.sha256(bytes)
        // x-amz-content-sha256 is signed by curl and checked by S3 against the body;
        // x-amz-checksum-sha256 additionally makes S3 store and verify an integrity checksum.
        // No "Expect:" line to suppress 100-continue: curl 7.88 would sign that empty header
        // without sending it, and every signature would fail.
        let request = HTTPRequest(method: .put, url: objectURL(key), headers: [
            "Content-Type: application/octet-stream",
            "x-amz-content-sha256: \(Crypto.hex(digest))",
            "x-amz-checksum-sha256: \(Base64.encode(digest))",
        ], body: bytes)
        let response = try send(request, "PUT", key)
        guard (200..<300).contains(response.status) else { throw failure(response, "PUT", key) }
    }

    public func get(key: String) throws(ObjectStoreError) -> [UInt8]? {
        try ObjectKey.validate(key)
        let response = try send(HTTPRequest(method: .get, url: objectURL(key), headers: S3ObjectStore.emptyPayloadHeaders),
                                "GET", key)
        if response.status == 404 && S3ListParser.parseError(response.body).code != "NoSuchBucket" { return nil }
        guard response.status == 200 else { throw failure(response, "GET", key) }
        return response.body
    }

    /// A 404 means no object; HEAD responses have no body, so a missing bucket also reads as `nil`
    /// here (`put`, `get` and `list` report it as `.noSuchBucket`).
    public func head(key: String) throws(ObjectStoreError) -> Int? {
        try ObjectKey.validate(key)
        let response = try send(HTTPRequest(method: .head, url: objectURL(key), headers: S3ObjectStore.emptyPayloadHeaders),
                                "HEAD", key)
        if response.status == 404 { return nil }
        guard response.status == 200 else { throw failure(response, "HEAD", key) }
        guard let length = response.contentLength else {
            throw error(.rejected, "HEAD", key, "HTTP 200 without a Content-Length")
        }
        return length
    }

    /// Follows `continuation-token` page by page until `limit` keys or the end; pages hold at most
    /// `listPageKeysMax` keys.
    public func list(prefix: String, startAfter: String?, limit: Int) throws(ObjectStoreError) -> [String] {
        try ObjectKey.validatePrefix(prefix)
        guard limit > 0 else { return [] }
        var keys: [String] = []
        var token: String?
        // A bound on the loop: every page but the last holds a key unless the server misbehaves.
        let pagesMax = min(limit, Int.max - 1_000) / config.listPageKeysMax + 1_000
        for _ in 0..<pagesMax {
            let maxKeys = min(config.listPageKeysMax, limit - keys.count)
            let url = listURL(prefix: prefix, startAfter: token == nil ? startAfter : nil,
                              continuationToken: token, maxKeys: maxKeys)
            let response = try send(HTTPRequest(method: .get, url: url, headers: S3ObjectStore.emptyPayloadHeaders),
                                    "LIST", prefix)
            guard response.status == 200 else { throw failure(response, "LIST", prefix) }
            let page: S3ListPage
            do {
                page = try S3ListParser.parsePage(response.body)
            } catch {
                throw self.error(.rejected, "LIST", prefix, "unreadable ListObjectsV2 response: \(error.message)")
            }
            keys.append(contentsOf: page.keys.prefix(limit - keys.count))
            guard keys.count < limit, page.isTruncated else { return keys }
            guard let next = page.nextContinuationToken else {
                throw error(.rejected, "LIST", prefix, "truncated ListObjectsV2 page without NextContinuationToken")
            }
            token = next
        }
        throw error(.rejected, "LIST", prefix, "gave up after \(pagesMax) pages")
    }

    /// Creates the bucket when it does not exist (demo and test set-up); `true` when it was created.
    @discardableResult
    public func createBucketIfMissing() throws(ObjectStoreError) -> Bool {
        // us-east-1 is S3's default location and must not be named; every other region must be.
        let body = config.region == "us-east-1" ? [] : Array(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><LocationConstraint>\(config.region)</LocationConstraint></CreateBucketConfiguration>".utf8)
        let request = HTTPRequest(method: .put, url: bucketURL, headers: [
            "Content-Type: application/xml",
            "x-amz-content-sha256: \(Crypto.hex(Crypto.sha256(body)))",
        ], body: body)
        let response = try send(request, "CREATE BUCKET", nil)
        if (200..<300).contains(response.status) { return true }
        if S3ListParser.parseError(response.body).code == "BucketAlreadyOwnedByYou" { return false }
        throw failure(response, "CREATE BUCKET", nil)
    }

    /// curl 7.88 does not add x-amz-content-sha256, which S3 requires on every signed request;
    /// for bodiless requests it is the hash of the empty string.
    private static let emptyPayloadHeaders = ["x-amz-content-sha256: \(Crypto.hex(Crypto.sha256([UInt8]())))"]

    // MARK: retries and errors

    /// Sends `request`, retrying network errors, 5xx and 429 up to `maxAttempts` times with
    /// full-jitter backoff; any other HTTP response is returned for the caller to judge.
    private func send(_ request: HTTPRequest, _ op: String, _ key: String?) throws(ObjectStoreError) -> HTTPResponse {
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            let lastProblem: String
            switch client.perform(request) {
            case .success(let response) where response.status >= 500 || response.status == 429:
                lastProblem = httpSummary(response.status, S3ListParser.parseError(response.body))
            case .success(let response):
                return response
            case .failure(let failure) where failure.bodyTooLarge:
                throw error(.rejected, op, key, "response larger than response_bytes_max (\(config.responseBytesMax) bytes)")
            case .failure(let failure) where !failure.isRetryable:
                throw error(.rejected, op, key, failure.detail)
            case .failure(let failure):
                lastProblem = failure.detail
            }
            guard attempt < config.maxAttempts else {
                throw error(.unavailable, op, key, "\(lastProblem) (gave up after \(attempt) attempt\(attempt == 1 ? "" : "s"))")
            }
            let delayMs = Backoff(baseMs: config.backoffBaseMs, maxMs: config.backoffMaxMs)
                .delayMs(attempt: attempt - 1, using: &generator)
            usleep(useconds_t(delayMs) * 1_000)
            attempt += 1
        }
    }

    /// The error for a response that is not the success the operation expects.
    private func failure(_ response: HTTPResponse, _ op: String, _ key: String?) -> ObjectStoreError {
        let body = S3ListParser.parseError(response.body)
        let summary = httpSummary(response.status, body)
        if body.code == "NoSuchBucket" {
            return ObjectStoreError(.noSuchBucket, redacting("bucket '\(config.bucket)' does not exist at \(config.endpoint) (\(op)\(key.map { " \($0)" } ?? ""): \(summary))"))
        }
        switch response.status {
        case 401, 403: return error(.accessDenied, op, key, summary)
        case 500..., 429: return error(.unavailable, op, key, summary)
        default: return error(.rejected, op, key, summary)
        }
    }

    /// `HTTP 403 SignatureDoesNotMatch: <S3's message>`, one line, bounded.
    private func httpSummary(_ status: Int, _ body: S3ErrorBody) -> String {
        var s = "HTTP \(status)"
        if let code = body.code { s += " \(code)" }
        if let message = body.message, !message.isEmpty {
            s += ": " + String(message.prefix(200)).map { $0.isNewline ? " " : $0 }
        }
        return s
    }

    private func error(_ code: ObjectStoreError.Code, _ op: String, _ key: String?, _ detail: String) -> ObjectStoreError {
        // `key` is the list prefix for LIST.
        let target = key.map { "\(location), \(op == "LIST" ? "prefix" : "key") '\($0)'" } ?? location
        return ObjectStoreError(code, redacting("S3 \(op) \(target): \(detail)"))
    }

    /// Belt and braces: no message leaves this type with the secret in it, whatever a server echoes.
    private func redacting(_ message: String) -> String {
        message.replacing(config.secretAccessKey, with: "<redacted>")
    }
}
