import EESCore
import EESHTTPServer
@testable import EESMetabase
import Synchronization
import Testing

/// The Metabase client's own rules (payload shapes, URL parsing, retries, secret-free errors).
/// Provisioning end to end runs against tests/fake_metabase.py in tests/e2e/50-metabase.sh.
@Suite struct MetabasePayloadTests {
    let postgres = try! PostgresTarget(url: "postgres://ees:p%40ss%2Fword@db.internal:6543/events?sslmode=require")

    @Test func postgresURLIsSplitIntoMetabaseDetails() throws {
        #expect(postgres.host == "db.internal" && postgres.port == 6543 && postgres.dbname == "events")
        #expect(postgres.user == "ees" && postgres.password == "p@ss/word" && postgres.ssl)
        #expect(postgres == postgresFields("db.internal", 6543, "events", "ees", "p@ss/word", ssl: true))
        #expect(try PostgresTarget(url: "postgresql://u@h/d") == postgresFields("h", 5432, "d", "u", nil, ssl: false))
        #expect(try PostgresTarget(url: "postgres://u:pw@[::1]:5433/d?sslmode=disable").host == "::1")
        for bad in ["http://u@h/d", "postgres://h/d", "postgres://u@h", "postgres://u@h:0/d", "postgres://u:secret@h:x/d", "postgres://u@/d"] {
            do {
                _ = try PostgresTarget(url: bad)
                Issue.record("accepted \(bad)")
            } catch {
                #expect(error.code == .invalidConfiguration)
                #expect(!error.message.contains("secret"), "the error quotes the URL: \(error.message)")
            }
        }
    }

    private func postgresFields(_ host: String, _ port: Int, _ db: String, _ user: String, _ password: String?, ssl: Bool) -> PostgresTarget? {
        var url = "postgres://\(user)\(password.map { ":" + $0.replacing("@", with: "%40").replacing("/", with: "%2F") } ?? "")@\(host):\(port)/\(db)"
        if ssl { url += "?sslmode=require" }
        return try? PostgresTarget(url: url)
    }

    @Test func databasePayloadCarriesTheConnection() {
        let body = MetabasePayloads.database(name: "ees", postgres: postgres)
        #expect(body["engine"] == "postgres")
        #expect(body["details"]?["host"] == "db.internal")
        #expect(body["details"]?["port"] == 6543)
        #expect(body["details"]?["password"] == "p@ss/word")
        #expect(body["details"]?["ssl"] == true)
    }

    @Test func cardIsANativeQueryWithTheDeviceTag() throws {
        let card = MetabasePayloads.card(DashboardQueries.temperature, databaseID: 7, collectionID: 3)
        let query = try #require(card["dataset_query"])
        #expect(query["type"] == "native" && query["database"] == 7)
        #expect(query["native"]?["query"]?.string == DashboardQueries.temperature.sql)
        let tag = try #require(query["native"]?["template-tags"]?["device"])
        #expect(tag["type"] == "text" && tag["name"] == "device" && tag["id"]?.string == DashboardQueries.deviceFilter.tagID)
        #expect(card["display"] == "line" && card["collection_id"] == 3)
        #expect(card["visualization_settings"]?["graph.dimensions"] == ["minute", "device_id"])
        #expect(card["parameters"]?.array?.first?["target"] == ["variable", ["template-tag", "device"]])
    }

    @Test func dashboardUpdateMapsTheFilterToEveryCard() throws {
        let placements = DashboardQueries.cards.enumerated().map { i, card in
            MetabasePayloads.Placement(card: card, cardID: Int64(10 + i), dashcardID: i == 0 ? 5 : -Int64(i), tabID: nil)
        }
        let body = MetabasePayloads.dashboardUpdate(placements, tabs: [])
        let dashcards = try #require(body["dashcards"]?.array)
        #expect(dashcards.map { $0["id"]?.int } == [5, -1, -2])
        #expect(body["parameters"]?.array?.first?["id"]?.string == DashboardQueries.deviceFilter.parameterID)
        for (dc, p) in zip(dashcards, placements) {
            #expect(dc["card_id"]?.int == p.cardID)
            #expect(dc["size_x"]?.int == Int64(p.card.layout.sizeX))
            #expect(dc["parameter_mappings"] == [["parameter_id": .string(DashboardQueries.deviceFilter.parameterID),
                                                  "card_id": .int(p.cardID), "target": ["variable", ["template-tag", "device"]]]])
        }
    }

    @Test func jsonRoundTrips() throws {
        let value: JSON = ["a": [1, 2.5, "x", nil, true], "b": ["c": "d"]]
        #expect(JSON.decode(value.encoded()) == value)
        let unordered: JSON = ["b": 1, "a": 2]
        #expect(String(decoding: unordered.encoded(), as: UTF8.self) == #"{"a":2,"b":1}"#)
        #expect(JSON.decode(Array(#"{"data":[{"id":1}],"total":1}"#.utf8))?.items?.count == 1)
    }
}

