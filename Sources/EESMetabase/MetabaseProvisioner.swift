import EESCore

/// Sets Metabase up for the analysts, idempotently: a second run finds everything by name and
/// updates it in place, so nothing is duplicated and edits to the managed items are overwritten.
///
/// Steps: wait for /api/health; set up a new instance (POST /api/setup) or sign in; find or add
/// the Postgres database (then update its connection); find or create the collection; create or
/// update each card; find or create the dashboard and set its filter and cards.
public struct MetabaseProvisioner {
    public let config: MetabaseConfig

    public init(config: MetabaseConfig) { self.config = config }

    /// One line per item: what it is, its id, and what happened.
    public struct Step: Sendable, Equatable, CustomStringConvertible {
        public enum Action: String, Sendable { case created, updated, found, setUp = "set up", signedIn = "signed in" }
        public let item: String
        public let id: Int64?
        public let action: Action
        public var description: String { id.map { "\(item) (id \($0)): \(action.rawValue)" } ?? "\(item): \(action.rawValue)" }
    }

    public struct Report: Sendable {
        public var steps: [Step] = []
        public var dashboardID: Int64 = 0
        /// Where an analyst opens the dashboard.
        public var dashboardURL = ""
    }

    /// Runs every step; throws at the first failure (already-done steps stay done: rerun to finish).
    public func run() throws(MetabaseError) -> Report {
        let client = try MetabaseClient(url: config.url, limits: config.limits, secrets: config.secrets)
        var report = Report()
        try client.waitUntilReady()
        report.steps.append(try signIn(client))

        let (databaseID, dbStep) = try database(client)
        report.steps.append(dbStep)
        let (collectionID, collectionStep) = try collection(client)
        report.steps.append(collectionStep)

        let existingCards = try items(client, collectionID: collectionID, model: "card")
        var placements: [(DashboardCard, Int64)] = []
        for card in DashboardQueries.cards {
            let body = MetabasePayloads.card(card, databaseID: databaseID, collectionID: collectionID)
            if let id = existingCards[card.name] {
                _ = try client.call("PUT", "/api/card/\(id)", body)
                report.steps.append(Step(item: "card \"\(card.name)\"", id: id, action: .updated))
                placements.append((card, id))
            } else {
                let id = try requireID(client.call("POST", "/api/card", body), "POST /api/card")
                report.steps.append(Step(item: "card \"\(card.name)\"", id: id, action: .created))
                placements.append((card, id))
            }
        }

        let (dashboardID, dashboardStep) = try dashboard(client, collectionID: collectionID, cards: placements)
        report.steps.append(dashboardStep)
        report.dashboardID = dashboardID
        report.dashboardURL = "\(client.endpoint)/dashboard/\(dashboardID)"
        return report
    }

    // MARK: steps

    /// A new instance (setup token present, no user yet) gets its first admin and yields that
    /// admin's session; otherwise the user signs in, or the API key is used as it is.
    func signIn(_ client: MetabaseClient) throws(MetabaseError) -> Step {
        let properties = try client.call("GET", "/api/session/properties")
        // Kebab-case since 0.42; older versions wrote snake_case.
        let token = (properties["setup-token"] ?? properties["setup_token"])?.string
        let hasUser = (properties["has-user-setup"] ?? properties["has_user_setup"])?.bool ?? true
        if let token, !hasUser {
            guard case .password(let user, let password) = config.auth else {
                throw MetabaseError(.setupNeedsUser, "Metabase at \(client.endpoint) is not set up yet: give --user and --password "
                                    + "to create its first admin (an API key exists only on a set-up instance)")
            }
            let answer = try client.call("POST", "/api/setup", MetabasePayloads.setup(token: token, email: user, password: password, config: config))
            if let session = answer["id"]?.string {
                client.useSession(session)
            } else {
                try login(client, user: user, password: password)
            }
            return Step(item: "Metabase \(client.endpoint) first admin \(user)", id: nil, action: .setUp)
        }
        switch config.auth {
        case .apiKey(let key):
            client.useAPIKey(key)
            // A cheap authenticated call, so a bad key fails here with a clear 401.
            do throws(MetabaseError) {
                _ = try client.call("GET", "/api/user/current", forbiddenIsAuth: true)
            } catch where error.code == .unauthorized {
                throw MetabaseError(.unauthorized, error.message + " (wrong --api-key)", status: error.status)
            }
            return Step(item: "Metabase \(client.endpoint) with an API key", id: nil, action: .signedIn)
        case .password(let user, let password):
            try login(client, user: user, password: password)
            return Step(item: "Metabase \(client.endpoint) as \(user)", id: nil, action: .signedIn)
        }
    }

    private func login(_ client: MetabaseClient, user: String, password: String) throws(MetabaseError) {
        let answer: JSON
        do throws(MetabaseError) {
            answer = try client.call("POST", "/api/session", MetabasePayloads.login(user: user, password: password))
        } catch where error.code == .unauthorized {
            throw MetabaseError(.unauthorized, error.message + " (wrong --user or --password)", status: error.status)
        }
        guard let session = answer["id"]?.string, !session.isEmpty else {
            throw MetabaseError(.unexpectedResponse, "POST \(client.endpoint)/api/session: no session id in the answer")
        }
        client.useSession(session)
    }

