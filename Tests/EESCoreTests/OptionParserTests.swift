import EESCore
import Testing

@Suite struct OptionParserTests {
    let specs = [
        OptionSpec("listen", env: "T_LISTEN", default: "127.0.0.1:8080", help: "address"),
        OptionSpec("threads", env: "T_THREADS", default: "4", help: "threads"),
        OptionSpec("ratio", env: "T_RATIO", help: "a number"),
        OptionSpec("name", help: "no env, no default"),
        OptionSpec("verbose", env: "T_VERBOSE", help: "a switch", isSwitch: true),
        OptionSpec("tag", env: "T_TAGS", help: "repeatable", repeatable: true),
    ]

    func parse(_ args: [String], env: [String: String] = [:]) throws(ConfigError) -> ParsedOptions {
        try OptionParser.parse(args, specs: specs, env: env)
    }

    func error(_ args: [String], env: [String: String] = [:]) -> String? {
        do {
            _ = try parse(args, env: env)
            return nil
        } catch {
            return error.message
        }
    }

    @Test func flagBeatsEnvBeatsDefault() throws {
        #expect(try parse([]).string("listen") == "127.0.0.1:8080")
        #expect(try parse([], env: ["T_LISTEN": "0.0.0.0:1"]).string("listen") == "0.0.0.0:1")
        #expect(try parse(["--listen", "1.2.3.4:5"], env: ["T_LISTEN": "0.0.0.0:1"]).string("listen") == "1.2.3.4:5")
        #expect(try parse([]).string("name") == nil)
    }

    @Test func emptyEnvironmentValueIsUnset() throws {
        #expect(try parse([], env: ["T_LISTEN": ""]).string("listen") == "127.0.0.1:8080")
    }

    @Test func inlineValue() throws {
        let o = try parse(["--listen=127.0.0.1:9", "--name=a=b", "--ratio="])
        #expect(o.string("listen") == "127.0.0.1:9")
        #expect(o.string("name") == "a=b")   // split at the first '='
        #expect(o.string("ratio") == "")
        #expect(throws: ConfigError("--ratio is required")) { try o.require("ratio") }
    }

    @Test func lastFlagWins() throws {
        #expect(try parse(["--threads", "2", "--threads=3"]).string("threads") == "3")
    }

    @Test func unknownOption() {
        #expect(error(["--nope"]) == "unknown option --nope")
        #expect(error(["--nope=1"]) == "unknown option --nope")
        #expect(error(["--listen", "x:1", "--Listen", "y:2"]) == "unknown option --Listen")
    }

    @Test func missingValue() {
        #expect(error(["--listen"]) == "--listen needs a value")
        #expect(error(["--verbose", "--threads"]) == "--threads needs a value")
    }

    @Test func switches() throws {
        #expect(try parse(["--verbose"]).isSet("verbose"))
        #expect(try !parse([]).isSet("verbose"))
        #expect(try parse([], env: ["T_VERBOSE": "1"]).isSet("verbose"))
        #expect(try !parse(["--verbose=false"]).isSet("verbose"))
        // A switch does not swallow the next argument.
        let o = try parse(["--verbose", "pos"])
        #expect(o.positionals == ["pos"])
    }

    @Test func repeatableKeepsOrderAndSplitsEnv() throws {
        #expect(try parse(["--tag", "a", "--tag=b"]).strings("tag") == ["a", "b"])
        #expect(try parse([], env: ["T_TAGS": "x,y"]).strings("tag") == ["x", "y"])
        #expect(try parse(["--tag", "a"], env: ["T_TAGS": "x,y"]).strings("tag") == ["a"])
        #expect(try parse([]).strings("tag") == [])
    }

    @Test func positionalsAndHelp() throws {
        let o = try parse(["dev-1", "--threads", "2", "more", "-h"])
        #expect(o.positionals == ["dev-1", "more"])
        #expect(o.helpRequested)
        #expect(try parse(["--help"]).helpRequested)
        #expect(try !parse([]).helpRequested)
    }

    @Test func integers() throws {
        #expect(try parse(["--threads", "8"]).int("threads", in: 1...256) == 8)
        #expect(try parse([]).int("threads", in: 1...256) == 4)
        #expect(try parse([]).int("name") == nil)
        #expect(throws: ConfigError("--threads: 0 is out of range 1...256")) { try parse(["--threads", "0"]).int("threads", in: 1...256) }
        #expect(throws: ConfigError("--threads: 257 is out of range 1...256")) { try parse(["--threads=257"]).int("threads", in: 1...256) }
        #expect(throws: ConfigError("--threads: 'four' is not an integer")) { try parse(["--threads", "four"]).int("threads") }
        #expect(throws: ConfigError("--threads: '1.5' is not an integer")) { try parse(["--threads", "1.5"]).int("threads") }
        #expect(throws: ConfigError("--threads: '99999999999999999999' is not an integer")) {
            try parse(["--threads", "99999999999999999999"]).int("threads")
        }
        #expect(throws: ConfigError("--threads: 'x' is not an integer")) { try parse([], env: ["T_THREADS": "x"]).int("threads") }
    }

    @Test func doubles() throws {
        #expect(try parse(["--ratio", "0.5"]).double("ratio", in: 0...1) == 0.5)
        #expect(throws: ConfigError("--ratio: 2.0 is out of range 0.0...1.0")) { try parse(["--ratio", "2"]).double("ratio", in: 0...1) }
        #expect(throws: ConfigError("--ratio: 'nan' is not a number")) { try parse(["--ratio", "nan"]).double("ratio") }
        #expect(throws: ConfigError("--ratio: 'inf' is not a number")) { try parse(["--ratio", "inf"]).double("ratio") }
    }

    @Test func helpListsEveryOptionWithEnvAndDefault() {
        let text = OptionParser.help(usage: "t [opts]", summary: "Does things.", specs: specs)
        #expect(text.hasPrefix("usage: t [opts]\n\nDoes things.\n\noptions:\n"))
        #expect(text.contains("--listen VALUE"))
        #expect(text.contains("address [env T_LISTEN] (default 127.0.0.1:8080)"))
        #expect(text.contains("--verbose "))
        #expect(!text.contains("--verbose VALUE"))
        #expect(text.split(separator: "\n").filter { $0.hasPrefix("  --") }.count == specs.count)
    }

    @Test func listenAddress() throws {
        #expect(try ListenAddress("127.0.0.1:8080") == ListenAddress("127.0.0.1:8080"))
        let a = try ListenAddress("0.0.0.0:0")
        #expect(a.host == "0.0.0.0" && a.port == 0)
        #expect(a.description == "0.0.0.0:0")
        for bad in ["127.0.0.1", "127.0.0.1:", "127.0.0.1:x", "127.0.0.1:65536", "127.0.0.1:-1", ""] {
            #expect(throws: ConfigError("listen address '\(bad)' must be host:port")) { try ListenAddress(bad) }
        }
    }
}
