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
                    // One row per distinct option: two commands may use one flag name with their own
                    // variable and default (`--api-key` of simulate and of metabase provision).
                    func identity(_ s: OptionSpec) -> String { [s.name, s.env ?? "", s.defaultValue ?? "", s.help].joined(separator: "\u{0}") }
                    for c in commands {
                        for s in c.specs where !seen.contains(identity(s)) {
                            seen.insert(identity(s))
                            let users = commands.filter { $0.specs.contains { identity($0) == identity(s) } }.map { $0.path.joined(separator: " ") }
                            out("| `--\(s.name)` | \(s.env.map { "`\($0)`" } ?? "") | \(s.defaultValue.map { "`\($0)`" } ?? "") | \(s.help.replacingAll("|", with: "\\|")) | \(users.joined(separator: ", ")) |")
                        }
                    }
                    return Exit.ok
                })
    }
}
