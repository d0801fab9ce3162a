import EESCore

/// A bad object-store configuration: one line for the operator, never containing a secret.
public struct ObjectStoreConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What is wrong and, where it helps, the value that was given (never a credential).
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Opens the store an `EES_OBJECT_STORE` URL names.
public enum ObjectStoreURL {
    /// `s3://BUCKET?endpoint=…` (see `S3Config.parse(url:env:)`) or `file:///absolute/dir`
    /// (see `FileObjectStore`). Nothing is contacted or created here; S3 credentials come from `env`.
    public static func open(_ url: String, env: [String: String]) throws(ObjectStoreConfigError) -> any ObjectStore {
        if url.hasPrefix("s3://") {
            return try S3ObjectStore(config: try S3Config.parse(url: url, env: env))
        }
        if url.hasPrefix("file://") {
            return FileObjectStore(root: try fileRoot(url))
        }
        throw ObjectStoreConfigError("object store URL must start with s3:// or file:// (got '\(redacted(url))')")
    }

    /// The directory of a `file:///dir` (or `file://localhost/dir`) URL, percent-decoded.
    static func fileRoot(_ url: String) throws(ObjectStoreConfigError) -> String {
        var rest = url.dropFirst("file://".count)
        if rest.hasPrefix("localhost/") { rest = rest.dropFirst("localhost".count) }
        guard rest.hasPrefix("/") else {
            throw ObjectStoreConfigError("file:// URL must name an absolute local directory, like file:///var/lib/ees/segments (got '\(redacted(url))')")
        }
        guard !rest.contains("?"), !rest.contains("#") else {
            throw ObjectStoreConfigError("file:// URL takes no query or fragment (got '\(redacted(url))')")
        }
        guard let path = percentDecoded(rest, plusIsSpace: false), !path.utf8.contains(0) else {
            throw ObjectStoreConfigError("file:// URL has an invalid percent-encoding (got '\(redacted(url))')")
        }
        var root = path
        while root.count > 1 && root.hasSuffix("/") { root.removeLast() }
        return root
    }

    /// `name=value&…` with percent-decoding; a repeated or undecodable parameter is an error.
    static func parseQuery(_ query: Substring) throws(ObjectStoreConfigError) -> [String: String] {
        var params: [String: String] = [:]
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let nameRaw = pair.prefix { $0 != "=" }
            let valueRaw = pair.dropFirst(nameRaw.count).dropFirst()
            guard let name = percentDecoded(nameRaw, plusIsSpace: true),
                  let value = percentDecoded(valueRaw, plusIsSpace: true) else {
                throw ObjectStoreConfigError("object store URL has an invalid percent-encoding in '\(nameRaw)'")
            }
            guard params[name] == nil else {
                throw ObjectStoreConfigError("object store URL parameter '\(name)' is given twice")
            }
            params[name] = value
        }
        return params
    }

    /// Decodes `%XX` escapes (and `+` as a space when asked, as in query strings and S3's
    /// `encoding-type=url` listings); `nil` for a malformed escape or bytes that are not UTF-8.
    static func percentDecoded(_ s: Substring, plusIsSpace: Bool) -> String? {
        var out = [UInt8]()
        out.reserveCapacity(s.utf8.count)
        var it = s.utf8.makeIterator()
        while let b = it.next() {
            if b == UInt8(ascii: "%") {
                guard let h = it.next().flatMap(hexValue), let l = it.next().flatMap(hexValue) else { return nil }
                out.append(h << 4 | l)
            } else if plusIsSpace && b == UInt8(ascii: "+") {
                out.append(UInt8(ascii: " "))
            } else {
                out.append(b)
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// A URL as it may appear in an error: hidden entirely when it carries user info (`user:secret@`).
    static func redacted(_ url: String) -> String {
        url.contains("@") ? "<URL with user info, not shown>" : url
    }
}
