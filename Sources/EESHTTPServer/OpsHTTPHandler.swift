import EESCore

/// The operational routes every role serves: `GET /healthz` (alive), `GET /readyz` (dependencies
/// reachable and not draining), `GET /metrics` (Prometheus text).
public struct OpsRoutes: Sendable {
    let registry: MetricsRegistry
    let isReady: @Sendable () -> Bool

    public init(registry: MetricsRegistry, isReady: @escaping @Sendable () -> Bool) {
        self.registry = registry
        self.isReady = isReady
    }

    public static let paths: Set<String> = ["/healthz", "/readyz", "/metrics"]

    /// The response for an ops path, or nil for any other path.
    public func respond(method: String, path: String) -> HTTPResponse? {
        guard Self.paths.contains(path) else { return nil }
        guard method == "GET" || method == "HEAD" else {
            return .json(405, "{\"error\":\"method_not_allowed\",\"message\":\"method \(method) is not allowed here\"}")
        }
        switch path {
        case "/healthz":
            return .json(200, "{\"status\":\"ok\"}")
        case "/readyz":
            let ready = isReady()
            return .json(ready ? 200 : 503, ready ? "{\"status\":\"ready\"}" : "{\"status\":\"not_ready\"}")
        default:
            return .text(200, registry.render(), contentType: "text/plain; version=0.0.4")
        }
    }
}

/// An HTTP handler with only the ops routes: for processes that run no ingest role.
public struct OpsHTTPHandler: HTTPHandler {
    let routes: OpsRoutes

    public init(routes: OpsRoutes) { self.routes = routes }

    public func preflight(method: String, path: String, headers: [String: String]) -> HTTPResponse? { nil }

    public func handle(_ request: HTTPRequest, bodyTooLarge: Bool) -> HTTPResponse {
        routes.respond(method: request.method, path: request.path)
            ?? .json(404, "{\"error\":\"not_found\",\"message\":\"no such route\"}")
    }
}
