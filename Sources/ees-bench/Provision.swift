import EESCore
import EESCrypto
import EESRedis

/// Devices `<ID>-1 … <ID>-N` that all write to one stream (`ees simulate --provision` gives each
/// device its own). Prints the API keys in device order, one per line, for `--api-key`.
enum Provision {
    static let specs = [
        OptionSpec("redis", default: "redis://127.0.0.1:6379", help: "Redis URL"),
        OptionSpec("redis-prefix", default: "ees", help: "key prefix"),
        OptionSpec("device-id", help: "devices are <ID>-1 … <ID>-N"),
        OptionSpec("devices", default: "32", help: "how many"),
        OptionSpec("stream-key", help: "the stream every device writes to"),
    ]

    static func run(_ o: ParsedOptions) throws {
        let registry = RedisDeviceRegistry(client: RedisClient(config: try RedisConfig(url: o.require("redis"))),
                                           keys: RedisKeys(prefix: try o.require("redis-prefix")))
        let prefix = try o.require("device-id")
        let stream = try o.require("stream-key")
        for i in 1...(try o.int("devices", in: 1...100_000)!) {
            let key = APIKeys.generate()
            let record = DeviceRecord(deviceID: "\(prefix)-\(i)", status: .active, apiKeyHash: APIKeys.hash(key), streamKey: stream)
            guard try registry.create(record) else { throw BenchFailure("device \(prefix)-\(i) exists already") }
            print(key)
        }
    }
}
