import EESCore

/// Device records in Redis hashes (`ees:device:{id}`); updates publish the id on the invalidation
/// channel so every ingest node drops its cached copy at once.
public final class RedisDeviceRegistry: DeviceRegistry {
    private let client: RedisClient
    private let keys: RedisKeys

    public init(client: RedisClient, keys: RedisKeys) {
        self.client = client
        self.keys = keys
    }

    public func device(id: String) throws -> DeviceRecord? {
        let r = try client.command(["HGETALL", keys.device(id)])
        let fields = r.fieldMap
        return fields.isEmpty ? nil : DeviceRecord(deviceID: id, fields: fields)
    }

    public func create(_ record: DeviceRecord) throws -> Bool {
        // HSETNX on status makes creation race-free; the other fields follow in the same MULTI.
        let key = keys.device(record.deviceID)
        return try client.withConnection { c throws(RedisError) -> Bool in
            var hset = redisArgs("HSET", key)
            for (f, v) in record.fields where f != "status" { hset += [Array(f.utf8), Array(v.utf8)] }
            let replies = try c.pipeline([redisArgs("WATCH", key), redisArgs("EXISTS", key)])
            guard replies[1].int == 0 else {
                _ = try c.command(["UNWATCH"])
                return false
            }
            // The PUBLISH drops a cached "unknown device" on every node, so a device provisioned
            // after a refused attempt is not refused for the rest of the negative TTL.
            let tx = try c.pipeline([redisArgs("MULTI"), redisArgs("HSET", key, "status", record.status.rawValue), hset,
                                     redisArgs("PUBLISH", keys.deviceInvalidationChannel, record.deviceID), redisArgs("EXEC")])
            return tx[4].array != nil   // nil array: another writer created it first
        }
    }

    public func update(_ record: DeviceRecord) throws {
        let key = keys.device(record.deviceID)
        var hset = redisArgs("HSET", key)
        for (f, v) in record.fields { hset += [Array(f.utf8), Array(v.utf8)] }
        let replies = try client.pipeline([redisArgs("MULTI"), redisArgs("DEL", key), hset, redisArgs("EXEC"),
                                           redisArgs("PUBLISH", keys.deviceInvalidationChannel, record.deviceID)])
        if case .error(let e) = replies[3] { throw RedisError(.server, e) }
    }

    public func list() throws -> [DeviceRecord] {
        var cursor = "0"
        var ids: [String] = []
        let prefix = keys.device("").dropLast(2)   // "ees:device:" — ids sit inside {…}
        repeat {
            let r = try client.command(["SCAN", cursor, "MATCH", keys.devicePattern, "COUNT", "1000"])
            guard let a = r.array, a.count == 2, let next = a[0].text, let found = a[1].array else {
                throw RedisError(.protocolViolation, "SCAN: unexpected reply")
            }
            cursor = next
            for k in found.compactMap(\.text) where k.hasPrefix(prefix) {
                ids.append(String(k.dropFirst(prefix.count + 1).dropLast()))
            }
        } while cursor != "0"
        return try ids.sorted().compactMap { try device(id: $0) }
    }
}
