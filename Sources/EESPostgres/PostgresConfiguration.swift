import CLibpq
import Glibc

/// How to reach Postgres, with every limit explicit.
///
/// `url` is anything libpq accepts: `postgres://user:pass@host:port/db?sslmode=require`, or a
/// `key=value` conninfo string. The limits below override what the URL says, so a URL cannot make a
/// wait unbounded.
public struct PostgresConfiguration: Sendable, CustomStringConvertible {
    /// The connection URL (`EES_POSTGRES_URL`). Contains the password: never log it, use `redactedURL`.
    public var url: String
    /// When set, connect to this database instead of the one in the URL.
    public var database: String?
    /// Bound on establishing a connection, per host tried. libpq treats values below 2 as 2.
    public var connectTimeoutSeconds: Int
    /// Bound on each statement (server-side `statement_timeout`); 0 means none.
    public var statementTimeoutMs: Int
    /// Shown in `pg_stat_activity`; a URL's `application_name` wins.
    public var applicationName: String

    public init(url: String, database: String? = nil, connectTimeoutSeconds: Int = 5,
                statementTimeoutMs: Int = 30_000, applicationName: String = "ees") {
        self.url = url
        self.database = database
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.statementTimeoutMs = statementTimeoutMs
        self.applicationName = applicationName
    }

    /// Checks the URL syntax and the limits without connecting, so a bad value stops the process at
    /// start-up with one line.
    public func validate() throws(PostgresError) {
        guard connectTimeoutSeconds > 0 else {
            throw PostgresError(.invalidConfiguration, "connect timeout must be > 0 s, got \(connectTimeoutSeconds)")
        }
        guard statementTimeoutMs >= 0 else {
            throw PostgresError(.invalidConfiguration, "statement timeout must be >= 0 ms, got \(statementTimeoutMs)")
        }
        var err: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &err) else {
            let why = err.map { String(cString: $0) } ?? "unparsable"
            if let err { PQfreemem(err) }
            throw PostgresError(.invalidConfiguration,
                                "Postgres URL \(redactedURL) is invalid: \(scrub(why.trimmingTrailingNewlines))")
        }
        defer { PQconninfoFree(options) }
        // libpq checks the port only when connecting, where a typo would look like an outage.
        let port = Self.value(of: "port", in: options) ?? ""
        for p in port.split(separator: ",", omittingEmptySubsequences: false) where !port.isEmpty {
            guard let n = Int(p), (1...65535).contains(n) else {
                throw PostgresError(.invalidConfiguration, "Postgres URL \(redactedURL) has an invalid port '\(p)'")
            }
        }
    }

    private static func value(of keyword: String, in options: UnsafeMutablePointer<PQconninfoOption>) -> String? {
        var p = options
        while let k = p.pointee.keyword {
            if String(cString: k) == keyword { return p.pointee.val.map { String(cString: $0) } }
            p += 1
        }
        return nil
    }

    /// The URL with its password replaced by `***`, for logs and errors.
    public var redactedURL: String {
        guard let range = urlPasswordRange else { return url.contains("password=") ? "<conninfo>" : url }
        var out = url
        out.replaceSubrange(range, with: "***")
        return out
    }

    public var description: String { redactedURL }

    /// `host:port/database` as libpq resolves them from the URL (defaults included), for messages
    /// that must name the server without quoting the URL.
    public var hostDescription: String {
        var err: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(url, &err) else {
            if let err { PQfreemem(err) }
            return "<invalid url>"
        }
        defer { PQconninfoFree(options) }
        let host = Self.value(of: "host", in: options) ?? Self.value(of: "hostaddr", in: options) ?? "localhost"
        let port = Self.value(of: "port", in: options) ?? "5432"
        let db = database ?? Self.value(of: "dbname", in: options) ?? Self.value(of: "user", in: options) ?? ""
        return "\(host):\(port)/\(db)"
    }

    /// Removes the password (as written and percent-decoded) from text that libpq or the server wrote.
    func scrub(_ text: String) -> String {
        var out = text
        for secret in secrets where !secret.isEmpty {
            out = out.replacing(secret, with: "***")
        }
        return out
    }

    /// Keyword/value pairs for `PQconnectdbParams`. Order matters: later keywords override earlier
    /// ones, and only the first `dbname` is expanded as a URL.
    var connectParameters: [(String, String)] {
        var params: [(String, String)] = [("application_name", applicationName), ("dbname", url)]
        if let database { params.append(("dbname", database)) }
        params += [
            ("connect_timeout", String(connectTimeoutSeconds)),
            // A peer that vanishes without a FIN/RST is noticed within ~60 s instead of never.
            ("keepalives", "1"), ("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3"),
        ]
        return params
    }

    /// The password's range in `url` (`scheme://user:PASSWORD@…`), found the way libpq splits a URI.
    private var urlPasswordRange: Range<String.Index>? {
        guard let scheme = url.firstRange(of: "://") else { return nil }
        let rest = url[scheme.upperBound...]
        guard let at = rest.firstIndex(of: "@") else { return nil }
        if let slash = rest.firstIndex(of: "/"), slash < at { return nil }
        let userinfo = rest[..<at]
        guard let colon = userinfo.firstIndex(of: ":") else { return nil }
        let start = url.index(after: colon)
        return start < at ? start..<at : nil
    }

    private var secrets: [String] {
        var out: [String] = []
        if let range = urlPasswordRange {
            let raw = String(url[range])
            out.append(raw)
            if let decoded = raw.removingPercentEncodingForURL, decoded != raw { out.append(decoded) }
        }
        if let range = url.firstRange(of: "password=") {
            // conninfo form: password=VALUE up to the next space or '&'
            let value = url[range.upperBound...].prefix { $0 != " " && $0 != "&" }
            out.append(String(value))
        }
        return out
    }
}

extension String {
    var trimmingTrailingNewlines: String {
        var s = Substring(self)
        while let last = s.last, last == "\n" || last == " " { s = s.dropLast() }
        return String(s)
    }

    /// `%XX` decoding without Foundation; `nil` when an escape is malformed.
    var removingPercentEncodingForURL: String? {
        var bytes: [UInt8] = []
        var it = Array(utf8)[...]
        while let b = it.popFirst() {
            guard b == UInt8(ascii: "%") else { bytes.append(b); continue }
            guard it.count >= 2, let hi = hexValue(it.popFirst()!), let lo = hexValue(it.popFirst()!) else { return nil }
            bytes.append(hi << 4 | lo)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
