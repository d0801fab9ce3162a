// Object store integration tests: one conformance body run against S3ObjectStore (a real moto
// server with SigV4 auth enforced) and FileObjectStore (a temp directory), plus S3 failure modes.
// S3 settings come from EES_TEST_S3_ENDPOINT, EES_TEST_S3_BUCKET, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION (exported by scripts/services); a missing one FAILS.
import EESCore
import EESObjectStore
import Foundation
import Glibc
import Synchronization
import Testing

@Suite struct ObjectStoreTests {
    // MARK: conformance

    @Test func s3ObjectStoreConformance() throws {
        // A small page size forces several continuation-token round trips without thousands of objects.
        var config = try s3TestConfig()
        config.listPageKeysMax = 4
        let store = try S3ObjectStore(config: config)
        try store.createBucketIfMissing()
        try runConformance(store, base: uniquePrefix("conformance"))
        try runConcurrently(store, base: uniquePrefix("concurrent"))
    }

    @Test func fileObjectStoreConformance() throws {
        try withTemporaryRoot { root in
            try runConformance(FileObjectStore(root: root), base: uniquePrefix("conformance"))
            try runConcurrently(FileObjectStore(root: root), base: uniquePrefix("concurrent"))
        }
    }

    @Test func s3VirtualHostStyleRoundTrip() throws {
        // curl resolves *.localhost to loopback, so bucket.localhost:port reaches the test server.
        var config = try s3TestConfig()
        try S3ObjectStore(config: config).createBucketIfMissing()
        config.endpoint = config.endpoint.replacingOccurrences(of: "//127.0.0.1:", with: "//localhost:")
        try #require(config.endpoint.contains("//localhost:"), "EES_TEST_S3_ENDPOINT must be on 127.0.0.1 or localhost")
        config.pathStyle = false
        let store = try S3ObjectStore(config: config)
        let base = uniquePrefix("virtual-host")
        let keys = [base + "a b/ü.bin", base + "c"]
        for key in keys { try store.put(key: key, bytes: Array(key.utf8)) }
        for key in keys { #expect(try store.get(key: key) == Array(key.utf8)) }
        #expect(try store.head(key: keys[1]) == keys[1].utf8.count)
        #expect(try store.list(prefix: base, startAfter: nil, limit: 10) == keys)
    }

    // MARK: S3 failure modes

    @Test func s3WrongSecretIsAccessDeniedWithoutTheSecret() throws {
        var config = try s3TestConfig()
        try S3ObjectStore(config: config).createBucketIfMissing()
        let wrongSecret = "wrong-\(UInt64.random(in: 0...UInt64.max))-secret"
        config.secretAccessKey = wrongSecret
        let store = try S3ObjectStore(config: config)
        let key = uniquePrefix("denied") + "x"
        let failures: [(String, () throws -> Void)] = [
            ("put", { try store.put(key: key, bytes: [1]) }),
            ("get", { _ = try store.get(key: key) }),
            ("head", { _ = try store.head(key: key) }),
            ("list", { _ = try store.list(prefix: "", startAfter: nil, limit: 1) }),
        ]
        for (op, call) in failures {
            let error = #expect(throws: ObjectStoreError.self, "\(op)") { try call() }
            #expect(error?.code == .accessDenied, "\(op): \(String(describing: error))")
            #expect(error?.description.contains(wrongSecret) == false)
            #expect(error?.description.contains(config.bucket) == true)
            #expect(error?.description.contains("403") == true)
        }
    }

    @Test func s3MissingBucketIsNoSuchBucketNamingTheBucket() throws {
        var config = try s3TestConfig()
        config.bucket = "ees-missing-\(UInt64.random(in: 0...UInt64.max))"
        let store = try S3ObjectStore(config: config)
        let putError = #expect(throws: ObjectStoreError.self) { try store.put(key: "k", bytes: [1, 2]) }
        let getError = #expect(throws: ObjectStoreError.self) { try store.get(key: "k") }
        let listError = #expect(throws: ObjectStoreError.self) { try store.list(prefix: "", startAfter: nil, limit: 5) }
        for error in [putError, getError, listError] {
            #expect(error?.code == .noSuchBucket, "\(String(describing: error))")
            #expect(error?.message.contains(config.bucket) == true)
            #expect(error?.message.contains(config.secretAccessKey) == false)
        }
    }

    @Test func s3ServerDownIsUnavailableAfterBoundedRetries() throws {
        var config = try s3TestConfig()
        config.endpoint = "http://127.0.0.1:\(try unusedPort())"
        config.maxAttempts = 3
        config.backoffBaseMs = 20
        config.backoffMaxMs = 100
        config.connectTimeoutMs = 500
        config.requestTimeoutMs = 1_000
        let store = try S3ObjectStore(config: config)
        let started = ContinuousClock.now
        let error = #expect(throws: ObjectStoreError.self) { try store.put(key: "k", bytes: [1]) }
        let elapsed = ContinuousClock.now - started
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("gave up after 3 attempts") == true, "\(String(describing: error))")
        #expect(error?.message.contains(config.endpoint) == true)
        // Worst case: 3 × 1 s timeout + 2 backoffs ≤ 100 ms each; connection refused is far quicker.
        #expect(elapsed < .seconds(4), "took \(elapsed)")
    }

