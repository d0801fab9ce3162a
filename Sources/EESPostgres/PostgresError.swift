/// A Postgres adapter failure. `description` never contains the connection URL, a password or row
/// data; the server's DETAIL (which may quote values) is only in `debugDescription`.
public struct PostgresError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        /// The URL or another setting is malformed; fix the configuration.
        case invalidConfiguration = "invalid_configuration"
        /// Could not connect, or the connection broke mid-call (refused, timed out, reset).
        case connectionFailed = "connection_failed"
        /// A statement parameter cannot be sent (it contains U+0000, which Postgres text cannot hold).
        case invalidParameter = "invalid_parameter"
        /// The server rejected a statement; `sqlState` says why.
        case serverError = "server_error"
        /// The server answered with something this adapter did not expect (a bug or a protocol mix-up).
        case unexpectedResult = "unexpected_result"
        /// The database's schema is newer than this binary's migrations.
        case schemaTooNew = "schema_too_new"
        /// The database's schema is older than this binary needs (`ees migrate` has not run).
        case schemaOutdated = "schema_outdated"
        /// An applied migration's name differs from this binary's migration of the same version.
        case migrationMismatch = "migration_mismatch"
        /// Another process held the migration lock for longer than the configured wait.
        case migrationLockTimeout = "migration_lock_timeout"
    }

    public let code: Code
    /// The five-character SQLSTATE for `.serverError` (e.g. `23505`), when the server sent one.
    public let sqlState: String?
    /// Operator-facing text: what failed, the server's primary message; no secrets.
    public let message: String
    /// The server's DETAIL field, which can quote row values: kept out of `description`.
    public let detail: String?

    public init(_ code: Code, _ message: String, sqlState: String? = nil, detail: String? = nil) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
    }

    public var description: String {
        if let sqlState { return "\(code.rawValue) [\(sqlState)]: \(message)" }
        return "\(code.rawValue): \(message)"
    }

    public var debugDescription: String {
        guard let detail else { return description }
        return "\(description) (detail: \(detail))"
    }

    /// Whether the data sent is at fault — SQLSTATE class 22 (data exception: bad number, bad JSON),
    /// 23 (integrity violation), 54 (program limit exceeded), or a parameter Postgres cannot hold —
    /// so sending the same data again fails again. Everything else is about the server, the session
    /// or the deployment (missing schema, permissions, read-only standby) and may pass later.
    public var isDataError: Bool {
        switch code {
        case .invalidParameter: return true
        case .serverError:
            guard let sqlState else { return false }
            return ["22", "23", "54"].contains(String(sqlState.prefix(2)))
        default: return false
        }
    }

    /// Whether retrying the same work later may succeed: connection trouble, or SQLSTATE classes
    /// 08 (connection exception), 53 (insufficient resources), 57 (operator intervention: shutdown,
    /// statement timeout) and 40 (serialization failure, deadlock).
    public var isTransient: Bool {
        switch code {
        case .connectionFailed, .migrationLockTimeout: return true
        case .serverError:
            guard let sqlState else { return false }
            return ["08", "53", "57", "40"].contains(String(sqlState.prefix(2)))
        case .invalidConfiguration, .invalidParameter, .unexpectedResult, .schemaTooNew, .schemaOutdated, .migrationMismatch:
            return false
        }
    }
}
