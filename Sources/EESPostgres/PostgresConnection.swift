import CLibpq
import Glibc

/// libpq prints server NOTICEs (`relation already exists, skipping`, …) to stderr by default; they
/// are expected chatter here and would break the one-JSON-object-per-line log contract.
private let silentNoticeProcessor: PQnoticeProcessor = { _, _ in }

/// One libpq connection (`PGconn`), synchronous and blocking.
///
/// Thread safety: none. libpq allows one thread at a time per `PGconn`, so an instance must be used
/// by one thread at a time (own it, or guard it with a lock as `PostgresMetricsSink` does); this is
/// why the class is not `Sendable`. Calls block for at most the configured connect and statement
/// timeouts (TCP keepalives bound a silent peer).
///
/// A failed call leaves the object usable: `reconnectIfNeeded()` opens a fresh session when the old
/// one broke and rolls back a transaction left open by an error.
public final class PostgresConnection {
    public let configuration: PostgresConfiguration
    private var conn: OpaquePointer?

    /// Connects now; throws `.connectionFailed` (or `.invalidConfiguration`) when it cannot.
    public init(configuration: PostgresConfiguration) throws(PostgresError) {
        self.configuration = configuration
        try connect()
    }

    deinit { close() }

    /// Whether the session is believed usable. A server-side disconnect is only noticed on the next I/O.
    public var isConnected: Bool {
        guard let conn else { return false }
        return PQstatus(conn) == CONNECTION_OK
    }

    /// Closes the session. Later calls throw until `reconnectIfNeeded()`.
    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// Makes the connection ready for a new unit of work: reconnects when the session is gone or
    /// broken, and rolls back a transaction that an earlier error left open.
    public func reconnectIfNeeded() throws(PostgresError) {
        if let conn, PQstatus(conn) == CONNECTION_OK {
            let tx = PQtransactionStatus(conn)
            if tx == PQTRANS_IDLE { return }
            if tx == PQTRANS_INTRANS || tx == PQTRANS_INERROR {
                if (try? exec("ROLLBACK")) != nil, PQtransactionStatus(conn) == PQTRANS_IDLE { return }
            }
            // PQTRANS_ACTIVE/UNKNOWN: a half-finished exchange; only a new session is safe.
        }
        close()
        try connect()
    }

    // MARK: Statements

