/// A device as stored in Redis (`ees:device:{id}`). The API key itself is never stored: only the
/// hex SHA-256 of it.
public struct DeviceRecord: Sendable, Equatable {
    public enum Status: String, Sendable { case active, disabled }

    public var deviceID: String
    public var status: Status
    public var apiKeyHash: String
    public var streamKey: String?
    public var tenant: String?
    public var site: String?
    public var line: String?
    public var machine: String?
    public var ed25519PublicKey: String?

    public init(deviceID: String, status: Status, apiKeyHash: String, streamKey: String? = nil,
                tenant: String? = nil, site: String? = nil, line: String? = nil, machine: String? = nil,
                ed25519PublicKey: String? = nil) {
        self.deviceID = deviceID
        self.status = status
        self.apiKeyHash = apiKeyHash
        self.streamKey = streamKey
        self.tenant = tenant
        self.site = site
        self.line = line
        self.machine = machine
        self.ed25519PublicKey = ed25519PublicKey
    }

    /// Field/value pairs as stored in the Redis hash (absent optionals are not written).
    public var fields: [(String, String)] {
        var f: [(String, String)] = [("status", status.rawValue), ("api_key_hash", apiKeyHash)]
        for (name, value) in [("stream_key", streamKey), ("tenant", tenant), ("site", site), ("line", line),
                              ("machine", machine), ("ed25519_pubkey", ed25519PublicKey)] {
            if let value { f.append((name, value)) }
        }
        return f
    }

    /// Reads a record back from hash fields; nil when required fields are missing or invalid.
    public init?(deviceID: String, fields: [String: String]) {
        guard let s = fields["status"], let status = Status(rawValue: s), let hash = fields["api_key_hash"] else {
            return nil
        }
        self.init(deviceID: deviceID, status: status, apiKeyHash: hash, streamKey: fields["stream_key"],
                  tenant: fields["tenant"], site: fields["site"], line: fields["line"], machine: fields["machine"],
                  ed25519PublicKey: fields["ed25519_pubkey"])
    }
}

/// Where device records live (Redis in production, memory in unit tests).
public protocol DeviceRegistry: Sendable {
    /// The record, or nil when the device does not exist.
    func device(id: String) throws -> DeviceRecord?
    /// Creates the record; false when a device with that id already exists.
    func create(_ record: DeviceRecord) throws -> Bool
    /// Replaces an existing record and tells every ingest node to drop its cached copy.
    func update(_ record: DeviceRecord) throws
    /// All device records, ordered by id.
    func list() throws -> [DeviceRecord]
}
