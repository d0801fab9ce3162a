import Glibc

/// What a `Migrator.migrate` run did.
public struct MigrationReport: Sendable, Equatable {
    /// Schema version before the run (0: empty database).
    public let fromVersion: Int
    /// Schema version after the run.
    public let toVersion: Int
    /// Versions this run applied, in order; empty when the schema was already current.
    public let applied: [Int]

    public init(fromVersion: Int, toVersion: Int, applied: [Int]) {
        self.fromVersion = fromVersion
        self.toVersion = toVersion
        self.applied = applied
    }
}

/// Applies `Migrations.all` (or the given list) to a database.
///
/// Safe to run from several processes at once: the whole run holds a session-level
/// `pg_advisory_lock(Migrator.advisoryLockKey)` (advisory locks are per database), so one process
/// applies the missing versions and the others then find nothing to do. Each migration runs in its
/// own transaction together with its `schema_migrations` row, so a failure leaves the schema at the
/// last complete version. A database whose schema is newer than this binary is refused.
public struct Migrator: Sendable {
    /// Fixed key for the migration lock: ASCII "ees_migr" as a big-endian 64-bit integer.
    public static let advisoryLockKey: Int64 = 0x6565_735F_6D69_6772

    public let migrations: [Migration]
    /// How long to wait for another process's migration run before giving up.
    public let lockWaitMs: Int
    /// `statement_timeout` inside a migration's transaction (0: none); migrations of big tables
    /// outlast the 30 s default of ordinary statements.
    public let migrationStatementTimeoutMs: Int

    /// - Precondition: versions start at 1 and increase by 1 (a gap is a bug in the binary).
    public init(migrations: [Migration] = Migrations.all, lockWaitMs: Int = 60_000,
                migrationStatementTimeoutMs: Int = 600_000) {
        for (i, m) in migrations.enumerated() {
            precondition(m.version == i + 1, "migration versions must be 1, 2, 3, … in order; got \(m.version) at \(i)")
        }
        precondition(lockWaitMs >= 0 && migrationStatementTimeoutMs >= 0, "negative migrator limit")
        self.migrations = migrations
        self.lockWaitMs = lockWaitMs
        self.migrationStatementTimeoutMs = migrationStatementTimeoutMs
    }

    /// The highest version this binary knows.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Brings the database to `latestVersion`. Idempotent.
    @discardableResult
    public func migrate(on connection: PostgresConnection) throws(PostgresError) -> MigrationReport {
        try connection.reconnectIfNeeded()
        try acquireLock(connection)
        defer { _ = try? connection.exec("SELECT pg_advisory_unlock($1)", params: [String(Self.advisoryLockKey)]) }

        try connection.exec("""
            CREATE TABLE IF NOT EXISTS schema_migrations (
                version    integer     PRIMARY KEY,
                name       text        NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
        let applied = try appliedVersions(connection)
        let from = applied.keys.max() ?? 0
        try check(applied: applied)

        var done: [Int] = []
        for m in migrations where applied[m.version] == nil {
            try connection.withTransaction { (c: PostgresConnection) throws(PostgresError) in
                try c.exec("SET LOCAL statement_timeout = \(migrationStatementTimeoutMs)")
                do throws(PostgresError) {
                    try c.exec(m.sql)
                } catch {
                    throw PostgresError(error.code, "migration \(m.version) (\(m.name)): \(error.message)",
                                        sqlState: error.sqlState, detail: error.detail)
                }
                try c.exec("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                           params: [String(m.version), m.name])
            }
            done.append(m.version)
        }
        return MigrationReport(fromVersion: from, toVersion: max(from, done.last ?? from), applied: done)
    }

    /// The database's schema version (0 when never migrated), without taking the lock.
    public func currentVersion(on connection: PostgresConnection) throws(PostgresError) -> Int {
        try connection.reconnectIfNeeded()
        let exists = try connection.exec("SELECT to_regclass('schema_migrations') IS NOT NULL").scalar == "t"
        guard exists else { return 0 }
        return Int(try connection.exec("SELECT coalesce(max(version), 0) FROM schema_migrations").scalar ?? "0") ?? 0
    }

    /// Throws unless the database is exactly at `latestVersion`: for services that write to the
    /// schema (the processor) to stop at start-up with one clear line instead of failing per row.
    public func requireCurrent(on connection: PostgresConnection) throws(PostgresError) {
        let version = try currentVersion(on: connection)
        if version > latestVersion {
            throw PostgresError(.schemaTooNew,
                                "database schema is at version \(version) but this ees binary knows versions up to \(latestVersion); run a newer ees")
        }
        if version < latestVersion {
            throw PostgresError(.schemaOutdated,
                                "database schema is at version \(version), this ees binary needs \(latestVersion); run `ees migrate`")
        }
    }

    // MARK: Internals

    /// Polls `pg_try_advisory_lock` rather than blocking in `pg_advisory_lock`, so the wait has its
    /// own bound independent of `statement_timeout`.
    private func acquireLock(_ connection: PostgresConnection) throws(PostgresError) {
        let pollMs = 100
        var waitedMs = 0
        while true {
            let got = try connection.exec("SELECT pg_try_advisory_lock($1)", params: [String(Self.advisoryLockKey)])
            if got.scalar == "t" { return }
            guard waitedMs < lockWaitMs else {
                throw PostgresError(.migrationLockTimeout,
                                    "another process held the migration lock for over \(lockWaitMs) ms")
            }
            usleep(useconds_t(pollMs * 1000))
            waitedMs += pollMs
        }
    }

    private func appliedVersions(_ connection: PostgresConnection) throws(PostgresError) -> [Int: String] {
        var out: [Int: String] = [:]
        for row in try connection.exec("SELECT version, name FROM schema_migrations ORDER BY version").rows {
            guard let v = row[0].flatMap({ Int($0) }) else {
                throw PostgresError(.unexpectedResult, "schema_migrations holds a NULL or non-integer version")
            }
            out[v] = row[1] ?? ""
        }
        return out
    }

    private func check(applied: [Int: String]) throws(PostgresError) {
        if let newest = applied.keys.max(), newest > latestVersion {
            throw PostgresError(.schemaTooNew,
                                "database schema is at version \(newest) but this ees binary knows versions up to \(latestVersion); run a newer ees (refusing to touch a newer schema)")
        }
        for m in migrations {
            if let name = applied[m.version], name != m.name {
                throw PostgresError(.migrationMismatch,
                                    "schema_migrations version \(m.version) is named '\(name)' but this binary's is '\(m.name)'")
            }
        }
    }
}
