import Foundation

/// How the client signs in: a user (session from POST /api/session, or from POST /api/setup on a
/// new instance) or an API key (`x-api-key`, Metabase 0.47+).
public enum MetabaseAuth: Sendable, Equatable {
    case password(user: String, password: String)
    case apiKey(String)
}

/// Every limit of a provisioning run: each wait and each retry loop is bounded by one of these.
public struct MetabaseLimits: Sendable, Equatable {
    /// TCP connect timeout of one attempt.
    public var connectTimeoutMs = 5_000
    /// One request and its whole response. Generous: POST /api/database makes Metabase connect
    /// to Postgres before it answers.
    public var requestTimeoutMs = 60_000
    /// Attempts per request for failures worth retrying (see `MetabaseClient`), first included.
    public var attemptsMax = 4
    /// Backoff between attempts: base doubling up to max (no jitter: one client, one server).
    public var backoffBaseMs = 250
    public var backoffMaxMs = 4_000
    /// How long to wait for GET /api/health to say ok (Metabase takes a minute or more to start).
    public var readyWaitMs = 120_000
    /// Pause between health polls.
    public var readyPollMs = 1_000
    /// Largest response body read (a dashboard with its cards is tens of KiB; lists grow with the
    /// instance).
    public var responseBodyBytesMax = 16 << 20

    public init() {}

    /// Checks the values and their relationships (the CLI reports a bad one as a usage error).
    public func validate() throws(MetabaseError) {
        func bad(_ m: String) -> MetabaseError { MetabaseError(.invalidConfiguration, m) }
        guard connectTimeoutMs > 0, requestTimeoutMs >= connectTimeoutMs else { throw bad("request timeout must be >= connect timeout > 0") }
        guard (1...20).contains(attemptsMax) else { throw bad("attempts must be 1-20") }
        guard backoffBaseMs > 0, backoffMaxMs >= backoffBaseMs else { throw bad("backoff max must be >= backoff base > 0") }
        guard readyWaitMs >= 0, readyPollMs > 0 else { throw bad("ready wait must be >= 0 and poll > 0") }
        guard responseBodyBytesMax >= 1 << 16 else { throw bad("response body limit must be >= 64 KiB") }
    }
}

/// The Postgres connection as Metabase will use it (from inside Metabase's network: in compose,
/// `postgres:5432`, not the host's port), split into the fields of Metabase's `details`.
public struct PostgresTarget: Sendable, Equatable {
    public let host: String
    public let port: Int
    public let dbname: String
    public let user: String
    /// Sent to Metabase only; never printed.
    public let password: String?
    /// `sslmode` was `require`, `verify-ca` or `verify-full`.
    public let ssl: Bool

    /// Parses `postgres[ql]://user[:password]@host[:port]/dbname[?sslmode=…]` (user, password and
    /// dbname percent-decoded). Errors never quote the URL (it may hold the password).
    public init(url: String) throws(MetabaseError) {
        func bad(_ m: String) -> MetabaseError { MetabaseError(.invalidConfiguration, "Postgres URL: \(m)") }
        guard let scheme = url.firstRange(of: "://"), ["postgres", "postgresql"].contains(url[..<scheme.lowerBound]) else {
            throw bad("must start with postgres:// or postgresql://")
        }
        var rest = url[scheme.upperBound...]
        var query = Substring("")
        if let q = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: q)...]
            rest = rest[..<q]
        }
        guard let slash = rest.firstIndex(of: "/") else { throw bad("has no database name (…/dbname)") }
        let authority = rest[..<slash]
        let db = rest[rest.index(after: slash)...]
        guard let at = authority.lastIndex(of: "@") else { throw bad("has no user (user@host)") }
        let userinfo = authority[..<at]
        var hostport = authority[authority.index(after: at)...]
        let userPart = userinfo.firstIndex(of: ":").map { userinfo[..<$0] } ?? userinfo
        let passwordPart = userinfo.firstIndex(of: ":").map { userinfo[userinfo.index(after: $0)...] }
        var portText: Substring?
        if hostport.hasPrefix("[") {
            // [IPv6]:port
            guard let close = hostport.firstIndex(of: "]") else { throw bad("unclosed '[' in the host") }
            let after = hostport[hostport.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() } else if !after.isEmpty { throw bad("junk after the IPv6 host") }
            hostport = hostport[hostport.index(after: hostport.startIndex)..<close]
        } else if let colon = hostport.lastIndex(of: ":") {
            portText = hostport[hostport.index(after: colon)...]
            hostport = hostport[..<colon]
        }
        guard !hostport.isEmpty else { throw bad("has no host") }
        var port = 5432
        if let p = portText {
            guard let n = Int(p), (1...65535).contains(n) else { throw bad("port must be 1-65535") }
            port = n
        }
        guard let user = String(userPart).removingPercentEncoding, !user.isEmpty else { throw bad("has no user (user@host)") }
        guard let dbname = String(db).removingPercentEncoding, !dbname.isEmpty, !dbname.contains("/") else {
            throw bad("has no database name (…/dbname)")
        }
        let password = try passwordPart.map { p throws(MetabaseError) -> String in
            guard let decoded = String(p).removingPercentEncoding else { throw bad("the password has a bad %-escape") }
            return decoded
        }
        var ssl = false
        for pair in query.split(separator: "&") where pair.hasPrefix("sslmode=") {
            ssl = ["require", "verify-ca", "verify-full"].contains(pair.dropFirst("sslmode=".count))
        }
        self.host = String(hostport)
        self.port = port
        self.dbname = dbname
        self.user = user
        self.password = password.flatMap { $0.isEmpty ? nil : $0 }
        self.ssl = ssl
    }

    /// `user@host:port/dbname`, for output.
    public var description: String { "\(user)@\(host):\(port)/\(dbname)\(ssl ? " (ssl)" : "")" }
}

/// What to provision and where.
public struct MetabaseConfig: Sendable {
    /// Metabase's base URL, `http://host:port` (http only: no TLS in this client).
    public var url: String
    public var auth: MetabaseAuth
    /// Name of the database entry in Metabase (found by it, created when missing).
    public var databaseName: String
    public var postgres: PostgresTarget
    public var limits: MetabaseLimits
    /// Used only when the instance is new: the first admin's names and the site name.
    public var adminFirstName = "ees"
    public var adminLastName = "admin"
    public var siteName = "edge-event-stream"

    public init(url: String, auth: MetabaseAuth, databaseName: String, postgres: PostgresTarget,
                limits: MetabaseLimits = MetabaseLimits()) {
        self.url = url
        self.auth = auth
        self.databaseName = databaseName
        self.postgres = postgres
        self.limits = limits
    }

    /// The secrets the client holds, for scrubbing error text.
    var secrets: [String] {
        var out: [String] = []
        switch auth {
        case .password(_, let p): out.append(p)
        case .apiKey(let k): out.append(k)
        }
        if let p = postgres.password { out.append(p) }
        return out
    }
}
