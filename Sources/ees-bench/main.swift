import EESCore
import Foundation

// `ees-bench`: helpers that scripts/bench runs beside the real binary (BENCHMARKS.md). This file
// only dispatches; every subcommand prints one JSON line (or nothing but keys) on stdout.
//
//   ees-bench direct     the ingest path (Ingestor.ingest: auth, index, validate, Redis script)
//                        from several threads with prebuilt bodies, no HTTP — ceiling (b)
//   ees-bench null-http  the project's HTTPServer with a handler that answers 200 and does
//                        nothing — ceiling (c), driven by `ees simulate`
//   ees-bench provision  devices sharing one stream key, their API keys on stdout (one per line)

let commands: [String: (specs: [OptionSpec], run: (ParsedOptions) throws -> Void)] = [
    "direct": (DirectIngest.specs, DirectIngest.run),
    "null-http": (NullHTTP.specs, NullHTTP.run),
    "provision": (Provision.specs, Provision.run),
]

let args = Array(CommandLine.arguments.dropFirst())
guard let name = args.first, let command = commands[name] else {
    FileHandle.standardError.write(Data("usage: ees-bench direct|null-http|provision [options] (--help for options)\n".utf8))
    exit(2)
}
do {
    let options = try OptionParser.parse(Array(args.dropFirst()), specs: command.specs, env: [:])
    if options.helpRequested {
        print(OptionParser.help(usage: "ees-bench \(name) [options]", summary: "scripts/bench helper", specs: command.specs))
        exit(0)
    }
    try options.noStrayArguments()
    try command.run(options)
    exit(0)
} catch let e as ConfigError {
    FileHandle.standardError.write(Data("ees-bench \(name): \(e.message)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("ees-bench \(name): \(error)\n".utf8))
    exit(1)
}

extension ParsedOptions {
    func noStrayArguments() throws(ConfigError) {
        if let extra = positionals.first { throw ConfigError("unexpected argument '\(extra)'") }
    }
}

/// User plus system CPU seconds of this whole process (all threads) so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    func s(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return s(usage.ru_utime) + s(usage.ru_stime)
}

/// `x` with 3 decimals, for the JSON lines.
func json3(_ x: Double) -> String { String(format: "%.3f", x) }

/// A run that went wrong (requests refused, too few events new): exit status 1 with one line.
struct BenchFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
