/// Where segments live: an S3-compatible bucket or a local directory (same keys either way).
///
/// Keys are relative, slash-separated (`stream/<stream_key>/seg/<start>-<end>.jsonl`). Writes are
/// whole-object and atomic: a reader sees either no object or all of its bytes.
public protocol ObjectStore: Sendable {
    /// Stores `bytes` under `key`, replacing any object there.
    func put(key: String, bytes: [UInt8]) throws(ObjectStoreError)
    /// The object's bytes, or `nil` when there is no object under `key`.
    func get(key: String) throws(ObjectStoreError) -> [UInt8]?
    /// Keys that start with `prefix`, in ascending byte order, at most `limit` of them,
    /// starting strictly after `startAfter` when given.
    func list(prefix: String, startAfter: String?, limit: Int) throws(ObjectStoreError) -> [String]
    /// The object's size in bytes, or `nil` when there is none.
    func head(key: String) throws(ObjectStoreError) -> Int?
}

/// An object-store failure. `description` never contains credentials.
public struct ObjectStoreError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        /// Network error, timeout, 5xx or 429 after the retries were spent.
        case unavailable
        /// 401/403: wrong credentials or no permission.
        case accessDenied = "access_denied"
        /// The bucket (or base directory) does not exist.
        case noSuchBucket = "no_such_bucket"
        /// Any other 4xx, or a response that could not be understood.
        case rejected
        /// Local I/O failure (file store).
        case io
    }
    public let code: Code
    /// Operator-facing detail: names the bucket/endpoint/key and HTTP status, never a secret.
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "\(code.rawValue): \(message)" }
}
