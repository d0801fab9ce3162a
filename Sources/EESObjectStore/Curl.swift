import CCurl
import Glibc
import Synchronization

/// One HTTP exchange as the S3 adapter issues it. Only the three methods S3 needs.
struct HTTPRequest {
    enum Method: String { case get = "GET", head = "HEAD", put = "PUT" }
    var method: Method
    /// Fully encoded URL; sent and signed exactly as given.
    var url: String
    /// `Name: value` lines.
    var headers: [String]
    /// Request body (PUT only).
    var body: [UInt8] = []
}

struct HTTPResponse {
    var status: Int
    var body: [UInt8]
    /// `Content-Length` of the response (the object size for HEAD), `nil` when absent.
    var contentLength: Int?
}

/// A request that got no HTTP response: connect/DNS/TLS failure, timeout, reset, or a body over the limit.
struct CurlFailure: Error {
    let code: CURLcode
    /// curl's own detail line ("Failed to connect to 127.0.0.1 port 9: Connection refused").
    let detail: String
    /// The response body was larger than `responseBytesMax`; retrying will not help.
    let bodyTooLarge: Bool

    /// Errors that describe the configuration or this build, not the network: retrying cannot help.
    var isRetryable: Bool {
        if bodyTooLarge { return false }
        let permanent: [CURLcode] = [CURLE_UNSUPPORTED_PROTOCOL, CURLE_URL_MALFORMAT, CURLE_NOT_BUILT_IN,
                                     CURLE_BAD_FUNCTION_ARGUMENT, CURLE_UNKNOWN_OPTION, CURLE_OUT_OF_MEMORY,
                                     CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_LOGIN_DENIED]
        return !permanent.contains(code)
    }
}

/// Per-client settings applied to every request.
struct CurlSettings: Sendable {
    var connectTimeoutMs: Int
    var requestTimeoutMs: Int
    var responseBytesMax: Int
    var username: String
    var password: String
    /// `CURLOPT_AWS_SIGV4`, for example `aws:amz:us-east-1:s3`.
    var awsSigV4: String
}

/// A blocking libcurl client: one easy handle per in-flight call, idle handles kept in a small pool
/// so their keep-alive connections are reused. Safe to call from many threads at once.
final class CurlClient: Sendable {
    /// `curl_global_init` must run once, before any other curl call and before threads use curl;
    /// a `static let` gives exactly that.
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))
    /// Idle handles kept beyond this are closed: a bound on open connections left behind by bursts.
    static let idleHandlesMax = 8

    private let settings: CurlSettings
    private let idle = Mutex<[CurlHandle]>([])

    init(settings: CurlSettings) {
        precondition(CurlClient.globalInit == CURLE_OK, "curl_global_init failed")
        self.settings = settings
    }

    deinit {
        for handle in idle.withLock({ $0 }) { handle.close() }
    }

    /// Performs `request` once (no retries here) and returns the response or the transport failure.
    func perform(_ request: HTTPRequest) -> Result<HTTPResponse, CurlFailure> {
        let handle = idle.withLock { $0.popLast() } ?? CurlHandle.open()
        defer {
            let kept = idle.withLock { pool -> Bool in
                guard pool.count < CurlClient.idleHandlesMax else { return false }
                pool.append(handle)
                return true
            }
            if !kept { handle.close() }
        }
        return handle.perform(request, settings)
    }
}

/// Receives the response body from curl's write callback, refusing more than `limit` bytes.
private final class ResponseSink {
    var bytes: [UInt8] = []
    let limit: Int
    var overflowed = false
    init(limit: Int) { self.limit = limit }
}

/// curl's write callback: appends to the `ResponseSink` passed as user data. Returning a short
/// count makes curl abort the transfer with CURLE_WRITE_ERROR, which is how the size limit bites.
private let curlWriteToSink: ccurl_data_cb = { data, size, count, userData in
    let sink = Unmanaged<ResponseSink>.fromOpaque(userData!).takeUnretainedValue()
    let n = size * count
    guard sink.bytes.count + n <= sink.limit else {
        sink.overflowed = true
        return 0
    }
    if n > 0, let data {
        sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
    }
    return n
}

/// A CURL easy handle and its error buffer. `@unchecked Sendable` because it moves between
/// threads through the pool, but only one thread ever uses it at a time (taken out of the pool
/// under the mutex, used, then put back).
private struct CurlHandle: @unchecked Sendable {
    let raw: UnsafeMutableRawPointer
    let errorBuffer: UnsafeMutablePointer<CChar>

