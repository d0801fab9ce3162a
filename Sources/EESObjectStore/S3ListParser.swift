/// A ListObjectsV2 page: the keys it holds and where the next page starts.
struct S3ListPage: Equatable, Sendable {
    var keys: [String]
    var isTruncated: Bool
    var nextContinuationToken: String?
}

/// The `<Error><Code>…</Code><Message>…</Message></Error>` body S3 sends with a failure.
struct S3ErrorBody: Equatable, Sendable {
    var code: String?
    var message: String?
}

/// An XML body that could not be understood.
struct S3XMLError: Error, Equatable, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// Reads the two XML documents S3 sends us (list pages and error bodies) with a small extractor
/// rather than a general XML parser: they are flat, known shapes, and this keeps the adapter free of
/// Foundation/libxml2. It understands elements, attributes (skipped), the XML declaration,
/// comments, CDATA and the five named plus numeric entities; it refuses DOCTYPEs and
/// unbalanced tags rather than guessing.
enum S3ListParser {
    /// Parses a ListObjectsV2 result; keys are decoded when the page says `EncodingType` = `url`.
    static func parsePage(_ bytes: [UInt8]) throws(S3XMLError) -> S3ListPage {
        var rawKeys: [String] = []
        var truncated: String?
        var token: String?
        var encoding: String?
        var root: String?
        try S3XML.visitLeaves(bytes) { path, text in
            if root == nil { root = path.first }
            guard path.count >= 2, path[0] == "ListBucketResult" else { return }
            switch (path.count, path[1]) {
            case (3, "Contents") where path[2] == "Key": rawKeys.append(text)
            case (2, "IsTruncated"): truncated = text
            case (2, "NextContinuationToken"): token = text
            case (2, "EncodingType"): encoding = text
            default: break
            }
        }
        guard root == "ListBucketResult" else {
            throw S3XMLError(message: "expected a ListBucketResult document, got <\(root ?? "nothing")>")
        }
        let isTruncated: Bool
        switch truncated {
        case "true": isTruncated = true
        case "false", nil: isTruncated = false
        case let other?: throw S3XMLError(message: "IsTruncated is '\(other)', not true/false")
        }
        var keys = rawKeys
        if encoding == "url" {
            keys = []
            keys.reserveCapacity(rawKeys.count)
            for raw in rawKeys {
                // S3 encodes with `+` for space (botocore decodes with unquote_plus); a literal `+` is %2B.
                guard let key = ObjectStoreURL.percentDecoded(raw[...], plusIsSpace: true) else {
                    throw S3XMLError(message: "listed key '\(raw.prefix(80))' is not valid URL encoding")
                }
                keys.append(key)
            }
        }
        return S3ListPage(keys: keys, isTruncated: isTruncated,
                          nextContinuationToken: token.flatMap { $0.isEmpty ? nil : $0 })
    }

    /// Parses an S3 error body leniently: whatever cannot be read is `nil` (bodies of proxies and
    /// HEAD responses are empty or HTML, and the HTTP status still says enough).
    static func parseError(_ bytes: [UInt8]) -> S3ErrorBody {
        var body = S3ErrorBody()
        do {
            try S3XML.visitLeaves(bytes) { path, text in
                guard path.count == 2, path[0] == "Error" else { return }
                if path[1] == "Code" { body.code = text }
                if path[1] == "Message" { body.message = text }
            }
        } catch {
            return body
        }
        return body
    }
}

/// The extractor behind `S3ListParser`: calls `visit` with each element's path and its decoded
/// text (the text after its last child, for elements that have children).
enum S3XML {
    /// Deeper documents are refused: S3's are three levels deep.
    static let depthMax = 16

