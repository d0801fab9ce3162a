/// Where processed segments go: metric rows, anomalies and the record that the segment is done.
///
/// Implementations write one segment per call, atomically (all rows plus the processed-segment
/// record, or nothing), and idempotently: a second call for a segment already written inserts
/// nothing and returns `.alreadyProcessed`. So a processor that crashes between the write and its
/// acknowledgement simply writes again. Calls may block on I/O; a sink may serialise concurrent calls.
public protocol MetricsSink: Sendable {
    /// Writes the segment's rows and marks the segment processed, in one transaction.
    ///
    /// Rows already present (same identity) are skipped, so the counts in `.written` may be
    /// smaller than the arrays passed in.
    func write(segment: ProcessedSegment, metrics: [MetricRow], anomalies: [AnomalyRow])
        throws(MetricsSinkError) -> WriteOutcome
    /// Whether `segKey` has been written (committed) before.
    func isProcessed(segKey: String) throws(MetricsSinkError) -> Bool
}

/// What a `MetricsSink.write` did.
public enum WriteOutcome: Sendable, Equatable {
    /// The segment was new: this many metric rows and anomalies were inserted.
    case written(metricsInserted: Int, anomaliesInserted: Int)
    /// The segment had been written before; nothing was changed.
    case alreadyProcessed
}

/// A metrics-sink failure. `description` never contains a connection URL, credentials or row data.
public struct MetricsSinkError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Code: String, Sendable {
        /// The store could not be reached, the write was interrupted, or the store is not ready
        /// for it (connection refused or lost, timeout, shutdown, schema not migrated, permissions,
        /// read-only standby). Nothing was committed, or the commit is unknown; retrying the same
        /// write with backoff is safe.
        case unavailable
        /// The data itself was refused (a value the column cannot hold, invalid JSON, a U+0000
        /// character). Retrying the same rows fails again: the segment needs an operator
        /// (dead-letter queue).
        case rejected
    }
    public let code: Code
    /// Operator-facing detail (server address, SQLSTATE, server message); never a secret.
    public let message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code.rawValue): \(message)" }
}
