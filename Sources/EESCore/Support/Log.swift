#if canImport(Glibc)
import Glibc
#endif

/// Metadata keys used in logs: one closed set so logs stay queryable.
public enum LogKey: String, Sendable {
    case requestID = "request_id", deviceID = "device_id", streamKey = "stream_key", seq, status, error
    case role, listen, partition, epoch, key, count, bytes, durationMs = "duration_ms", reason, path, method
    case attempt, component, version, url
}

/// One JSON object per line on stderr: `{"ts":…,"level":…,"msg":…,<metadata>}`. Messages are
/// constant strings; everything variable goes into metadata. Never log secrets or payloads.
public struct Logger: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warning, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public var name: String { ["debug", "info", "warn", "error"][rawValue] }
        public init?(name: String) {
            switch name.lowercased() {
            case "debug": self = .debug
            case "info": self = .info
            case "warn", "warning": self = .warning
            case "error": self = .error
            default: return nil
            }
        }
    }

    public let minimum: Level
    private let base: [(LogKey, String)]
    private let time: any TimeSource

    public init(minimum: Level = .info, time: any TimeSource = SystemTime()) {
        self.minimum = minimum
        self.base = []
        self.time = time
    }

    private init(minimum: Level, base: [(LogKey, String)], time: any TimeSource) {
        self.minimum = minimum
        self.base = base
        self.time = time
    }

    /// A logger that adds `metadata` to every line.
    public func with(_ metadata: [(LogKey, String)]) -> Logger {
        Logger(minimum: minimum, base: base + metadata, time: time)
    }

    public func debug(_ msg: StaticString, _ md: [(LogKey, String)] = []) { log(.debug, msg, md) }
    public func info(_ msg: StaticString, _ md: [(LogKey, String)] = []) { log(.info, msg, md) }
    public func warning(_ msg: StaticString, _ md: [(LogKey, String)] = []) { log(.warning, msg, md) }
    public func error(_ msg: StaticString, _ md: [(LogKey, String)] = []) { log(.error, msg, md) }

    public func log(_ level: Level, _ msg: StaticString, _ md: [(LogKey, String)]) {
        guard level >= minimum else { return }
        var line = "{\"ts\":\(time.nowMs()),\"level\":\"\(level.name)\",\"msg\":"
        JSONText.appendString(msg.description, to: &line)
        for (k, v) in base + md {
            line += ",\"\(k.rawValue)\":"
            JSONText.appendString(v, to: &line)
        }
        line += "}\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { p in
            _ = write(2, p.baseAddress, p.count)   // one write per line: lines never interleave
        }
    }
}

/// Minimal JSON text helpers for hand-built output (responses, logs, segment envelopes).
public enum JSONText {
    public static func appendString(_ s: String, to out: inout String) {
        out += "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        out += "\""
    }

    public static func quoted(_ s: String) -> String {
        var out = ""
        appendString(s, to: &out)
        return out
    }
}