    /// Finds the database by name (updating its connection, then asking for a schema sync so
    /// views added by later migrations show up) or adds it.
    func database(_ client: MetabaseClient) throws(MetabaseError) -> (Int64, Step) {
        let list = try client.call("GET", "/api/database")
        guard let dbs = list.items else {
            throw MetabaseError(.unexpectedResponse, "GET \(client.endpoint)/api/database: not a list of databases")
        }
        let body = MetabasePayloads.database(name: config.databaseName, postgres: config.postgres)
        let item = "database \"\(config.databaseName)\" → \(config.postgres.description)"
        let ids = dbs.filter { $0["name"]?.string == config.databaseName }.compactMap { $0["id"]?.int }
        if let id = ids.min() {
            _ = try client.call("PUT", "/api/database/\(id)", body)
            _ = try client.call("POST", "/api/database/\(id)/sync_schema")
            return (id, Step(item: item, id: id, action: .updated))
        }
        let id = try requireID(client.call("POST", "/api/database", body), "POST /api/database")
        return (id, Step(item: item, id: id, action: .created))
    }

    /// The top-level, non-archived, non-personal collection with our name, or a new one.
    func collection(_ client: MetabaseClient) throws(MetabaseError) -> (Int64, Step) {
        let list = try client.call("GET", "/api/collection")
        guard let all = list.items else {
            throw MetabaseError(.unexpectedResponse, "GET \(client.endpoint)/api/collection: not a list of collections")
        }
        let name = DashboardQueries.collectionName
        let ids = all.filter {
            $0["name"]?.string == name && $0["archived"]?.bool != true && ($0["personal_owner_id"]?.int == nil)
                && ($0["location"]?.string ?? "/") == "/"
        }.compactMap { $0["id"]?.int }
        if let id = ids.min() { return (id, Step(item: "collection \"\(name)\"", id: id, action: .found)) }
        let id = try requireID(client.call("POST", "/api/collection", MetabasePayloads.collection()), "POST /api/collection")
        return (id, Step(item: "collection \"\(name)\"", id: id, action: .created))
    }

    /// Name → id of the collection's items of one model (`card`, `dashboard`); the lowest id
    /// wins when a name repeats.
    func items(_ client: MetabaseClient, collectionID: Int64, model: String) throws(MetabaseError) -> [String: Int64] {
        let list = try client.call("GET", "/api/collection/\(collectionID)/items?models=\(model)")
        guard let items = list.items else {
            throw MetabaseError(.unexpectedResponse, "GET \(client.endpoint)/api/collection/\(collectionID)/items: not a list of items")
        }
        var out: [String: Int64] = [:]
        for item in items where (item["model"]?.string ?? model) == model && item["archived"]?.bool != true {
            guard let name = item["name"]?.string, let id = item["id"]?.int else { continue }
            out[name] = min(out[name] ?? id, id)
        }
        return out
    }

    /// Finds or creates the dashboard, then PUTs its filter and the complete list of cards,
    /// reusing the dashcards that already show our cards.
    func dashboard(_ client: MetabaseClient, collectionID: Int64, cards: [(DashboardCard, Int64)]) throws(MetabaseError) -> (Int64, Step) {
        let name = DashboardQueries.dashboardName
        let action: Step.Action
        let id: Int64
        if let existing = try items(client, collectionID: collectionID, model: "dashboard")[name] {
            id = existing
            action = .updated
        } else {
            id = try requireID(client.call("POST", "/api/dashboard", MetabasePayloads.dashboard(collectionID: collectionID)), "POST /api/dashboard")
            action = .created
        }
        let current = try client.call("GET", "/api/dashboard/\(id)")
        // `dashcards` since 0.47 (`ordered_cards` before).
        let dashcards = (current["dashcards"] ?? current["ordered_cards"])?.array ?? []
        var reusable: [Int64: Int64] = [:]   // card id → dashcard id
        for dc in dashcards {
            if let cardID = dc["card_id"]?.int, let dcID = dc["id"]?.int, reusable[cardID] == nil { reusable[cardID] = dcID }
        }
        let tabs: [JSON] = (current["tabs"]?.array ?? []).compactMap { tab in
            guard let tabID = tab["id"]?.int, let tabName = tab["name"]?.string else { return nil }
            return ["id": .int(tabID), "name": .string(tabName)]
        }
        let firstTab = tabs.first?["id"]?.int
        var nextNew: Int64 = -1
        let placements = cards.map { card, cardID in
            let dashcardID: Int64
            if let reuse = reusable[cardID] {
                dashcardID = reuse
            } else {
                dashcardID = nextNew
                nextNew -= 1
            }
            return MetabasePayloads.Placement(card: card, cardID: cardID, dashcardID: dashcardID, tabID: firstTab)
        }
        _ = try client.call("PUT", "/api/dashboard/\(id)", MetabasePayloads.dashboardUpdate(placements, tabs: tabs))
        return (id, Step(item: "dashboard \"\(name)\" with \(cards.count) cards and filter \"\(DashboardQueries.deviceFilter.displayName)\"",
                         id: id, action: action))
    }

    private func requireID(_ answer: JSON, _ what: String) throws(MetabaseError) -> Int64 {
        guard let id = answer["id"]?.int else { throw MetabaseError(.unexpectedResponse, "\(what): no id in the answer") }
        return id
    }
}
