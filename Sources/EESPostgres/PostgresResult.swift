import CLibpq

/// A statement's result, copied out of libpq: column names, rows of optional strings (text format;
/// `nil` is SQL NULL) and the command tag.
public struct PostgresResult: Sendable, Equatable {
    /// Column names, in order; empty for commands that return no rows.
    public let columns: [String]
    /// Values as Postgres prints them (`t`/`f` for booleans, ISO timestamps, shortest exact floats).
    public let rows: [[String?]]
    /// The command tag, e.g. `INSERT 0 42`, `COMMIT`, `ROLLBACK`.
    public let commandTag: String
    /// Rows inserted/updated/deleted/copied/returned per the command tag (0 when it has no count).
    public let affectedRows: Int

    public init(columns: [String], rows: [[String?]], commandTag: String, affectedRows: Int) {
        self.columns = columns
        self.rows = rows
        self.commandTag = commandTag
        self.affectedRows = affectedRows
    }

    /// Copies everything out of `res` (which the caller still owns and clears).
    init(copying res: OpaquePointer) {
        // Only row-returning results have named columns (a COPY result has nfields but no names).
        let hasRows = PQresultStatus(res) == PGRES_TUPLES_OK
        let nFields = hasRows ? PQnfields(res) : 0
        let nTuples = hasRows ? PQntuples(res) : 0
        columns = (0..<nFields).map { PQfname(res, $0).map { String(cString: $0) } ?? "" }
        rows = (0..<nTuples).map { r in
            (0..<nFields).map { c in
                PQgetisnull(res, r, c) == 1 ? nil : String(cString: PQgetvalue(res, r, c))
            }
        }
        commandTag = String(cString: PQcmdStatus(res))
        affectedRows = Int(String(cString: PQcmdTuples(res))) ?? 0
    }

    /// The first row's first value: handy for `SELECT count(*)` and friends.
    public var scalar: String? { rows.first?.first ?? nil }
}
