/// Command-line options with environment fallbacks: a flag overrides its environment variable,
/// which overrides the default. Every option of every command is declared once, here-style, so
/// `--help` and the README's configuration table come from the same declarations.
public struct OptionSpec: Sendable {
    public let name: String
    public let env: String?
    public let defaultValue: String?
    public let help: String
    /// A switch (`--flag`) that takes no value.
    public let isSwitch: Bool
    /// May be given several times (values are kept in order).
    public let repeatable: Bool

    public init(_ name: String, env: String? = nil, default defaultValue: String? = nil, help: String,
                isSwitch: Bool = false, repeatable: Bool = false) {
        self.name = name
        self.env = env
        self.defaultValue = defaultValue
        self.help = help
        self.isSwitch = isSwitch
        self.repeatable = repeatable
    }
}

/// A configuration problem: one line, fit to print before exiting with status 2.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

public struct ParsedOptions: Sendable {
    public let values: [String: [String]]
    public let positionals: [String]
    public let helpRequested: Bool

    public func string(_ name: String) -> String? { values[name]?.last }
    public func strings(_ name: String) -> [String] { values[name] ?? [] }
    public func isSet(_ name: String) -> Bool { string(name).map { $0 == "true" || $0 == "1" } ?? false }

    public func require(_ name: String) throws(ConfigError) -> String {
        guard let v = string(name), !v.isEmpty else { throw ConfigError("--\(name) is required") }
        return v
    }

    public func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws(ConfigError) -> Int? {
        guard let s = string(name) else { return nil }
        guard let v = Int(s) else { throw ConfigError("--\(name): '\(s)' is not an integer") }
        guard range.contains(v) else {
            throw ConfigError("--\(name): \(v) is out of range \(range.lowerBound)...\(range.upperBound)")
        }
        return v
    }

    public func double(_ name: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude)
        throws(ConfigError) -> Double? {
        guard let s = string(name) else { return nil }
        guard let v = Double(s), v.isFinite else { throw ConfigError("--\(name): '\(s)' is not a number") }
        guard range.contains(v) else { throw ConfigError("--\(name): \(v) is out of range \(range.lowerBound)...\(range.upperBound)") }
        return v
    }
}

public enum OptionParser {
    public static func parse(_ args: [String], specs: [OptionSpec], env: [String: String]) throws(ConfigError) -> ParsedOptions {
        var given: [String: [String]] = [:]
        var positionals: [String] = []
        var help = false
        var i = 0
        while i < args.count {
            let a = args[i]
            i += 1
            if a == "--help" || a == "-h" { help = true; continue }
            guard a.hasPrefix("--"), a.count > 2 else { positionals.append(a); continue }
            var name = String(a.dropFirst(2))
            var inline: String?
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let spec = specs.first(where: { $0.name == name }) else { throw ConfigError("unknown option --\(name)") }
            let value: String
            if spec.isSwitch {
                value = inline ?? "true"
            } else if let inline {
                value = inline
            } else {
                guard i < args.count else { throw ConfigError("--\(name) needs a value") }
                value = args[i]
                i += 1
            }
            if spec.repeatable { given[name, default: []].append(value) } else { given[name] = [value] }
        }
        var values: [String: [String]] = [:]
        for spec in specs {
            if let v = given[spec.name] {
                values[spec.name] = v
            } else if let e = spec.env, let v = env[e], !v.isEmpty {
                values[spec.name] = spec.repeatable ? v.split(separator: ",").map(String.init) : [v]
            } else if let d = spec.defaultValue {
                values[spec.name] = [d]
            }
        }
        return ParsedOptions(values: values, positionals: positionals, helpRequested: help)
    }

    /// `--help` text: usage line, summary, then one line per option with its variable and default.
    public static func help(usage: String, summary: String, specs: [OptionSpec]) -> String {
        var out = "usage: \(usage)\n\n\(summary)\n"
        if !specs.isEmpty { out += "\noptions:\n" }
        for s in specs {
            var left = "  --\(s.name)" + (s.isSwitch ? "" : " VALUE")
            if left.count < 30 { left += String(repeating: " ", count: 30 - left.count) } else { left += "  " }
            var right = s.help
            if let e = s.env { right += " [env \(e)]" }
            if let d = s.defaultValue { right += " (default \(d))" }
            out += left + right + "\n"
        }
        return out
    }
}

/// `host:port` as given to `--listen`.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(_ s: String) throws(ConfigError) {
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (0...65535).contains(port) else {
            throw ConfigError("listen address '\(s)' must be host:port")
        }
        host = String(s[..<colon])
        self.port = port
    }

    public var description: String { "\(host):\(port)" }
}