    static func visitLeaves(_ b: [UInt8], _ visit: (_ path: [String], _ text: String) -> Void) throws(S3XMLError) {
        var path: [String] = []
        var text: [UInt8] = []
        var i = 0
        var sawRoot = false
        while i < b.count {
            guard b[i] == lt else {
                // A run of character data up to the next tag; entities are decoded per run so that
                // CDATA content (appended raw below) is never entity-decoded.
                let end = b[i...].firstIndex(of: lt) ?? b.count
                try decodeEntities(b[i..<end], into: &text)
                i = end
                continue
            }
            if starts(b, i, "<?") {
                i = try skip(b, past: "?>", from: i + 2, what: "XML declaration")
            } else if starts(b, i, "<!--") {
                i = try skip(b, past: "-->", from: i + 4, what: "comment")
            } else if starts(b, i, "<![CDATA[") {
                let end = try skip(b, past: "]]>", from: i + 9, what: "CDATA section")
                text.append(contentsOf: b[(i + 9)..<(end - 3)])
                i = end
            } else if starts(b, i, "<!") {
                throw S3XMLError(message: "unexpected <! declaration (DOCTYPE) in an S3 response")
            } else if starts(b, i, "</") {
                let nameEnd = nameEnd(b, from: i + 2)
                let name = String(decoding: b[(i + 2)..<nameEnd], as: UTF8.self)
                guard let open = path.last, open == name else {
                    throw S3XMLError(message: "closing tag </\(name)> does not match <\(path.last ?? "")>")
                }
                var j = nameEnd
                while j < b.count && isSpace(b[j]) { j += 1 }
                guard j < b.count && b[j] == gt else { throw S3XMLError(message: "malformed closing tag </\(name)") }
                visit(path, String(decoding: text, as: UTF8.self))
                path.removeLast()
                text.removeAll(keepingCapacity: true)
                i = j + 1
            } else {
                let nameEnd = nameEnd(b, from: i + 1)
                guard nameEnd > i + 1 else { throw S3XMLError(message: "malformed tag at byte \(i)") }
                let name = String(decoding: b[(i + 1)..<nameEnd], as: UTF8.self)
                guard !(path.isEmpty && sawRoot) else { throw S3XMLError(message: "more than one root element") }
                sawRoot = true
                // Skip attributes, respecting quotes, up to `>` or `/>`.
                var j = nameEnd
                var quote: UInt8?
                while j < b.count {
                    let c = b[j]
                    if let q = quote { if c == q { quote = nil } } else if c == dq || c == sq { quote = c } else if c == gt { break }
                    j += 1
                }
                guard j < b.count else { throw S3XMLError(message: "unterminated tag <\(name)") }
                path.append(name)
                guard path.count <= depthMax else { throw S3XMLError(message: "XML nested deeper than \(depthMax)") }
                text.removeAll(keepingCapacity: true)
                if b[j - 1] == UInt8(ascii: "/") {   // <Name/>: an empty element
                    visit(path, "")
                    path.removeLast()
                }
                i = j + 1
            }
        }
        guard sawRoot else { throw S3XMLError(message: "empty XML document") }
        guard path.isEmpty else { throw S3XMLError(message: "XML document ends inside <\(path.last!)>") }
    }

    /// Appends `t` to `out` with `&amp; &lt; &gt; &quot; &apos; &#NN; &#xHH;` replaced; any other
    /// `&` is an error.
    static func decodeEntities(_ t: ArraySlice<UInt8>, into out: inout [UInt8]) throws(S3XMLError) {
        var i = t.startIndex
        while i < t.endIndex {
            guard t[i] == UInt8(ascii: "&") else { out.append(t[i]); i += 1; continue }
            guard let semi = t[i...].prefix(12).firstIndex(of: UInt8(ascii: ";")) else {
                throw S3XMLError(message: "unterminated entity in XML text")
            }
            let name = String(decoding: t[(i + 1)..<semi], as: UTF8.self)
            switch name {
            case "amp": out.append(UInt8(ascii: "&"))
            case "lt": out.append(lt)
            case "gt": out.append(gt)
            case "quot": out.append(dq)
            case "apos": out.append(sq)
            default:
                let scalarValue: UInt32?
                if name.hasPrefix("#x") || name.hasPrefix("#X") {
                    scalarValue = UInt32(name.dropFirst(2), radix: 16)
                } else if name.hasPrefix("#") {
                    scalarValue = UInt32(name.dropFirst(), radix: 10)
                } else {
                    scalarValue = nil
                }
                guard let v = scalarValue, let scalar = Unicode.Scalar(v) else {
                    throw S3XMLError(message: "unknown XML entity &\(name);")
                }
                out.append(contentsOf: Array(String(Character(scalar)).utf8))
            }
            i = semi + 1
        }
    }

    private static func starts(_ b: [UInt8], _ i: Int, _ s: StaticString) -> Bool {
        let n = s.utf8CodeUnitCount
        guard i + n <= b.count else { return false }
        return s.withUTF8Buffer { b[i..<(i + n)].elementsEqual($0) }
    }

    /// The index just past the first `terminator` at or after `from`.
    private static func skip(_ b: [UInt8], past terminator: StaticString, from: Int, what: String) throws(S3XMLError) -> Int {
        var i = from
        while i < b.count {
            if starts(b, i, terminator) { return i + terminator.utf8CodeUnitCount }
            i += 1
        }
        throw S3XMLError(message: "unterminated \(what) in XML")
    }

    private static func nameEnd(_ b: [UInt8], from: Int) -> Int {
        var j = from
        while j < b.count && !isSpace(b[j]) && b[j] != gt && b[j] != UInt8(ascii: "/") { j += 1 }
        return j
    }

    private static func isSpace(_ c: UInt8) -> Bool { c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d }

    private static let lt = UInt8(ascii: "<")
    private static let gt = UInt8(ascii: ">")
    private static let dq = UInt8(ascii: "\"")
    private static let sq = UInt8(ascii: "'")
}
