import EESCore

/// The request bodies, built from `DashboardQueries` without I/O (so their shape is unit-tested).
/// Field names and shapes follow Metabase's API reference for 0.47–0.50; docs/metabase.md lists
/// what each call sends.
public enum MetabasePayloads {
    /// POST /api/setup: the first admin on a new instance. Metabase checks `token` against the
    /// setup token of GET /api/session/properties.
    public static func setup(token: String, email: String, password: String, config: MetabaseConfig) -> JSON {
        [
            "token": .string(token),
            "user": [
                "email": .string(email), "password": .string(password),
                "first_name": .string(config.adminFirstName), "last_name": .string(config.adminLastName),
                "site_name": .string(config.siteName),
            ],
            "prefs": ["site_name": .string(config.siteName), "allow_tracking": false],
        ]
    }

    /// POST /api/session.
    public static func login(user: String, password: String) -> JSON {
        ["username": .string(user), "password": .string(password)]
    }

    /// POST /api/database and PUT /api/database/:id: the Postgres connection, engine `postgres`.
    public static func database(name: String, postgres p: PostgresTarget) -> JSON {
        var details: [String: JSON] = [
            "host": .string(p.host), "port": .int(Int64(p.port)), "dbname": .string(p.dbname),
            "user": .string(p.user), "ssl": .bool(p.ssl), "tunnel-enabled": false,
        ]
        if let password = p.password { details["password"] = .string(password) }
        return ["name": .string(name), "engine": "postgres", "details": .object(details), "is_full_sync": true]
    }

    /// POST /api/collection: a top-level collection (`color` is sent because older versions
    /// required it).
    public static func collection() -> JSON {
        [
            "name": .string(DashboardQueries.collectionName),
            "description": .string(DashboardQueries.collectionDescription),
            "color": "#509EE3", "parent_id": nil,
        ]
    }

    /// POST /api/card and PUT /api/card/:id: a native question on `databaseID` with the device
    /// filter as an optional text template tag.
    public static func card(_ card: DashboardCard, databaseID: Int64, collectionID: Int64) -> JSON {
        let f = DashboardQueries.deviceFilter
        var tags: [String: JSON] = [:]
        var parameters: [JSON] = []
        for tag in card.tags {
            precondition(tag == f.tag, "card \(card.key) uses template tag \(tag), which no dashboard filter feeds")
            tags[tag] = [
                "id": .string(f.tagID), "name": .string(tag), "display-name": .string(f.displayName),
                "type": "text", "required": false,
            ]
            parameters.append([
                "id": .string(f.tagID), "type": "category", "name": .string(f.displayName), "slug": .string(f.slug),
                "target": ["variable", ["template-tag", .string(tag)]],
            ])
        }
        return [
            "name": .string(card.name),
            "description": .string(card.description),
            "collection_id": .int(collectionID),
            "display": .string(card.display.rawValue),
            "visualization_settings": visualizationSettings(card),
            "parameters": .array(parameters),
            "dataset_query": [
                "type": "native",
                "database": .int(databaseID),
                "native": ["query": .string(card.sql), "template-tags": .object(tags)],
            ],
        ]
    }

    static func visualizationSettings(_ card: DashboardCard) -> JSON {
        guard let chart = card.chart else { return ["table.pivot": false] }
        return [
            "graph.dimensions": .array(chart.dimensions.map { .string($0) }),
            "graph.metrics": .array(chart.metrics.map { .string($0) }),
            "graph.x_axis.title_text": .string(chart.xTitle),
            "graph.y_axis.title_text": .string(chart.yTitle),
        ]
    }

    /// The dashboard's filter: a text "is" filter (`string/=`, section `string`).
    public static func dashboardParameters() -> JSON {
        let f = DashboardQueries.deviceFilter
        return [["id": .string(f.parameterID), "name": .string(f.displayName), "slug": .string(f.slug),
                 "type": "string/=", "sectionId": "string"]]
    }

    /// POST /api/dashboard.
    public static func dashboard(collectionID: Int64) -> JSON {
        [
            "name": .string(DashboardQueries.dashboardName),
            "description": .string(DashboardQueries.dashboardDescription),
            "collection_id": .int(collectionID),
            "parameters": dashboardParameters(),
        ]
    }

    /// One card placed on the dashboard: `existingID` reuses the dashcard already showing this
    /// card (an update), else a negative id asks Metabase to create one.
    public struct Placement: Sendable, Equatable {
        public let card: DashboardCard
        public let cardID: Int64
        public let dashcardID: Int64
        public let tabID: Int64?
    }

    /// PUT /api/dashboard/:id (0.47+): name, filter and the complete list of dashcards; Metabase
    /// deletes dashcards left out, so the dashboard ends up with exactly these cards. `tabs` are
    /// sent back as they are (a dashboard with tabs needs every card on one).
    public static func dashboardUpdate(_ placements: [Placement], tabs: [JSON]) -> JSON {
        let f = DashboardQueries.deviceFilter
        let dashcards: [JSON] = placements.map { p in
            var mappings: [JSON] = []
            for tag in p.card.tags where tag == f.tag {
                mappings.append([
                    "parameter_id": .string(f.parameterID), "card_id": .int(p.cardID),
                    "target": ["variable", ["template-tag", .string(tag)]],
                ])
            }
            var dashcard: [String: JSON] = [
                "id": .int(p.dashcardID), "card_id": .int(p.cardID),
                "row": .int(Int64(p.card.layout.row)), "col": .int(Int64(p.card.layout.col)),
                "size_x": .int(Int64(p.card.layout.sizeX)), "size_y": .int(Int64(p.card.layout.sizeY)),
                "parameter_mappings": .array(mappings), "series": [], "visualization_settings": [:],
            ]
            if let tab = p.tabID { dashcard["dashboard_tab_id"] = .int(tab) }
            return .object(dashcard)
        }
        return [
            "name": .string(DashboardQueries.dashboardName),
            "description": .string(DashboardQueries.dashboardDescription),
            "parameters": dashboardParameters(),
            "dashcards": .array(dashcards),
            "tabs": .array(tabs),
        ]
    }
}
