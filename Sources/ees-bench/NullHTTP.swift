import EESCore
import EESHTTPServer
import Foundation

/// Ceiling (c): the node's HTTP stack (HTTPServer on libmicrohttpd, same thread count, same body
/// buffering) with a handler that does nothing but answer 200 with a body shaped like a real
/// acknowledgement, so `ees simulate` counts the events as accepted. The gap between this and the
/// real node is the cost of the ingest work behind HTTP.
enum NullHTTP {
    static let specs = [
        OptionSpec("listen", default: "127.0.0.1:0", help: "address; the port chosen is printed as {\"port\":N}"),
        OptionSpec("http-threads", default: "4", help: "HTTP worker threads (the node's default)"),
        OptionSpec("batch-size", default: "100", help: "accepted_count in every answer (the simulator's batch size)"),
    ]

    /// Answers every request with the same prebuilt response.
    struct Handler: HTTPHandler {
        let response: HTTPResponse
        func preflight(method: String, path: String, headers: [String: String]) -> HTTPResponse? { nil }
        func handle(_ request: HTTPRequest, bodyTooLarge: Bool) -> HTTPResponse { response }
    }

    static func run(_ o: ParsedOptions) throws {
        let listen = try ListenAddress(o.require("listen"))
        let n = try o.int("batch-size", in: 1...100_000)!
        var config = HTTPServerConfig()
        config.host = listen.host
        config.port = listen.port
        config.threads = try o.int("http-threads", in: 1...256)!
        let text = "{\"request_id\":\"00000000000000000000000000000000\",\"accepted_count\":\(n),\"duplicate_count\":0"
            + ",\"first_seq\":1,\"last_seq\":\(n),\"streams\":[{\"stream_key\":\"null\",\"accepted_count\":\(n)"
            + ",\"duplicate_count\":0,\"first_seq\":1,\"last_seq\":\(n)}]}"
        let response = HTTPResponse.json(200, text, headers: [("x-request-id", "00000000000000000000000000000000")])

        // Block SIGTERM/SIGINT before the server's threads start, so they inherit the mask and
        // the main thread takes the signal synchronously.
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGTERM)
        sigaddset(&signals, SIGINT)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let server = HTTPServer(config: config, handler: Handler(response: response))
        try server.start()
        print("{\"port\":\(server.port)}")
        fflush(nil)
        var sig: Int32 = 0
        while sigwait(&signals, &sig) != 0 {}
        server.stop()
    }
}
