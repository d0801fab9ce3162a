import EESCore
import EESPostgres

/// `ees migrate`: brings the Postgres schema to this binary's version (idempotent, safe to run
/// from several pods at once: one applies, the others wait on the advisory lock and find nothing
/// to do).
enum MigrateCommand {
    static let postgres = [
        OptionSpec("postgres", env: "EES_POSTGRES_URL", default: "postgres://postgres@127.0.0.1:5432/ees",
                   help: "Postgres URL postgres://user[:password]@host:port/db[?sslmode=…]"),
    ]

    static let command = Command(path: ["migrate"], usage: "ees migrate [--postgres postgres://user@host:5432/db]",
                                 summary: "Applies the database migrations this binary knows, under an advisory lock. Idempotent.",
                                 specs: postgres, run: run)

    /// The configuration for `--postgres`, checked without connecting.
    static func configuration(_ o: ParsedOptions, applicationName: String) throws -> PostgresConfiguration {
        let config = PostgresConfiguration(url: try o.require("postgres"), applicationName: applicationName)
        do throws(PostgresError) { try config.validate() } catch { throw ConfigError("--postgres: \(error.message)") }
        return config
    }

    static func run(_ o: ParsedOptions) throws -> Int32 {
        let config = try configuration(o, applicationName: "ees-migrate")
        let report = try Migrator().migrate(on: PostgresConnection(configuration: config))
        if report.applied.isEmpty {
            out("schema of \(config.hostDescription) is current at version \(report.toVersion)")
        } else {
            out("schema of \(config.hostDescription) migrated from version \(report.fromVersion) to \(report.toVersion) "
                + "(applied \(report.applied.map(String.init).joined(separator: ", ")))")
        }
        return Exit.ok
    }
}
