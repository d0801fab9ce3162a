import EESCore

/// `ees config-table`: the README's configuration table, generated from the same option
/// declarations that `--help` prints, so the two cannot drift apart.
enum ConfigTableCommand {
    static func command(_ all: @escaping @Sendable () -> [Command]) -> Command {
        Command(path: ["config-table"], usage: "ees config-table",
                summary: "Prints every option of every command as a Markdown table (for the README).",
                specs: [], run: { _ in
                    var seen = Set<String>()
                    out("| flag | environment | default | meaning | commands |")
                    out("|---|---|---|---|---|")
                    let commands = all()
                    for c in commands {
                        for s in c.specs where !seen.contains(s.name) {
                            seen.insert(s.name)
                            let users = commands.filter { $0.specs.contains { $0.name == s.name } }.map { $0.path.joined(separator: " ") }
                            out("| `--\(s.name)` | \(s.env.map { "`\($0)`" } ?? "") | \(s.defaultValue.map { "`\($0)`" } ?? "") | \(s.help.replacingAll("|", with: "\\|")) | \(users.joined(separator: ", ")) |")
                        }
                    }
                    return Exit.ok
                })
    }
}