    @Test func s3RetriesServerErrorsAndThrottlingThenSucceeds() throws {
        let server = try CannedHTTPServer(responses: [
            .init(status: 503, body: "<Error><Code>SlowDown</Code><Message>Reduce your request rate.</Message></Error>"),
            .init(status: 500, body: ""),
            .init(status: 429, body: ""),
            .init(status: 200, body: "payload"),
        ])
        let store = try S3ObjectStore(config: cannedConfig(server.port, maxAttempts: 5))
        #expect(try store.get(key: "k") == Array("payload".utf8))
        #expect(server.requestCount == 4)
    }

    @Test func s3GivesUpOnServerErrorsAfterMaxAttempts() throws {
        let slowDown = CannedHTTPServer.Response(status: 503, body: "<Error><Code>SlowDown</Code></Error>")
        let server = try CannedHTTPServer(responses: [slowDown, slowDown, slowDown])
        let store = try S3ObjectStore(config: cannedConfig(server.port, maxAttempts: 3))
        let error = #expect(throws: ObjectStoreError.self) { try store.put(key: "k", bytes: [1]) }
        #expect(error?.code == .unavailable)
        #expect(error?.message.contains("HTTP 503 SlowDown (gave up after 3 attempts)") == true, "\(String(describing: error))")
        #expect(server.requestCount == 3)
    }

    @Test func s3DoesNotRetryClientErrors() throws {
        let server = try CannedHTTPServer(responses: [
            .init(status: 400, body: "<Error><Code>InvalidArgument</Code><Message>bad</Message></Error>"),
        ])
        let store = try S3ObjectStore(config: cannedConfig(server.port, maxAttempts: 5))
        let error = #expect(throws: ObjectStoreError.self) { try store.get(key: "k") }
        #expect(error?.code == .rejected)
        #expect(error?.message.contains("HTTP 400 InvalidArgument: bad") == true)
        #expect(server.requestCount == 1)
    }

    // MARK: file store specifics

    @Test func fileObjectStoreHidesTempFilesAndReportsAMissingRoot() throws {
        try withTemporaryRoot { root in
            let store = FileObjectStore(root: root)
            try store.put(key: "d/a", bytes: [1])
            // A crash between create and rename leaves a temp file; it must never be listed.
            let fd = open("\(root)/d/.ees-tmp-deadbeef", O_WRONLY | O_CREAT, 0o644)
            #expect(fd >= 0)
            close(fd)
            #expect(try store.list(prefix: "", startAfter: nil, limit: 10) == ["d/a"])
            #expect(throws: ObjectStoreError.self) { try store.put(key: "d/.ees-tmp-x", bytes: [1]) }
            let clash = #expect(throws: ObjectStoreError.self) { try store.put(key: "d/a/b", bytes: [1]) }
            #expect(clash?.code == .rejected)

            let missing = FileObjectStore(root: root + "/not-there")
            let calls: [() throws -> Void] = [
                { try missing.put(key: "a/b", bytes: [1]) },
                { _ = try missing.get(key: "a") },
                { _ = try missing.list(prefix: "a/", startAfter: nil, limit: 1) },
            ]
            for call in calls {
                let error = #expect(throws: ObjectStoreError.self) { try call() }
                #expect(error?.code == .noSuchBucket)
                #expect(error?.message.contains("\(root)/not-there") == true)
            }
            try missing.createRootIfMissing()
            try missing.put(key: "a/b", bytes: [7])
            #expect(try missing.get(key: "a/b") == [7])
        }
    }
}

// MARK: - the shared conformance body