/// The client against a scripted server: which failures are retried, and what errors say.
@Suite struct MetabaseClientTests {
    /// Answers each path from a script of (status, body), the last entry repeating; records requests.
    final class ScriptedHandler: HTTPHandler {
        let scripts: [String: [(Int, String)]]
        let seen = Mutex<[HTTPRequest]>([])
        init(_ scripts: [String: [(Int, String)]]) { self.scripts = scripts }

        func preflight(method: String, path: String, headers: [String: String]) -> HTTPResponse? { nil }
        func handle(_ request: HTTPRequest, bodyTooLarge: Bool) -> HTTPResponse {
            let n = seen.withLock { seen in
                seen.append(request)
                return seen.filter { $0.path == request.path }.count
            }
            guard let script = scripts[request.path] else { return HTTPResponse(status: 404, body: Array("no".utf8)) }
            let (status, body) = script[min(n, script.count) - 1]
            return HTTPResponse(status: status, headers: [("Content-Type", "application/json")], body: Array(body.utf8))
        }
        func count(_ path: String) -> Int { seen.withLock { $0.filter { $0.path == path }.count } }
    }

    /// A scripted server on an ephemeral port and a client with short backoffs. Stop the server.
    func start(_ scripts: [String: [(Int, String)]]) throws -> (HTTPServer, ScriptedHandler, MetabaseClient) {
        let handler = ScriptedHandler(scripts)
        var config = HTTPServerConfig()
        config.port = 0
        config.threads = 1
        let server = HTTPServer(config: config, handler: handler)
        try server.start()
        var limits = MetabaseLimits()
        limits.backoffBaseMs = 5
        limits.backoffMaxMs = 20
        limits.readyPollMs = 10
        limits.readyWaitMs = 2_000
        let client = try MetabaseClient(url: "http://127.0.0.1:\(server.port)", limits: limits, secrets: ["hunter22-pw"])
        return (server, handler, client)
    }

    @Test func getIsRetriedOnUnavailableAndAPostIsNot() throws {
        let (server, handler, client) = try start([
            "/api/get": [(503, "{}"), (502, "{}"), (200, #"{"ok":true}"#)],
            "/api/post-gateway": [(502, "{}"), (200, "{}")],
            "/api/post-busy": [(503, "{}"), (200, #"{"id":4}"#)],
        ])
        defer { server.stop() }
        #expect(try client.call("GET", "/api/get")["ok"] == true)
        #expect(handler.count("/api/get") == 3)
        // A 502 may come after Metabase acted on the POST: not repeated.
        #expect(throws: MetabaseError.self) { try client.call("POST", "/api/post-gateway", ["name": "x"]) }
        #expect(handler.count("/api/post-gateway") == 1)
        // A 503 is Metabase refusing: repeated.
        #expect(try client.call("POST", "/api/post-busy", ["name": "x"])["id"] == 4)
        #expect(handler.count("/api/post-busy") == 2)
    }

    @Test func errorsNameTheRequestAndStatusButNoSecret() throws {
        let (server, handler, client) = try start([
            "/api/session": [(401, #"{"errors":{"password":"did not match stored password"}}"#)],
            "/api/echo": [(400, #"{"message":"cannot connect with password hunter22-pw or key mb_k3y_777 token tok-123-abc"}"#)],
        ])
        defer { server.stop() }
        client.useAPIKey("mb_k3y_777")
        client.useSession("tok-123-abc")
        do throws(MetabaseError) {
            _ = try client.call("POST", "/api/session", ["username": "a@b.c", "password": "hunter22-pw"])
            Issue.record("401 accepted")
        } catch {
            #expect(error.code == .unauthorized && error.status == 401)
            #expect(error.message.hasPrefix("POST http://127.0.0.1:"), "\(error.message)")
            #expect(error.message.contains("/api/session: HTTP 401: password: did not match stored password"))
        }
        do throws(MetabaseError) {
            _ = try client.call("GET", "/api/echo")
            Issue.record("400 accepted")
        } catch {
            #expect(error.code == .httpStatus && error.status == 400)
            for secret in ["hunter22-pw", "mb_k3y_777", "tok-123-abc"] {
                #expect(!error.message.contains(secret), "\(error.message)")
            }
        }
        // Only the last auth header chosen is sent, on every call.
        let sent = handler.seen.withLock { $0 }
        #expect(sent.allSatisfy { $0.header("x-metabase-session") == "tok-123-abc" && $0.header("x-api-key") == nil })
        #expect(sent.first?.header("content-type") == "application/json")
    }

    @Test func readinessWaitsForHealthThenGivesUp() throws {
        let (server, handler, client) = try start(["/api/health": [(503, #"{"status":"initializing"}"#), (200, #"{"status":"ok"}"#)]])
        defer { server.stop() }
        try client.waitUntilReady()
        #expect(handler.count("/api/health") == 2)
        let (down, _, waiting) = try start(["/api/health": [(503, #"{"status":"initializing"}"#)]])
        defer { down.stop() }
        let error = #expect(throws: MetabaseError.self) { try waiting.waitUntilReady() }
        #expect(error?.code == .notReady)
    }
}