    static func open() -> CurlHandle {
        guard let raw = curl_easy_init() else { fatalError("curl_easy_init failed (out of memory)") }
        let errorBuffer = UnsafeMutablePointer<CChar>.allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        return CurlHandle(raw: raw, errorBuffer: errorBuffer)
    }

    func close() {
        curl_easy_cleanup(raw)
        errorBuffer.deallocate()
    }

    func perform(_ request: HTTPRequest, _ s: CurlSettings) -> Result<HTTPResponse, CurlFailure> {
        // Reset clears every option from the previous call (including a dangling POSTFIELDS
        // pointer) but keeps the connection cache.
        curl_easy_reset(raw)
        errorBuffer[0] = 0
        var headerList: UnsafeMutablePointer<curl_slist>?
        for line in request.headers {
            guard let appended = curl_slist_append(headerList, line) else { fatalError("curl_slist_append: out of memory") }
            headerList = appended
        }
        defer { curl_slist_free_all(headerList) }
        let sink = ResponseSink(limit: s.responseBytesMax)

        var rc = CURLE_OK
        func set(_ r: CURLcode) { if rc == CURLE_OK { rc = r } }
        set(ccurl_setopt_pointer(raw, CURLOPT_ERRORBUFFER, errorBuffer))
        set(ccurl_setopt_string(raw, CURLOPT_URL, request.url))
        // No SIGALRM for DNS timeouts: signals and threads do not mix.
        set(ccurl_setopt_long(raw, CURLOPT_NOSIGNAL, 1))
        set(ccurl_setopt_long(raw, CURLOPT_CONNECTTIMEOUT_MS, s.connectTimeoutMs))
        set(ccurl_setopt_long(raw, CURLOPT_TIMEOUT_MS, s.requestTimeoutMs))
        set(ccurl_setopt_string(raw, CURLOPT_PROTOCOLS_STR, "http,https"))
        // Keys may contain `./` sequences that curl would otherwise squash; send the path verbatim.
        set(ccurl_setopt_long(raw, CURLOPT_PATH_AS_IS, 1))
        set(ccurl_setopt_string(raw, CURLOPT_USERNAME, s.username))
        set(ccurl_setopt_string(raw, CURLOPT_PASSWORD, s.password))
        set(ccurl_setopt_string(raw, CURLOPT_AWS_SIGV4, s.awsSigV4))
        set(ccurl_setopt_pointer(raw, CURLOPT_HTTPHEADER, headerList.map { UnsafeMutableRawPointer($0) }))
        set(ccurl_setopt_datacb(raw, CURLOPT_WRITEFUNCTION, curlWriteToSink))
        set(ccurl_setopt_pointer(raw, CURLOPT_WRITEDATA, Unmanaged.passUnretained(sink).toOpaque()))

        // curl does not copy POSTFIELDS, so the body must stay put until perform returns; an empty
        // body still needs a non-NULL pointer or curl would read the request body from stdin.
        var body = request.body
        if body.isEmpty { body = [0] }
        let code: CURLcode = body.withUnsafeMutableBytes { bytes in
            switch request.method {
            case .get:
                break
            case .head:
                set(ccurl_setopt_long(raw, CURLOPT_NOBODY, 1))
            case .put:
                set(ccurl_setopt_string(raw, CURLOPT_CUSTOMREQUEST, "PUT"))
                set(ccurl_setopt_off(raw, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(request.body.count)))
                set(ccurl_setopt_pointer(raw, CURLOPT_POSTFIELDS, bytes.baseAddress))
            }
            guard rc == CURLE_OK else { return rc }
            return withExtendedLifetime(sink) { curl_easy_perform(raw) }
        }
        guard code == CURLE_OK else {
            return .failure(CurlFailure(code: code, detail: detail(code), bodyTooLarge: sink.overflowed))
        }
        var status = 0
        _ = ccurl_getinfo_long(raw, CURLINFO_RESPONSE_CODE, &status)
        var length: curl_off_t = -1
        _ = ccurl_getinfo_off(raw, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length)
        return .success(HTTPResponse(status: status, body: sink.bytes, contentLength: length >= 0 ? Int(length) : nil))
    }

    /// curl's detail line for the last error, or its generic text for `code`.
    private func detail(_ code: CURLcode) -> String {
        let specific = String(cString: errorBuffer)
        if !specific.isEmpty { return specific.hasSuffix("\n") ? String(specific.dropLast()) : specific }
        return String(cString: curl_easy_strerror(code))
    }
}
