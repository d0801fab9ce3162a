/// Metabase's native-query template syntax, the subset the dashboard cards use: `{{tag}}`
/// variables and `[[ … ]]` optional clauses. Rendering does what Metabase does before the SQL
/// reaches Postgres, so the very text of a card can be run and tested outside Metabase:
/// an optional clause stays (with its tags replaced) only when every tag in it has a value, and
/// a text value becomes a quoted SQL string literal.
public struct NativeQuery: Sendable, Equatable {
    public enum Segment: Sendable, Equatable {
        case text(String)
        case tag(String)
        /// `[[ … ]]`: text and tags, no nested clause (Metabase does not nest them either).
        case optional([Segment])
    }

    public let segments: [Segment]

    public init(segments: [Segment]) { self.segments = segments }

    /// Tag names in order of first use, each once.
    public var tags: [String] {
        var seen: [String] = []
        func visit(_ s: [Segment]) {
            for segment in s {
                switch segment {
                case .text: break
                case .tag(let name): if !seen.contains(name) { seen.append(name) }
                case .optional(let inner): visit(inner)
                }
            }
        }
        visit(segments)
        return seen
    }

    /// Splits `sql` into text, tags and optional clauses. Errors say what is wrong and where
    /// (a character offset), so a typo in a card fails its unit test with a precise line.
    public static func parse(_ sql: String) throws(NativeQueryError) -> NativeQuery {
        var top: [Segment] = []
        var clause: [Segment]?
        var text = ""
        var i = sql.startIndex
        func flush() {
            guard !text.isEmpty else { return }
            if clause != nil { clause!.append(.text(text)) } else { top.append(.text(text)) }
            text = ""
        }
        while i < sql.endIndex {
            let rest = sql[i...]
            let offset = sql.distance(from: sql.startIndex, to: i)
            if rest.hasPrefix("{{") {
                guard let close = rest.firstRange(of: "}}") else { throw NativeQueryError("'{{' without '}}'", offset: offset) }
                let name = String(rest[rest.index(i, offsetBy: 2)..<close.lowerBound].trimmingWhitespace)
                guard NativeQuery.isTagName(name) else {
                    throw NativeQueryError("template tag name must be letters, digits and _", offset: offset)
                }
                flush()
                if clause != nil { clause!.append(.tag(name)) } else { top.append(.tag(name)) }
                i = close.upperBound
            } else if rest.hasPrefix("[[") {
                guard clause == nil else { throw NativeQueryError("optional clauses cannot be nested", offset: offset) }
                flush()
                clause = []
                i = sql.index(i, offsetBy: 2)
            } else if rest.hasPrefix("]]") {
                guard clause != nil else { throw NativeQueryError("']]' without '[['", offset: offset) }
                flush()
                top.append(.optional(clause!))
                clause = nil
                i = sql.index(i, offsetBy: 2)
            } else {
                text.append(sql[i])
                i = sql.index(after: i)
            }
        }
        guard clause == nil else { throw NativeQueryError("'[[' without ']]'", offset: sql.count) }
        flush()
        return NativeQuery(segments: top)
    }

    /// The SQL Postgres would run for these tag values (text tags). A tag outside an optional
    /// clause must have a value; a clause whose tags do not all have one is left out.
    public func render(_ values: [String: String]) throws(NativeQueryError) -> String {
        var out = ""
        for segment in segments {
            switch segment {
            case .text(let t):
                out += t
            case .tag(let name):
                guard let v = values[name] else { throw NativeQueryError("no value for required template tag '\(name)'", offset: 0) }
                out += NativeQuery.literal(v)
            case .optional(let inner):
                guard inner.allSatisfy({ $0.tagName.map { values[$0] != nil } ?? true }) else { continue }
                for s in inner {
                    switch s {
                    case .text(let t): out += t
                    case .tag(let n): out += NativeQuery.literal(values[n]!)
                    case .optional: preconditionFailure("parse never nests optional clauses")
                    }
                }
            }
        }
        return out
    }

    /// A Postgres string literal: quotes doubled. (With `standard_conforming_strings`, on since
    /// Postgres 9.1, backslashes are ordinary characters, so this is the whole escaping.)
    public static func literal(_ value: String) -> String {
        "'" + value.replacing("'", with: "''") + "'"
    }

    static func isTagName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 64 && s.utf8.allSatisfy {
            ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F
        }
    }
}

/// A card's SQL does not follow the template syntax, or a required tag has no value.
public struct NativeQueryError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    /// Character offset in the SQL where the problem was found (0 when not positional).
    public let offset: Int

    public init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    public var description: String { offset > 0 ? "\(message) (at character \(offset))" : message }
}

extension NativeQuery.Segment {
    /// The tag's name when this segment is a tag.
    fileprivate var tagName: String? {
        if case .tag(let name) = self { return name }
        return nil
    }
}

extension Substring {
    /// Without leading and trailing spaces, tabs and newlines.
    fileprivate var trimmingWhitespace: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\n" { s = s.dropLast() }
        return s
    }
}
