/// The analysts' dashboard, in one place: its collection, name, device filter and every card with
/// its native SQL. `ees metabase provision` sends exactly these to Metabase, `ees metabase queries`
/// prints the SQL (with the filter applied as Metabase would), and tests/e2e/51-dashboard-queries.sh
/// runs that SQL against Postgres filled by the pipeline. Change a query here and all three follow.
///
/// The SQL reads only the analyst views of migration 1 (`temperature_readings`, `anomalies`), so
/// the cards keep working when the tables behind the views change.
public enum DashboardQueries {
    /// Top-level Metabase collection holding the cards and the dashboard.
    public static let collectionName = "Edge event stream"
    public static let collectionDescription = "Cards and dashboard managed by `ees metabase provision`: edits are overwritten on the next run."
    public static let dashboardName = "Device temperatures and anomalies"
    public static let dashboardDescription = "Temperature per device over the last 24 hours and the anomalies the detectors found. "
        + "Managed by `ees metabase provision`."

    /// The dashboard's device filter, wired to each card's `{{device}}` template tag.
    public static let deviceFilter = DashboardFilter(
        tag: "device", displayName: "Device",
        // Fixed, so a rerun sends the same tag id and Metabase sees no change in the card's parameters.
        tagID: "5b0f3c1e-7d4a-4c1e-9a52-ee5d0e1ce001",
        parameterID: "ees_device", slug: "device")

    /// Temperature per device and minute, newest first. Minute buckets keep a dashboard tile at
    /// 1,440 rows per device per day; newest-first means that if Metabase cuts the result at its
    /// row limit (2,000 rows for native questions), the oldest minutes go, not the latest.
    public static let temperature = DashboardCard(
        key: "temperature",
        name: "Temperature per device",
        description: "Average and maximum temperature (°C) per device and minute, last 24 hours (device clock).",
        display: .line,
        sql: """
            SELECT date_trunc('minute', ts) AS minute,
                   device_id,
                   round(avg(temperature_c)::numeric, 2) AS avg_temperature_c,
                   max(temperature_c) AS max_temperature_c,
                   count(*) AS readings
            FROM temperature_readings
            WHERE ts >= now() - interval '24 hours'
              [[AND device_id = {{device}}]]
            GROUP BY 1, 2
            ORDER BY 1 DESC, 2
            """,
        chart: ChartAxes(dimensions: ["minute", "device_id"], metrics: ["avg_temperature_c"],
                         xTitle: "Time (device clock)", yTitle: "Temperature (°C)"),
        layout: CardLayout(row: 0, col: 0, sizeX: 24, sizeY: 8))

    /// Every anomaly, newest first (the list an operator works through), at most 2,000 rows.
    public static let anomalies = DashboardCard(
        key: "anomalies",
        name: "Anomalies",
        description: "Readings a detector flagged, newest first: when, which device, the value and the threshold it crossed.",
        display: .table,
        sql: """
            SELECT ts AS "time",
                   device_id AS device,
                   metric,
                   value,
                   threshold,
                   algorithm,
                   severity,
                   detected_at
            FROM anomalies
            WHERE true
              [[AND device_id = {{device}}]]
            ORDER BY ts DESC, device_id, metric, algorithm
            LIMIT 2000
            """,
        chart: nil,
        layout: CardLayout(row: 8, col: 0, sizeX: 16, sizeY: 8))

    /// Readings and anomalies per device over all time. Reads every temperature row: fine for a
    /// dashboard tile on a modest table (see the note on `device_metrics_latest` in Migrations).
    public static let readingsPerDevice = DashboardCard(
        key: "readings",
        name: "Readings per device",
        description: "Temperature readings and anomalies per device, with the first and last reading time (all time).",
        display: .table,
        sql: """
            SELECT r.device_id AS device,
                   r.readings,
                   coalesce(a.anomalies, 0) AS anomalies,
                   r.first_reading,
                   r.last_reading
            FROM (SELECT device_id, count(*) AS readings, min(ts) AS first_reading, max(ts) AS last_reading
                  FROM temperature_readings
                  WHERE true
                    [[AND device_id = {{device}}]]
                  GROUP BY device_id) r
            LEFT JOIN (SELECT device_id, count(*) AS anomalies
                       FROM anomalies
                       WHERE true
                         [[AND device_id = {{device}}]]
                       GROUP BY device_id) a USING (device_id)
            ORDER BY r.device_id
            """,
        chart: nil,
        layout: CardLayout(row: 8, col: 16, sizeX: 8, sizeY: 8))

    /// The cards in dashboard order.
    public static let cards = [temperature, anomalies, readingsPerDevice]

    /// The card with this key (`temperature`, `anomalies`, `readings`).
    public static func card(key: String) -> DashboardCard? { cards.first { $0.key == key } }
}

/// A dashboard filter bound to a text template tag of the same name in every card.
public struct DashboardFilter: Sendable, Equatable {
    /// The template tag, `{{tag}}` in the SQL.
    public let tag: String
    public let displayName: String
    /// The tag's id inside each card's `template-tags`.
    public let tagID: String
    /// The dashboard parameter's id (what `parameter_mappings` point at).
    public let parameterID: String
    public let slug: String
}

/// How a card is drawn.
public enum CardDisplay: String, Sendable, CaseIterable {
    case line
    case table
}

/// Columns of a chart: the first dimension is the x axis, a second one splits series (one line
/// per device).
public struct ChartAxes: Sendable, Equatable {
    public let dimensions: [String]
    public let metrics: [String]
    public let xTitle: String
    public let yTitle: String
}

/// Position on Metabase's 24-column dashboard grid.
public struct CardLayout: Sendable, Equatable {
    public let row: Int
    public let col: Int
    public let sizeX: Int
    public let sizeY: Int
}

/// One question on the dashboard.
public struct DashboardCard: Sendable, Equatable {
    /// Short stable name for the command line (`ees metabase queries --card KEY`).
    public let key: String
    /// The card's name in Metabase; provisioning finds the card by it.
    public let name: String
    public let description: String
    public let display: CardDisplay
    /// Native SQL in Metabase's template syntax: `{{tag}}` variables, `[[…]]` optional clauses.
    public let sql: String
    /// Axes of a chart; nil for a table.
    public let chart: ChartAxes?
    public let layout: CardLayout

    /// The template tags the SQL uses, in order of first use.
    public var tags: [String] { (try? NativeQuery.parse(sql).tags) ?? [] }
}