/// Everything the `ObjectStore` contract promises, against any store, under a fresh `base` prefix.
func runConformance(_ store: any ObjectStore, base: String) throws {
    // Missing objects.
    #expect(try store.get(key: base + "missing") == nil)
    #expect(try store.head(key: base + "missing") == nil)
    #expect(try store.list(prefix: base, startAfter: nil, limit: 100) == [])

    // Binary bytes, overwrite, empty and large objects.
    let binary = (0...255).map { UInt8($0) } + [0, 0, 13, 10, 255]
    try store.put(key: base + "bin/all-bytes", bytes: binary)
    #expect(try store.get(key: base + "bin/all-bytes") == binary)
    #expect(try store.head(key: base + "bin/all-bytes") == binary.count)
    try store.put(key: base + "bin/all-bytes", bytes: [42])
    #expect(try store.get(key: base + "bin/all-bytes") == [42])
    #expect(try store.head(key: base + "bin/all-bytes") == 1)
    try store.put(key: base + "bin/empty", bytes: [])
    #expect(try store.get(key: base + "bin/empty") == [])
    #expect(try store.head(key: base + "bin/empty") == 0)
    var large = [UInt8](repeating: 0, count: 1_572_864 + 7)   // over 1 MiB, where curl would want 100-continue
    for i in large.indices { large[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 11) }
    try store.put(key: base + "bin/large", bytes: large)
    #expect(try store.get(key: base + "bin/large") == large)
    #expect(try store.head(key: base + "bin/large") == large.count)

    // Keys that need encoding in URLs and escaping in XML.
    let odd = ["odd/with space.txt", "odd/ünïcödé/日本語.jsonl", "odd/plus+amp&lt<gt>pct%q?hash#eq=;.bin",
               "odd/tilde~dash-under_", "odd/quote\"apos'", "odd/x/..dots../y"].map { base + $0 }
    for key in odd {
        try store.put(key: key, bytes: Array(key.utf8))
        #expect(try store.get(key: key) == Array(key.utf8), "\(key)")
        #expect(try store.head(key: key) == key.utf8.count, "\(key)")
    }
    #expect(try store.list(prefix: base + "odd/", startAfter: nil, limit: 100) == byteSorted(odd))

    // Listing: order, limit, startAfter and continuation across pages.
    let segs = (0..<23).map { base + "seg/" + pad20($0) + ".jsonl" }
    for key in segs { try store.put(key: key, bytes: Array(key.utf8)) }
    try store.put(key: base + "seg-x", bytes: [1])     // shares the prefix "seg" but not "seg/"
    #expect(try store.list(prefix: base + "seg/", startAfter: nil, limit: 1_000) == segs)
    let first = try store.list(prefix: base + "seg/", startAfter: nil, limit: 10)
    #expect(first == Array(segs[0..<10]))
    #expect(try store.list(prefix: base + "seg/", startAfter: first.last, limit: 10) == Array(segs[10..<20]))
    #expect(try store.list(prefix: base + "seg/", startAfter: segs[19], limit: 100) == Array(segs[20...]))
    #expect(try store.list(prefix: base + "seg/", startAfter: segs[4] + "a", limit: 2) == [segs[5], segs[6]])
    #expect(try store.list(prefix: base + "seg/", startAfter: segs[22], limit: 100) == [])
    #expect(try store.list(prefix: base + "seg/" + String(pad20(10).dropLast()), startAfter: nil, limit: 100)
            == Array(segs[10..<20]))
    #expect(try store.list(prefix: base + "seg", startAfter: nil, limit: 100) == [base + "seg-x"] + segs)   // '-' < '/' 
    #expect(try store.list(prefix: base + "seg/", startAfter: nil, limit: 0) == [])

    // Byte order, not Unicode or path order: '-' < '.' < '/' < '0' < 'Z' < '~' < 'é'.
    let order = ["x-1", "x.1", "x/1", "x0", "xZ", "x~", "xé"].map { base + "order/" + $0 }
    for key in order.shuffled() { try store.put(key: key, bytes: [1]) }
    #expect(try store.list(prefix: base + "order/", startAfter: nil, limit: 100) == order)
    #expect(try store.list(prefix: base + "order/", startAfter: base + "order/x.1", limit: 2) == Array(order[2...3]))

    // Everything under base, in one ordered listing.
    let everything = byteSorted(["bin/all-bytes", "bin/empty", "bin/large"].map { base + $0 } + odd + segs
                                + [base + "seg-x"] + order)
    #expect(try store.list(prefix: base, startAfter: nil, limit: 1_000) == everything)

    // Invalid keys are refused before any I/O.
    for bad in ["", "/abs", base + "a//b", base + "a/../b", base + "./a", base + "trailing/"] {
        let error = #expect(throws: ObjectStoreError.self, "\(bad)") { try store.put(key: bad, bytes: [1]) }
        #expect(error?.code == .rejected)
    }
    let badPrefix = #expect(throws: ObjectStoreError.self) { try store.list(prefix: "../", startAfter: nil, limit: 1) }
    #expect(badPrefix?.code == .rejected)
}

/// Several threads on one store at once: every write is read back whole.
func runConcurrently(_ store: any ObjectStore, base: String) throws {
    let threads = 4
    let perThread = 8
    let failures = Mutex<[String]>([])
    DispatchQueue.concurrentPerform(iterations: threads) { t in
        for i in 0..<perThread {
            let key = base + "t\(t)/\(i)"
            let bytes = [UInt8](repeating: UInt8(t * perThread + i), count: 1_000 + i)
            do {
                try store.put(key: key, bytes: bytes)
                if try store.get(key: key) != bytes { failures.withLock { $0.append("\(key): bytes differ") } }
            } catch {
                failures.withLock { $0.append("\(key): \(error)") }
            }
        }
    }
    #expect(failures.withLock { $0 } == [])
    #expect(try store.list(prefix: base, startAfter: nil, limit: 1_000).count == threads * perThread)
}