    /// Runs one or more `;`-separated statements (simple query protocol, no parameters); returns the
    /// last statement's result.
    @discardableResult
    public func exec(_ sql: String) throws(PostgresError) -> PostgresResult {
        let c = try live()
        return try consume(PQexec(c, sql), expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK], what: "statement")
    }

    /// Runs one statement with `$1…$n` parameters sent separately from the SQL (text format; `nil` is
    /// NULL), so values never need quoting. Values must not contain NUL characters.
    @discardableResult
    public func exec(_ sql: String, params: [String?]) throws(PostgresError) -> PostgresResult {
        let c = try live()
        // One buffer of NUL-terminated values instead of a C string per parameter; a value with a
        // NUL inside would be cut short by libpq, so it is refused.
        var buffer: [UInt8] = []
        buffer.reserveCapacity(params.reduce(0) { $0 + ($1?.utf8.count ?? 0) + 1 })
        var offsets: [Int?] = []
        for (i, p) in params.enumerated() {
            guard let p else { offsets.append(nil); continue }
            if p.utf8.contains(0) {
                throw PostgresError(.invalidParameter, "parameter $\(i + 1) contains U+0000, which Postgres text cannot hold")
            }
            offsets.append(buffer.count)
            buffer.append(contentsOf: p.utf8)
            buffer.append(0)
        }
        let res = buffer.withUnsafeBufferPointer { buf in
            let base = UnsafeRawPointer(buf.baseAddress)
            let values: [UnsafePointer<CChar>?] = offsets.map { off in
                off.flatMap { base?.advanced(by: $0).assumingMemoryBound(to: CChar.self) }
            }
            return values.withUnsafeBufferPointer { v in
                PQexecParams(c, sql, Int32(params.count), nil, v.baseAddress, nil, nil, 0)
            }
        }
        return try consume(res, expecting: [PGRES_COMMAND_OK, PGRES_TUPLES_OK], what: "statement")
    }

    /// Runs `COPY … FROM STDIN` and streams `payload` (already in the COPY format the statement
    /// names, e.g. text rows from `CopyTextEncoder`). Returns the number of rows copied.
    @discardableResult
    public func copyIn(_ sql: String, payload: [UInt8]) throws(PostgresError) -> Int {
        let c = try live()
        _ = try consume(PQexec(c, sql), expecting: [PGRES_COPY_IN], what: "COPY start")
        // libpq buffers what it is given; chunks keep one call's buffer growth bounded.
        let chunkBytes = 1 << 20
        var sent = true
        payload.withUnsafeBufferPointer { buf in
            var offset = 0
            while offset < buf.count {
                let n = min(chunkBytes, buf.count - offset)
                let ok = buf.baseAddress!.advanced(by: offset).withMemoryRebound(to: CChar.self, capacity: n) {
                    PQputCopyData(c, $0, Int32(n))
                }
                if ok != 1 { sent = false; return }
                offset += n
            }
        }
        // Ending the COPY even after a failed send lets the server answer with its error, which
        // drains the exchange and leaves the session usable.
        let ended = PQputCopyEnd(c, sent ? nil : "client failed to send COPY data") == 1
        var result: Result<PostgresResult, PostgresError> = .failure(connectionError(c, "COPY end"))
        var first = true
        // Every result must be read before the session accepts the next command.
        while let res = PQgetResult(c) {
            if first {
                first = false
                do throws(PostgresError) {
                    result = .success(try consume(res, expecting: [PGRES_COMMAND_OK], what: "COPY"))
                } catch { result = .failure(error) }
            } else {
                PQclear(res)
            }
        }
        let rows = try result.get().affectedRows
        guard sent, ended else { throw connectionError(c, "COPY data") }
        return rows
    }

    // MARK: Transactions

    /// `BEGIN`.
    public func begin() throws(PostgresError) { try exec("BEGIN") }

    /// `COMMIT`; throws when the server rolled back instead (it does so, silently, after an error).
    public func commit() throws(PostgresError) {
        let r = try exec("COMMIT")
        guard r.commandTag == "COMMIT" else {
            throw PostgresError(.unexpectedResult, "COMMIT answered \(r.commandTag): the transaction was rolled back")
        }
    }

    /// `ROLLBACK`; harmless outside a transaction.
    public func rollback() throws(PostgresError) { try exec("ROLLBACK") }

    /// Runs `body` between BEGIN and COMMIT; rolls back (best effort) when `body` or COMMIT throws.
    public func withTransaction<T>(_ body: (PostgresConnection) throws(PostgresError) -> T) throws(PostgresError) -> T {
        try begin()
        do {
            let value = try body(self)
            try commit()
            return value
        } catch {
            try? rollback()
            throw error
        }
    }

    // MARK: Internals

    private func connect() throws(PostgresError) {
        try configuration.validate()
        let params = configuration.connectParameters
        let keys = params.map { strdup($0.0) }
        let values = params.map { strdup($0.1) }
        defer {
            keys.forEach { free($0) }
            values.forEach { free($0) }
        }
        let c: OpaquePointer? = (keys.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { k in
            (values.map { UnsafePointer($0) } + [nil]).withUnsafeBufferPointer { v in
                PQconnectdbParams(k.baseAddress, v.baseAddress, 1)
            }
        }
        guard let c else { throw PostgresError(.connectionFailed, "libpq could not allocate a connection") }
        guard PQstatus(c) == CONNECTION_OK else {
            let err = connectionError(c, "connect")
            PQfinish(c)
            throw err
        }
        PQsetNoticeProcessor(c, silentNoticeProcessor, nil)
        conn = c
        if configuration.statementTimeoutMs > 0 {
            do throws(PostgresError) {
                try exec("SET statement_timeout = \(configuration.statementTimeoutMs)")
            } catch {
                close()
                throw error
            }
        }
    }

    private func live() throws(PostgresError) -> OpaquePointer {
        guard let conn else { throw PostgresError(.connectionFailed, "not connected") }
        return conn
    }

    /// Checks and clears `res`. A NULL result or a broken session is a connection failure; an error
    /// result carries its SQLSTATE and primary message.
    private func consume(_ res: OpaquePointer?, expecting ok: [ExecStatusType], what: String)
        throws(PostgresError) -> PostgresResult {
        let c = conn!
        guard let res else { throw connectionError(c, what) }
        defer { PQclear(res) }
        let status = PQresultStatus(res)
        if ok.contains(status) { return PostgresResult(copying: res) }
        if PQstatus(c) != CONNECTION_OK { throw connectionError(c, what) }
        if status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR {
            let sqlState = field(res, "C")
            let primary = field(res, "M") ?? "unknown error"
            throw PostgresError(.serverError, "\(what) failed: \(configuration.scrub(primary))", sqlState: sqlState,
                                detail: field(res, "D").map { configuration.scrub($0) })
        }
        throw PostgresError(.unexpectedResult,
                            "\(what): unexpected result status \(String(cString: PQresStatus(status)))")
    }

    private func field(_ res: OpaquePointer, _ code: Character) -> String? {
        guard let p = PQresultErrorField(res, Int32(code.asciiValue!)) else { return nil }
        return String(cString: p)
    }

    /// A connection-level failure with libpq's message (server address and OS error, never the
    /// password: scrubbed anyway in case a future libpq echoes the URL).
    private func connectionError(_ c: OpaquePointer, _ what: String) -> PostgresError {
        let raw = PQerrorMessage(c).map { String(cString: $0) } ?? ""
        // libpq's multi-line text ("…refused\n\tIs the server running…") as one log-friendly line.
        let text = raw.split(whereSeparator: { $0 == "\n" || $0 == "\t" })
            .map { $0.trimmingPrefix(" ") }.filter { !$0.isEmpty }.joined(separator: "; ")
        return PostgresError(.connectionFailed, "\(what): \(configuration.scrub(text.isEmpty ? "connection lost" : text))")
    }
}
