import EESCore
import EESCrypto
import EESRedis

/// `ees device add|disable|enable|rotate-key|list`: provisioning against Redis.
enum DeviceCommands {
    static let identity = [
        OptionSpec("device-id", env: "EES_DEVICE_ID", help: "the device's id (letters, digits, . _ : -)"),
    ]
    static let placement = [
        OptionSpec("stream-key", help: "stream the device writes to when a request names none (default: the device id)"),
        OptionSpec("tenant", help: "tenant the device belongs to"),
        OptionSpec("site", help: "site of the device"),
        OptionSpec("line", help: "production line of the device"),
        OptionSpec("machine", help: "machine the device is mounted on"),
    ]

    static var all: [Command] {
        [
            Command(path: ["device", "add"], usage: "ees device add --device-id ID [--stream-key K] [--tenant T --site S --line L --machine M]",
                    summary: "Creates a device and prints its new API key, alone, on stdout. Only the key's SHA-256 is stored.",
                    specs: identity + placement + CommonOptions.redis, run: add),
            Command(path: ["device", "disable"], usage: "ees device disable ID",
                    summary: "Disables a device: its requests get 401 on every node within the cache TTL (at once where the invalidation arrives).",
                    specs: identity + CommonOptions.redis, run: { try setStatus($0, .disabled) }),
            Command(path: ["device", "enable"], usage: "ees device enable ID",
                    summary: "Enables a disabled device again.",
                    specs: identity + CommonOptions.redis, run: { try setStatus($0, .active) }),
            Command(path: ["device", "rotate-key"], usage: "ees device rotate-key ID",
                    summary: "Gives a device a new API key (printed alone on stdout); the old key stops working.",
                    specs: identity + CommonOptions.redis, run: rotate),
            Command(path: ["device", "list"], usage: "ees device list",
                    summary: "Lists devices: id, status, stream key and placement (never keys or hashes).",
                    specs: CommonOptions.redis, run: list),
        ]
    }

    static func registry(_ o: ParsedOptions) throws -> RedisDeviceRegistry {
        RedisDeviceRegistry(client: RedisClient(config: try CommonOptions.redisConfig(o)), keys: try CommonOptions.keys(o))
    }

    /// The device id from `--device-id` or the first positional argument.
    private static func deviceID(_ o: ParsedOptions) throws -> String {
        let flag = o.string("device-id")
        if let extra = o.positionals.dropFirst(flag == nil ? 1 : 0).first { throw ConfigError("unexpected argument '\(extra)'") }
        guard let id = flag ?? o.positionals.first else { throw ConfigError("a device id is required") }
        guard Identifier.isValid(id) else { throw ConfigError("device id: 1-128 of letters, digits and . _ : -") }
        return id
    }

    private static func add(_ o: ParsedOptions) throws -> Int32 {
        let id = try deviceID(o)
        for name in ["stream-key", "tenant", "site", "line", "machine"] {
            if let v = o.string(name), !Identifier.isValid(v) { throw ConfigError("--\(name): 1-128 of letters, digits and . _ : -") }
        }
        guard let key = try create(id, in: registry(o), streamKey: o.string("stream-key"), tenant: o.string("tenant"),
                                   site: o.string("site"), line: o.string("line"), machine: o.string("machine")) else {
            err("device \(id) already exists (use `ees device rotate-key \(id)` for a new key)")
            return Exit.failure
        }
        out(key)
        return Exit.ok
    }

    /// Creates an active device with a fresh API key and returns the key, which exists only in the
    /// caller's hands (Redis keeps its SHA-256); nil when the id is taken. Used by `device add`
    /// and `simulate --provision`.
    static func create(_ id: String, in registry: RedisDeviceRegistry, streamKey: String? = nil, tenant: String? = nil,
                       site: String? = nil, line: String? = nil, machine: String? = nil) throws -> String? {
        let key = APIKeys.generate()
        let record = DeviceRecord(deviceID: id, status: .active, apiKeyHash: APIKeys.hash(key), streamKey: streamKey,
                                  tenant: tenant, site: site, line: line, machine: machine)
        return try registry.create(record) ? key : nil
    }

    /// Gives an existing device a new API key and returns it; the old key stops working (nodes
    /// drop their cached record on the invalidation the update publishes).
    static func rotateKey(_ record: DeviceRecord, in registry: RedisDeviceRegistry) throws -> String {
        let key = APIKeys.generate()
        var updated = record
        updated.apiKeyHash = APIKeys.hash(key)
        try registry.update(updated)
        return key
    }

    private static func existing(_ o: ParsedOptions) throws -> (RedisDeviceRegistry, DeviceRecord)? {
        let id = try deviceID(o)
        let reg = try registry(o)
        guard let record = try reg.device(id: id) else {
            err("no device \(id)")
            return nil
        }
        return (reg, record)
    }

    private static func setStatus(_ o: ParsedOptions, _ status: DeviceRecord.Status) throws -> Int32 {
        guard let (reg, original) = try existing(o) else { return Exit.failure }
        var record = original
        record.status = status
        try reg.update(record)
        err("device \(record.deviceID) \(status == .active ? "enabled" : "disabled")")
        return Exit.ok
    }

    private static func rotate(_ o: ParsedOptions) throws -> Int32 {
        guard let (reg, original) = try existing(o) else { return Exit.failure }
        out(try rotateKey(original, in: reg))
        return Exit.ok
    }

    private static func list(_ o: ParsedOptions) throws -> Int32 {
        try o.noPositionals()
        let devices = try registry(o).list()
        out("DEVICE_ID\tSTATUS\tSTREAM_KEY\tTENANT\tSITE\tLINE\tMACHINE")
        for d in devices {
            out([d.deviceID, d.status.rawValue, d.streamKey ?? "-", d.tenant ?? "-", d.site ?? "-", d.line ?? "-", d.machine ?? "-"]
                .joined(separator: "\t"))
        }
        return Exit.ok
    }
}
