import EESCore
import EESMetabase

/// `ees metabase provision|queries`: the analysts' dashboard in Metabase, and its SQL.
enum MetabaseCommand {
    static let provisionSpecs = [
        OptionSpec("url", env: "EES_METABASE_URL", default: "http://127.0.0.1:3000", help: "Metabase base URL (http:// only)"),
        OptionSpec("user", env: "EES_METABASE_USER", help: "admin email: signs in, or becomes the first admin of a new instance"),
        OptionSpec("password", env: "EES_METABASE_PASSWORD", help: "that user's password (prefer the variable: flags show in ps)"),
        OptionSpec("api-key", env: "EES_METABASE_API_KEY", help: "Metabase API key (0.47+), instead of --user/--password"),
        OptionSpec("postgres-url", env: "EES_METABASE_POSTGRES_URL",
                   help: "Postgres as Metabase reaches it: postgres://user:pass@host:port/db[?sslmode=require]"),
        OptionSpec("database-name", env: "EES_METABASE_DATABASE_NAME", default: "ees", help: "name of the database entry in Metabase"),
        OptionSpec("wait-s", default: "120", help: "how long to wait for Metabase to report healthy (0-3600)"),
        OptionSpec("request-timeout-ms", default: "60000", help: "timeout of one request and its whole response"),
        OptionSpec("attempts", default: "4", help: "attempts per request on retryable failures (1-20)"),
    ]

    static let querySpecs = [
        OptionSpec("card", help: "only this card: " + DashboardQueries.cards.map(\.key).joined(separator: ", ")),
        OptionSpec("device", help: "apply the device filter as Metabase would (default: no filter, optional clauses dropped)"),
        OptionSpec("template", help: "print the SQL as Metabase stores it, with {{tags}} and [[optional clauses]]", isSwitch: true),
    ]

    static var all: [Command] {
        [
            Command(path: ["metabase", "provision"],
                    usage: "ees metabase provision --url http://metabase:3000 (--user EMAIL --password P | --api-key K) --postgres-url postgres://… [--database-name ees]",
                    summary: "Sets Metabase up (first admin on a new instance), adds the Postgres database and creates or updates the collection, cards and dashboard. Idempotent.",
                    specs: provisionSpecs, run: provision),
            Command(path: ["metabase", "queries"], usage: "ees metabase queries [--card KEY] [--device ID] [--template]",
                    summary: "Prints the dashboard cards' SQL, with the device filter applied as Metabase applies it, for psql.",
                    specs: querySpecs, run: queries),
        ]
    }

    static func provisionConfig(_ o: ParsedOptions) throws -> MetabaseConfig {
        try o.noPositionals()
        let user = o.string("user"), password = o.string("password"), apiKey = o.string("api-key")
        let auth: MetabaseAuth
        if let apiKey {
            guard user == nil && password == nil else { throw ConfigError("give --api-key or --user and --password, not both") }
            auth = .apiKey(apiKey)
        } else if let user, let password {
            auth = .password(user: user, password: password)
        } else {
            throw ConfigError("give --user and --password, or --api-key")
        }
        var limits = MetabaseLimits()
        limits.readyWaitMs = try o.int("wait-s", in: 0...3600)! * 1000
        limits.requestTimeoutMs = try o.int("request-timeout-ms", in: 1000...600_000)!
        limits.connectTimeoutMs = min(limits.connectTimeoutMs, limits.requestTimeoutMs)
        limits.attemptsMax = try o.int("attempts", in: 1...20)!
        let name = try o.require("database-name")
        let url = try o.require("url")
        let postgresURL = try o.require("postgres-url")
        let postgres: PostgresTarget
        do {
            postgres = try PostgresTarget(url: postgresURL)
        } catch {
            throw ConfigError("--postgres-url: \(error.message)")
        }
        return MetabaseConfig(url: url, auth: auth, databaseName: name, postgres: postgres, limits: limits)
    }

    static func provision(_ o: ParsedOptions) throws -> Int32 {
        let report = try run(try provisionConfig(o))
        for step in report.steps { out(step.description) }
        out("dashboard: \(report.dashboardURL)")
        return Exit.ok
    }

    /// A bad URL is a usage error (exit 2); every other failure exits 1.
    private static func run(_ config: MetabaseConfig) throws -> MetabaseProvisioner.Report {
        do {
            return try MetabaseProvisioner(config: config).run()
        } catch {
            if error.code == .invalidConfiguration { throw ConfigError("--url: \(error.message)") }
            throw error
        }
    }

    static func queries(_ o: ParsedOptions) throws -> Int32 {
        try o.noPositionals()
        var cards = DashboardQueries.cards
        if let key = o.string("card") {
            guard let card = DashboardQueries.card(key: key) else {
                throw ConfigError("--card: '\(key)' is not one of \(DashboardQueries.cards.map(\.key).joined(separator: ", "))")
            }
            cards = [card]
        }
        var values: [String: String] = [:]
        if let device = o.string("device") {
            guard !o.isSet("template") else { throw ConfigError("--device and --template exclude each other") }
            values[DashboardQueries.deviceFilter.tag] = device
        }
        for card in cards {
            // Parsing cannot fail for the shipped cards (a unit test parses each); a failure is a bug.
            var sql = card.sql
            if !o.isSet("template") { sql = try NativeQuery.parse(card.sql).render(values) }
            if cards.count > 1 { out("-- \(card.key): \(card.name) (\(card.display.rawValue))") }
            out(sql + ";")
        }
        return Exit.ok
    }
}
