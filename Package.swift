// swift-tools-version:6.2
// edge-event-stream: one package, one executable (`ees`).
// Layout: C modules (C*) are each imported by exactly one adapter target; EESCore is pure Swift
// (model, validation, ports, policies) with no C imports; services wire core + adapters.
import PackageDescription

let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

func system(_ name: String, _ pkg: String, _ apt: String) -> Target {
    .systemLibrary(name: name, pkgConfig: pkg, providers: [.apt([apt])])
}

let package = Package(
    name: "edge-event-stream",
    products: [.executable(name: "ees", targets: ["ees"])],
    targets: [
        // C libraries from Debian.
        system("CHiredis", "hiredis", "libhiredis-dev"),
        system("CLibpq", "libpq", "libpq-dev"),
        system("CSodium", "libsodium", "libsodium-dev"),
        system("CZlib", "zlib", "zlib1g-dev"),
        // Thin C wrappers for variadic C APIs Swift cannot call (curl_easy_setopt, MHD_start_daemon).
        .target(name: "CCurl", linkerSettings: [.linkedLibrary("curl")]),
        .target(name: "CMicroHTTPD", linkerSettings: [.linkedLibrary("microhttpd")]),
        // simdjson behind a small C API: indexes an ingest body once, keeps raw event bytes.
        // x86-64: build simdjson's on-demand parser for AVX2 (haswell); without these flags it uses
        // its scalar fallback. See docs/decisions/0003-simdjson-avx2.md.
        .target(name: "CIngestJSON", cxxSettings: [.unsafeFlags(["-O2", "-mavx2", "-mbmi", "-mpclmul", "-mlzcnt"])],
                linkerSettings: [.linkedLibrary("simdjson")]),

        // Pure core: model, validation, ports, policies. No I/O, no C.
        .target(name: "EESCore", swiftSettings: strict),

        // Adapters, one technology each.
        .target(name: "EESJSON", dependencies: ["EESCore", "CIngestJSON"], swiftSettings: strict),
        .target(name: "EESCrypto", dependencies: ["EESCore", "CSodium"], swiftSettings: strict),
        .target(name: "EESCompression", dependencies: ["CZlib"], swiftSettings: strict),
        .target(name: "EESRedis", dependencies: ["EESCore", "CHiredis"], swiftSettings: strict),
        .target(name: "EESHTTPServer", dependencies: ["EESCore", "CMicroHTTPD"], swiftSettings: strict),
        .target(name: "EESObjectStore", dependencies: ["EESCore", "CCurl", "EESCrypto"], swiftSettings: strict),
        .target(name: "EESPostgres", dependencies: ["EESCore", "CLibpq"], swiftSettings: strict),
        .target(name: "EESHTTPClient", dependencies: ["EESCore"], swiftSettings: strict),
        .target(name: "EESMetabase", dependencies: ["EESCore", "EESHTTPClient"], swiftSettings: strict),

        // Services (roles).
        .target(name: "EESIngest",
                dependencies: ["EESCore", "EESJSON", "EESCrypto", "EESCompression", "EESRedis", "EESHTTPServer"],
                swiftSettings: strict),
        .target(name: "EESFlusher", dependencies: ["EESCore", "EESRedis", "EESObjectStore"], swiftSettings: strict),
        .target(name: "EESProcessor",
                dependencies: ["EESCore", "EESRedis", "EESObjectStore", "EESPostgres"], swiftSettings: strict),

        // The one executable: parses the command line and wires things.
        .executableTarget(name: "ees",
                          dependencies: ["EESCore", "EESCrypto", "EESRedis", "EESIngest", "EESFlusher",
                                         "EESProcessor", "EESObjectStore", "EESPostgres", "EESHTTPServer", "EESHTTPClient",
                                         "EESMetabase"],
                          swiftSettings: strict),
        // Benchmark helpers for scripts/bench (BENCHMARKS.md): the ingest path without HTTP, a
        // do-nothing handler on the same HTTP server, device provisioning with a shared stream.
        // Not a product and not used by the tests.
        .executableTarget(name: "ees-bench",
                          dependencies: ["EESCore", "EESCrypto", "EESRedis", "EESIngest", "EESHTTPServer"],
                          swiftSettings: strict),

        // Helpers shared by the test targets (never linked into the product).
        .target(name: "EESTestSupport", path: "Tests/EESTestSupport", swiftSettings: strict),
        .testTarget(name: "EESCoreTests", dependencies: ["EESCore"], swiftSettings: strict),
        .testTarget(name: "EESJSONTests", dependencies: ["EESTestSupport", "EESCore", "EESJSON", "EESCompression", "EESCrypto", "EESObjectStore"],
                    swiftSettings: strict),
        .testTarget(name: "IntegrationTests",
                    dependencies: ["EESTestSupport", "EESCore", "EESJSON", "EESCrypto", "EESRedis", "EESIngest", "EESHTTPServer",
                                   "EESFlusher", "EESProcessor", "EESObjectStore", "EESPostgres", "EESCompression", "EESHTTPClient",
                                   "EESMetabase"],
                    swiftSettings: strict),
    ],
    swiftLanguageModes: [.v6],
    cxxLanguageStandard: .cxx17
)
