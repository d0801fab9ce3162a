import EESCore
import EESCrypto

/// Checks `x-device-id` + `x-api-key` against the device record, read through the in-process
/// cache. The caller learns only "authenticated" or a reason to log; clients only ever see 401.
public struct DeviceAuthenticator: Sendable {
    public enum Outcome: Sendable, Equatable {
        case authenticated(DeviceRecord)
        /// Refused; the reason is for logs and metrics only.
        case refused(reason: String)
    }

    let registry: any DeviceRegistry
    let cache: DeviceCache
    let time: any TimeSource

    public init(registry: any DeviceRegistry, cache: DeviceCache, time: any TimeSource) {
        self.registry = registry
        self.cache = cache
        self.time = time
    }

    /// Throws only when the registry is unreachable (the caller answers 503).
    public func authenticate(deviceID: String?, apiKey: String?) throws -> Outcome {
        guard let deviceID, !deviceID.isEmpty, let apiKey, !apiKey.isEmpty else {
            return .refused(reason: "missing_credentials")
        }
        guard Identifier.isValid(deviceID) else {
            _ = APIKeys.verify(presented: apiKey, storedHashHex: nil)   // same work as for a real device
            return .refused(reason: "unknown_device")
        }
        let record = try lookup(deviceID)
        // Always hash and compare, so the time taken does not tell whether the device exists.
        let keyOK = APIKeys.verify(presented: apiKey, storedHashHex: record?.apiKeyHash)
        guard let record else { return .refused(reason: "unknown_device") }
        guard keyOK else { return .refused(reason: "wrong_key") }
        guard record.status == .active else { return .refused(reason: "device_disabled") }
        return .authenticated(record)
    }

    private func lookup(_ id: String) throws -> DeviceRecord? {
        let now = time.nowMs()
        if let cached = cache.lookup(id, nowMs: now) { return cached }
        let record = try registry.device(id: id)
        cache.store(id, record: record, nowMs: now)
        return record
    }
}