// MARK: - helpers

/// A config for `CannedHTTPServer` (which checks no signature): fast backoff, short timeouts.
func cannedConfig(_ port: Int, maxAttempts: Int) -> S3Config {
    S3Config(bucket: "canned", endpoint: "http://127.0.0.1:\(port)", region: "us-east-1", accessKeyId: "AKID",
             secretAccessKey: "canned-secret", connectTimeoutMs: 1_000, requestTimeoutMs: 2_000,
             maxAttempts: maxAttempts, backoffBaseMs: 5, backoffMaxMs: 20)
}

/// A loopback HTTP server that answers successive requests with canned responses (one per
/// connection, `Connection: close`), then stops; it counts the requests it saw.
final class CannedHTTPServer: Sendable {
    struct Response: Sendable {
        let status: Int
        let body: String
    }

    let port: Int
    private let served = Mutex(0)
    var requestCount: Int { served.withLock { $0 } }

    init(responses: [Response]) throws {
        let (fd, port) = try loopbackSocket()
        try #require(listen(fd, 8) == 0)
        self.port = port
        let thread = Thread { [self] in
            defer { close(fd) }
            for response in responses {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                CannedHTTPServer.readRequest(client)
                self.served.withLock { $0 += 1 }
                let text = "HTTP/1.1 \(response.status) Canned\r\nContent-Type: application/xml\r\n"
                    + "Content-Length: \(response.body.utf8.count)\r\nConnection: close\r\n\r\n\(response.body)"
                _ = Array(text.utf8).withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                close(client)
            }
        }
        thread.start()
    }

    /// Reads the request head up to its blank line, then the body its Content-Length announces:
    /// closing with unread bytes would reset the connection and could lose the canned response.
    private static func readRequest(_ fd: Int32) {
        var head = [UInt8]()
        var byte: UInt8 = 0
        while !head.reversed().starts(with: [10, 13, 10, 13]) && head.count < 65_536 {
            guard recv(fd, &byte, 1, 0) == 1 else { return }
            head.append(byte)
        }
        let lines = String(decoding: head, as: UTF8.self).lowercased().split(separator: "\r\n")
        var remaining = lines.first { $0.hasPrefix("content-length:") }
            .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
        while remaining > 0, recv(fd, &byte, 1, 0) == 1 { remaining -= 1 }
    }
}

/// The S3 settings of the test services; a missing variable fails the test with the reason.
func s3TestConfig() throws -> S3Config {
    let env = ProcessInfo.processInfo.environment
    func require(_ name: String) throws -> String {
        try #require(env[name].flatMap { $0.isEmpty ? nil : $0 },
                     "\(name) is not set: start the test services (scripts/services) and export their variables")
    }
    return S3Config(bucket: try require("EES_TEST_S3_BUCKET"), endpoint: try require("EES_TEST_S3_ENDPOINT"),
                    region: try require("AWS_REGION"), accessKeyId: try require("AWS_ACCESS_KEY_ID"),
                    secretAccessKey: try require("AWS_SECRET_ACCESS_KEY"),
                    connectTimeoutMs: 2_000, requestTimeoutMs: 20_000)
}

func uniquePrefix(_ what: String) -> String { "test/\(what)-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))/" }

func pad20(_ n: Int) -> String {
    let digits = String(n)
    return String(repeating: "0", count: 20 - digits.count) + digits
}

func byteSorted(_ keys: [String]) -> [String] { keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) } }

/// Runs `body` with a fresh directory under the temp dir, removed afterwards whatever happens.
func withTemporaryRoot(_ body: (String) throws -> Void) throws {
    var template = Array("/tmp/ees-objectstore-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
    let root = String(cString: try #require(made))
    defer { try? FileManager.default.removeItem(atPath: root) }
    try body(root)
}

/// A loopback TCP port nothing listens on (bound then released; the kernel does not hand it out
/// again at once).
func unusedPort() throws -> Int {
    let (fd, port) = try loopbackSocket()
    close(fd)
    return port
}

/// A TCP socket bound to 127.0.0.1 on a port the kernel picks, and that port.
func loopbackSocket() throws -> (fd: Int32, port: Int) {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    try #require(fd >= 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard bound == 0, named == 0 else {
        close(fd)
        throw ObjectStoreError(.io, "cannot bind a loopback test socket (errno \(errno))")
    }
    return (fd, Int(UInt16(bigEndian: address.sin_port)))
}
