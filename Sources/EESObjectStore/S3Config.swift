/// Everything `S3ObjectStore` needs, with every limit explicit. Build it directly or with
/// `S3Config.parse(url:env:)`; `validate()` checks the values and their relationships.
///
/// `description` and `debugDescription` never show the secret access key.
public struct S3Config: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// Bucket name (S3 rules: 3–63 of `a-z 0-9 . -`, starting and ending with a letter or digit).
    public var bucket: String
    /// Base URL of the S3 API, `http(s)://host[:port]`, no path (for example `http://127.0.0.1:9000`).
    public var endpoint: String
    /// Signing region, for example `us-east-1`.
    public var region: String
    /// Access key id (`AWS_ACCESS_KEY_ID`).
    public var accessKeyId: String
    /// Secret access key (`AWS_SECRET_ACCESS_KEY`); never printed.
    public var secretAccessKey: String
    /// `true`: `endpoint/bucket/key` (MinIO, moto, most S3-compatible stores);
    /// `false`: virtual-host style `bucket.endpoint-host/key` (AWS).
    public var pathStyle: Bool
    /// Limit on establishing a TCP/TLS connection, per attempt.
    public var connectTimeoutMs: Int
    /// Limit on one whole request (connect, send, receive), per attempt.
    public var requestTimeoutMs: Int
    /// Attempts per call, including the first (network errors, 5xx and 429 are retried).
    public var maxAttempts: Int
    /// First retry waits up to this long (full jitter); each further retry doubles it …
    public var backoffBaseMs: Int
    /// … up to this cap.
    public var backoffMaxMs: Int
    /// Largest response body accepted (a GET of a bigger object fails with `.rejected`).
    public var responseBytesMax: Int
    /// `max-keys` of one ListObjectsV2 page (S3 returns at most 1000; smaller forces continuation).
    public var listPageKeysMax: Int

    public static let defaultConnectTimeoutMs = 3_000
    public static let defaultRequestTimeoutMs = 30_000
    public static let defaultMaxAttempts = 5
    public static let defaultBackoffBaseMs = 100
    public static let defaultBackoffMaxMs = 5_000
    public static let defaultResponseBytesMax = 256 * 1024 * 1024
    public static let defaultListPageKeysMax = 1_000

    /// A configuration with the documented defaults for every limit.
    public init(bucket: String, endpoint: String, region: String, accessKeyId: String, secretAccessKey: String,
                pathStyle: Bool = true,
                connectTimeoutMs: Int = S3Config.defaultConnectTimeoutMs,
                requestTimeoutMs: Int = S3Config.defaultRequestTimeoutMs,
                maxAttempts: Int = S3Config.defaultMaxAttempts,
                backoffBaseMs: Int = S3Config.defaultBackoffBaseMs,
                backoffMaxMs: Int = S3Config.defaultBackoffMaxMs,
                responseBytesMax: Int = S3Config.defaultResponseBytesMax,
                listPageKeysMax: Int = S3Config.defaultListPageKeysMax) {
        self.bucket = bucket
        self.endpoint = endpoint
        self.region = region
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.pathStyle = pathStyle
        self.connectTimeoutMs = connectTimeoutMs
        self.requestTimeoutMs = requestTimeoutMs
        self.maxAttempts = maxAttempts
        self.backoffBaseMs = backoffBaseMs
        self.backoffMaxMs = backoffMaxMs
        self.responseBytesMax = responseBytesMax
        self.listPageKeysMax = listPageKeysMax
    }

    public var description: String {
        "S3Config(bucket: \(bucket), endpoint: \(endpoint), region: \(region), accessKeyId: \(accessKeyId), "
            + "secretAccessKey: <redacted>, pathStyle: \(pathStyle), connectTimeoutMs: \(connectTimeoutMs), "
            + "requestTimeoutMs: \(requestTimeoutMs), maxAttempts: \(maxAttempts), backoffBaseMs: \(backoffBaseMs), "
            + "backoffMaxMs: \(backoffMaxMs), responseBytesMax: \(responseBytesMax), listPageKeysMax: \(listPageKeysMax))"
    }
    public var debugDescription: String { description }
    /// `dump()` and reflection see the redacted form too.
    public var customMirror: Mirror { Mirror(self, children: ["description": description]) }

    /// The endpoint split into its parts; `nil` when it is not `http(s)://host[:port][/]`.
    var endpointParts: (scheme: String, host: String, port: Int?)? { S3Config.splitEndpoint(endpoint) }

    /// Checks every value and the relationships between them; the error is one line without the secret.
    public func validate() throws(ObjectStoreConfigError) {
        guard S3Config.isValidBucketName(bucket) else {
            throw ObjectStoreConfigError("S3 bucket name '\(bucket)' is invalid (3-63 characters of a-z 0-9 . -, starting and ending with a letter or digit)")
        }
        if endpoint.contains("@") {
            // Never echo it: user info in a URL is a credential.
            throw ObjectStoreConfigError("S3 endpoint must not contain user info (user@host); pass credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        }
        guard endpointParts != nil else {
            throw ObjectStoreConfigError("S3 endpoint '\(endpoint)' is invalid: expected http(s)://host[:port] without a path or query")
        }
        guard !region.isEmpty, region.utf8.allSatisfy({ S3Config.isRegionByte($0) }) else {
            throw ObjectStoreConfigError("S3 region '\(region)' is invalid: expected letters, digits and '-' (for example us-east-1)")
        }
        guard !accessKeyId.isEmpty else { throw ObjectStoreConfigError("AWS_ACCESS_KEY_ID is not set (S3 bucket \(bucket))") }
        guard !accessKeyId.utf8.contains(where: { $0 < 0x21 || $0 > 0x7e }) else {
            throw ObjectStoreConfigError("AWS_ACCESS_KEY_ID has characters that cannot appear in an access key id")
        }
        guard !secretAccessKey.isEmpty else { throw ObjectStoreConfigError("AWS_SECRET_ACCESS_KEY is not set (S3 bucket \(bucket))") }
        guard !secretAccessKey.utf8.contains(0) else { throw ObjectStoreConfigError("AWS_SECRET_ACCESS_KEY contains NUL") }
        try S3Config.check(connectTimeoutMs, "connect_timeout_ms", 1...600_000)
        try S3Config.check(requestTimeoutMs, "request_timeout_ms", 1...3_600_000)
        try S3Config.check(maxAttempts, "max_attempts", 1...20)
        try S3Config.check(backoffBaseMs, "backoff_base_ms", 1...60_000)
        try S3Config.check(backoffMaxMs, "backoff_max_ms", 1...600_000)
        try S3Config.check(responseBytesMax, "response_bytes_max", 1...(1 << 40))
        try S3Config.check(listPageKeysMax, "list_page_keys_max", 1...1_000)
        guard connectTimeoutMs <= requestTimeoutMs else {
            throw ObjectStoreConfigError("S3 connect_timeout_ms (\(connectTimeoutMs)) must not exceed request_timeout_ms (\(requestTimeoutMs))")
        }
        guard backoffBaseMs <= backoffMaxMs else {
            throw ObjectStoreConfigError("S3 backoff_base_ms (\(backoffBaseMs)) must not exceed backoff_max_ms (\(backoffMaxMs))")
        }
    }

    private static func check(_ value: Int, _ name: String, _ range: ClosedRange<Int>) throws(ObjectStoreConfigError) {
        guard range.contains(value) else {
            throw ObjectStoreConfigError("S3 \(name) = \(value) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
    }

    static func isValidBucketName(_ name: String) -> Bool {
        let b = Array(name.utf8)
        guard (3...63).contains(b.count) else { return false }
        func alnum(_ c: UInt8) -> Bool { (0x61...0x7a).contains(c) || (0x30...0x39).contains(c) }
        guard alnum(b.first!), alnum(b.last!) else { return false }
        return b.allSatisfy { alnum($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") }
    }

    private static func isRegionByte(_ c: UInt8) -> Bool {
        (0x61...0x7a).contains(c) || (0x41...0x5a).contains(c) || (0x30...0x39).contains(c) || c == UInt8(ascii: "-")
    }

    static func splitEndpoint(_ endpoint: String) -> (scheme: String, host: String, port: Int?)? {
        let scheme: String
        let rest: Substring
        if endpoint.hasPrefix("http://") {
            scheme = "http"; rest = endpoint.dropFirst(7)
        } else if endpoint.hasPrefix("https://") {
            scheme = "https"; rest = endpoint.dropFirst(8)
        } else {
            return nil
        }
        let authority = rest.hasSuffix("/") ? rest.dropLast() : rest
        guard !authority.isEmpty, !authority.contains(where: { "/?#@ ".contains($0) }) else { return nil }
        // `host:port`, or a bracketed IPv6 literal `[::1]:port`.
        var host = authority
        var port: Int?
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            guard let p = Int(authority[authority.index(after: colon)...]), (1...65535).contains(p) else { return nil }
            host = authority[..<colon]
            port = p
        }
        guard !host.isEmpty else { return nil }
        return (scheme, String(host), port)
    }
}

extension S3Config {
    /// Parses `s3://BUCKET?endpoint=http://127.0.0.1:9000&region=us-east-1[&path_style=false]…`,
    /// taking credentials (and, when the URL has no `region`, the region) from `env`:
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (default `us-east-1`).
    ///
    /// Query parameters (all optional): `endpoint` (default `https://s3.<region>.amazonaws.com`),
    /// `region`, `path_style` (`true`/`false`, default true), `connect_timeout_ms` (3000),
    /// `request_timeout_ms` (30000), `max_attempts` (5), `backoff_base_ms` (100), `backoff_max_ms` (5000),
    /// `response_bytes_max` (268435456), `list_page_keys_max` (1000). An unknown parameter is an error.
    public static func parse(url: String, env: [String: String]) throws(ObjectStoreConfigError) -> S3Config {
        guard url.hasPrefix("s3://") else {
            throw ObjectStoreConfigError("object store URL must start with s3:// (got '\(ObjectStoreURL.redacted(url))')")
        }
        let afterScheme = url.dropFirst(5)
        guard !afterScheme.contains("@") else {
            throw ObjectStoreConfigError("s3:// URL must not contain user info (user@); pass credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY")
        }
        let bucketPart = afterScheme.prefix { $0 != "?" && $0 != "/" }
        let remainder = afterScheme.dropFirst(bucketPart.count)
        var queryPart: Substring = ""
        if remainder.hasPrefix("?") {
            queryPart = remainder.dropFirst()
        } else if !remainder.isEmpty && remainder != "/" && !remainder.hasPrefix("/?") {
            throw ObjectStoreConfigError("s3:// URL must not have a path after the bucket (got '\(ObjectStoreURL.redacted(url))')")
        } else if remainder.hasPrefix("/?") {
            queryPart = remainder.dropFirst(2)
        }
        let params = try ObjectStoreURL.parseQuery(queryPart)

        let region = params["region"] ?? env["AWS_REGION"].flatMap { $0.isEmpty ? nil : $0 } ?? "us-east-1"
        var config = S3Config(bucket: String(bucketPart),
                              endpoint: params["endpoint"] ?? "https://s3.\(region).amazonaws.com",
                              region: region,
                              accessKeyId: env["AWS_ACCESS_KEY_ID"] ?? "",
                              secretAccessKey: env["AWS_SECRET_ACCESS_KEY"] ?? "")
        for (name, value) in params {
            switch name {
            case "endpoint", "region": break
            case "path_style":
                switch value {
                case "true", "1": config.pathStyle = true
                case "false", "0": config.pathStyle = false
                default: throw ObjectStoreConfigError("S3 path_style must be true or false (got '\(value)')")
                }
            case "connect_timeout_ms": config.connectTimeoutMs = try integer(name, value)
            case "request_timeout_ms": config.requestTimeoutMs = try integer(name, value)
            case "max_attempts": config.maxAttempts = try integer(name, value)
            case "backoff_base_ms": config.backoffBaseMs = try integer(name, value)
            case "backoff_max_ms": config.backoffMaxMs = try integer(name, value)
            case "response_bytes_max": config.responseBytesMax = try integer(name, value)
            case "list_page_keys_max": config.listPageKeysMax = try integer(name, value)
            default:
                throw ObjectStoreConfigError("unknown s3:// URL parameter '\(name)' (known: endpoint, region, path_style, connect_timeout_ms, request_timeout_ms, max_attempts, backoff_base_ms, backoff_max_ms, response_bytes_max, list_page_keys_max)")
            }
        }
        try config.validate()
        return config
    }

    private static func integer(_ name: String, _ value: String) throws(ObjectStoreConfigError) -> Int {
        guard let n = Int(value) else { throw ObjectStoreConfigError("S3 \(name) must be an integer (got '\(value)')") }
        return n
    }
}
