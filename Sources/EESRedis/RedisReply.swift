/// A Redis reply, copied out of hiredis's reply object.
public indirect enum RedisReply: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int64)
    case array([RedisReply])
    case null
    case error(String)

    public var int: Int64? {
        switch self {
        case .integer(let v): v
        case .string(let b): Int64(String(decoding: b, as: UTF8.self))
        default: nil
        }
    }

    public var text: String? {
        switch self {
        case .string(let b): String(decoding: b, as: UTF8.self)
        case .status(let s): s
        case .integer(let v): String(v)
        default: nil
        }
    }

    public var bytes: [UInt8]? {
        if case .string(let b) = self { return b }
        return nil
    }

    public var array: [RedisReply]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var isError: Bool {
        if case .error = self { return true }
        return false
    }

    /// A flat `[field, value, …]` array reply as a dictionary (HGETALL, XRANGE entry fields).
    public var fieldMap: [String: String] {
        guard let a = array else { return [:] }
        var out: [String: String] = [:]
        var i = 0
        while i + 1 < a.count {
            if let k = a[i].text, let v = a[i + 1].text { out[k] = v }
            i += 2
        }
        return out
    }
}

/// A Redis failure. `unavailable`: could not connect, or the connection broke or timed out (the
/// command may or may not have run). `server`: Redis answered with an error reply.
public struct RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case unavailable
        case server
        case protocolViolation = "protocol"
    }
    public let code: Code
    public let message: String
    public init(_ code: Code, _ message: String) { self.code = code; self.message = message }
    public var description: String { "redis \(code.rawValue): \(message)" }
}
