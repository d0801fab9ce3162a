/// One versioned schema change, applied once per database in its own transaction.
public struct Migration: Sendable, Equatable {
    /// Strictly increasing, starting at 1; recorded in `schema_migrations.version`.
    public let version: Int
    /// Short name, recorded beside the version and checked on later runs.
    public let name: String
    /// One or more `;`-separated statements. Must be transactional (no `CREATE INDEX CONCURRENTLY`).
    public let sql: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }
}

/// The schema this binary knows, in order. Append only: never edit a released migration, add the
/// next version instead (the names of applied versions are checked on every run).
public enum Migrations {
    public static let all: [Migration] = [
        Migration(version: 1, name: "initial", sql: initialSchema),
    ]

    /// v1: the tables, indexes and analyst views of DESIGN.md ("Postgres"), with descriptions that
    /// Metabase shows beside tables and columns.
    static let initialSchema = """
        CREATE TABLE device_metrics (
            ts          timestamptz      NOT NULL,
            device_id   text             NOT NULL,
            stream_key  text             NOT NULL,
            seq         bigint           NOT NULL,
            metric      text             NOT NULL,
            value       double precision NOT NULL,
            ingested_at timestamptz      NOT NULL,
            PRIMARY KEY (stream_key, seq, metric)
        );
        CREATE INDEX device_metrics_device_ts_idx ON device_metrics (device_id, ts);
        CREATE INDEX device_metrics_metric_ts_idx ON device_metrics (metric, ts);
        COMMENT ON TABLE device_metrics IS 'One numeric reading per event and metric, written by the ees processor. Unique per (stream_key, seq, metric).';
        COMMENT ON COLUMN device_metrics.ts IS 'When the device measured the value (device clock).';
        COMMENT ON COLUMN device_metrics.device_id IS 'Device that sent the event.';
        COMMENT ON COLUMN device_metrics.stream_key IS 'Stream the event belongs to (defaults to the device id).';
        COMMENT ON COLUMN device_metrics.seq IS 'Gap-free sequence number of the event within its stream.';
        COMMENT ON COLUMN device_metrics.metric IS 'Name of the payload field, e.g. temperature.';
        COMMENT ON COLUMN device_metrics.value IS 'Numeric value of the field, in the unit the device reports (temperature: degrees Celsius).';
        COMMENT ON COLUMN device_metrics.ingested_at IS 'When the ingest node accepted the event (server clock).';

        CREATE TABLE anomaly_events (
            id          bigserial        PRIMARY KEY,
            detected_at timestamptz      NOT NULL,
            ts          timestamptz      NOT NULL,
            device_id   text             NOT NULL,
            stream_key  text             NOT NULL,
            seq         bigint           NOT NULL,
            metric      text             NOT NULL,
            value       double precision NOT NULL,
            threshold   double precision NOT NULL,
            algorithm   text             NOT NULL,
            severity    text             NOT NULL,
            details     jsonb            NOT NULL DEFAULT '{}',
            UNIQUE (stream_key, seq, metric, algorithm)
        );
        CREATE INDEX anomaly_events_ts_idx ON anomaly_events (ts DESC);
        CREATE INDEX anomaly_events_device_ts_idx ON anomaly_events (device_id, ts);
        COMMENT ON TABLE anomaly_events IS 'Readings a detector flagged as anomalous. Unique per (stream_key, seq, metric, algorithm).';
        COMMENT ON COLUMN anomaly_events.id IS 'Surrogate key.';
        COMMENT ON COLUMN anomaly_events.detected_at IS 'When the processor detected the anomaly (server clock).';
        COMMENT ON COLUMN anomaly_events.ts IS 'When the device measured the value (device clock).';
        COMMENT ON COLUMN anomaly_events.device_id IS 'Device that sent the event.';
        COMMENT ON COLUMN anomaly_events.stream_key IS 'Stream the event belongs to.';
        COMMENT ON COLUMN anomaly_events.seq IS 'Sequence number of the event within its stream.';
        COMMENT ON COLUMN anomaly_events.metric IS 'Name of the payload field, e.g. temperature.';
        COMMENT ON COLUMN anomaly_events.value IS 'The value that was flagged, in the device''s unit.';
        COMMENT ON COLUMN anomaly_events.threshold IS 'The limit the value was compared with, in the same unit.';
        COMMENT ON COLUMN anomaly_events.algorithm IS 'Detector that flagged it, e.g. threshold.';
        COMMENT ON COLUMN anomaly_events.severity IS 'Severity chosen by the detector, e.g. warning or critical.';
        COMMENT ON COLUMN anomaly_events.details IS 'Detector-specific details (JSON).';

        CREATE TABLE processed_segments (
            seg_key      text        PRIMARY KEY,
            stream_key   text        NOT NULL,
            seq_start    bigint      NOT NULL,
            seq_end      bigint      NOT NULL,
            rows         integer     NOT NULL,
            processed_at timestamptz NOT NULL DEFAULT now()
        );
        COMMENT ON TABLE processed_segments IS 'Segments (object-store files) the processor has written, one row each; makes processing idempotent.';
        COMMENT ON COLUMN processed_segments.seg_key IS 'Object key of the segment: stream/<stream_key>/seg/<start>-<end>.jsonl.';
        COMMENT ON COLUMN processed_segments.stream_key IS 'Stream the segment belongs to.';
        COMMENT ON COLUMN processed_segments.seq_start IS 'First sequence number in the segment.';
        COMMENT ON COLUMN processed_segments.seq_end IS 'Last sequence number in the segment (inclusive).';
        COMMENT ON COLUMN processed_segments.rows IS 'Number of events in the segment.';
        COMMENT ON COLUMN processed_segments.processed_at IS 'When the processor committed the segment.';

        CREATE VIEW temperature_readings AS
            SELECT ts, device_id, stream_key, seq, value AS temperature_c
            FROM device_metrics
            WHERE metric = 'temperature';
        COMMENT ON VIEW temperature_readings IS 'Temperature readings, one row per event, in degrees Celsius.';
        COMMENT ON COLUMN temperature_readings.ts IS 'When the device measured the temperature.';
        COMMENT ON COLUMN temperature_readings.device_id IS 'Device that measured it.';
        COMMENT ON COLUMN temperature_readings.stream_key IS 'Stream of the event.';
        COMMENT ON COLUMN temperature_readings.seq IS 'Sequence number of the event within its stream.';
        COMMENT ON COLUMN temperature_readings.temperature_c IS 'Temperature in degrees Celsius.';

        CREATE VIEW anomalies AS
            SELECT detected_at, ts, device_id, metric, value, threshold, algorithm, severity
            FROM anomaly_events;
        COMMENT ON VIEW anomalies IS 'Anomalies found by the detectors, one row per flagged reading.';
        COMMENT ON COLUMN anomalies.detected_at IS 'When the anomaly was detected.';
        COMMENT ON COLUMN anomalies.ts IS 'When the device measured the value.';
        COMMENT ON COLUMN anomalies.device_id IS 'Device that sent the reading.';
        COMMENT ON COLUMN anomalies.metric IS 'Which reading, e.g. temperature.';
        COMMENT ON COLUMN anomalies.value IS 'The flagged value (temperature: degrees Celsius).';
        COMMENT ON COLUMN anomalies.threshold IS 'The limit it was compared with, same unit.';
        COMMENT ON COLUMN anomalies.algorithm IS 'Detector that flagged it.';
        COMMENT ON COLUMN anomalies.severity IS 'Severity assigned by the detector, e.g. warning or critical.';

        -- DISTINCT ON reads every row of device_metrics: fine for a dashboard tile on a modest table;
        -- past that, filter by ts in the question or keep a maintained latest-value table instead.
        CREATE VIEW device_metrics_latest AS
            SELECT DISTINCT ON (device_id, metric) device_id, metric, ts, value
            FROM device_metrics
            ORDER BY device_id, metric, ts DESC, seq DESC;
        COMMENT ON VIEW device_metrics_latest IS 'Latest value of each metric of each device (scans device_metrics: filter large tables by ts).';
        COMMENT ON COLUMN device_metrics_latest.device_id IS 'Device.';
        COMMENT ON COLUMN device_metrics_latest.metric IS 'Metric name, e.g. temperature.';
        COMMENT ON COLUMN device_metrics_latest.ts IS 'When the device measured its latest value.';
        COMMENT ON COLUMN device_metrics_latest.value IS 'The latest value, in the device''s unit.';
        """
}
