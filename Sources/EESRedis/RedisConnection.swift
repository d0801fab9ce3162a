import CHiredis
import EESCore
#if canImport(Glibc)
import Glibc
#endif

/// One blocking hiredis connection. Not thread-safe: one thread uses it at a time (the pool hands
/// it out). After an I/O error it is broken and must be dropped.
public final class RedisConnection {
    private let ctx: UnsafeMutablePointer<redisContext>
    public private(set) var broken = false

    public init(_ config: RedisConfig) throws(RedisError) {
        let tv = timeval(tv_sec: config.connectTimeoutMs / 1000, tv_usec: (config.connectTimeoutMs % 1000) * 1000)
        guard let c = redisConnectWithTimeout(config.host, Int32(config.port), tv) else {
            throw RedisError(.unavailable, "cannot allocate a connection to \(config.endpoint)")
        }
        if c.pointee.err != 0 {
            let msg = Self.errorText(c)
            redisFree(c)
            throw RedisError(.unavailable, "connect \(config.endpoint): \(msg)")
        }
        ctx = c
        let ct = timeval(tv_sec: config.commandTimeoutMs / 1000, tv_usec: (config.commandTimeoutMs % 1000) * 1000)
        redisSetTimeout(c, ct)
        redisEnableKeepAlive(c)
        if let password = config.password {
            var auth: [[UInt8]] = [Array("AUTH".utf8)]
            if let u = config.username { auth.append(Array(u.utf8)) }
            auth.append(Array(password.utf8))
            let r = try command(auth)
            if case .error = r { redisFree(c); throw RedisError(.unavailable, "AUTH refused by \(config.endpoint)") }
        }
        if config.database != 0 {
            _ = try command(["SELECT", String(config.database)])
        }
    }

    deinit { redisFree(ctx) }

    /// The socket, for poll(2) in the subscriber.
    var fd: Int32 { ctx.pointee.fd }

    /// For a connection that sat idle in the pool: false when the server has closed it (restart,
    /// idle timeout) — an idle connection has no reply pending, so anything readable (EOF, RST)
    /// means it is dead. Checked without sending anything, so no command can run twice.
    var isUsableAfterIdle: Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return !broken && poll(&pfd, 1, 0) == 0
    }

    public func command(_ args: [String]) throws(RedisError) -> RedisReply {
        try command(args.map { Array($0.utf8) })
    }

    /// Sends one command and reads its reply. Error replies come back as `.error`, not thrown.
    public func command(_ args: [[UInt8]]) throws(RedisError) -> RedisReply {
        try pipeline([args])[0]
    }

    /// Sends all commands, then reads all replies: one round trip.
    public func pipeline(_ commands: [[[UInt8]]]) throws(RedisError) -> [RedisReply] {
        guard !broken else { throw RedisError(.unavailable, "connection is broken") }
        for args in commands { try append(args) }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands { replies.append(try readReply()) }
        return replies
    }

    func append(_ args: [[UInt8]]) throws(RedisError) {
        // One contiguous buffer keeps every argument's pointer valid during the call.
        var flat = [UInt8]()
        flat.reserveCapacity(args.reduce(0) { $0 + $1.count })
        var lengths = [Int]()
        lengths.reserveCapacity(args.count)
        for a in args {
            flat.append(contentsOf: a)
            lengths.append(a.count)
        }
        let rc = flat.withUnsafeBufferPointer { base -> Int32 in
            var pointers = [UnsafePointer<CChar>?]()
            pointers.reserveCapacity(args.count)
            var offset = 0
            let start = UnsafeRawPointer(base.baseAddress ?? UnsafePointer(bitPattern: 1)!)
            for n in lengths {
                pointers.append((start + offset).assumingMemoryBound(to: CChar.self))
                offset += n
            }
            return redisAppendCommandArgv(ctx, Int32(args.count), &pointers, lengths)
        }
        if rc != REDIS_OK { throw fail() }
    }

    func readReply() throws(RedisError) -> RedisReply {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReply(ctx, &raw) == REDIS_OK, let r = raw else { throw fail() }
        defer { freeReplyObject(r) }
        return Self.convert(r.assumingMemoryBound(to: redisReply.self))
    }

    /// A reply hiredis already read off the socket along with an earlier one, without reading more;
    /// nil when none is buffered. poll(2) cannot see these bytes: they left the socket already.
    func bufferedReply() throws(RedisError) -> RedisReply? {
        var raw: UnsafeMutableRawPointer?
        guard redisGetReplyFromReader(ctx, &raw) == REDIS_OK else { throw fail() }
        guard let r = raw else { return nil }
        defer { freeReplyObject(r) }
        return Self.convert(r.assumingMemoryBound(to: redisReply.self))
    }

    private func fail() -> RedisError {
        broken = true
        return RedisError(.unavailable, Self.errorText(ctx))
    }

    private static func convert(_ r: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let reply = r.pointee
        func bytes() -> [UInt8] {
            guard let s = reply.str else { return [] }
            return Array(UnsafeRawBufferPointer(start: s, count: reply.len))
        }
        switch reply.type {
        case REDIS_REPLY_STRING: return .string(bytes())
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(Int64(reply.integer))
        case REDIS_REPLY_ARRAY:
            var items: [RedisReply] = []
            items.reserveCapacity(reply.elements)
            for i in 0..<reply.elements {
                if let e = reply.element[i] { items.append(convert(e)) } else { items.append(.null) }
            }
            return .array(items)
        default: return .null
        }
    }

    private static func errorText(_ c: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: c.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return text.isEmpty ? "connection error" : text
    }
}
