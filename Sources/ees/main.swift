import EESCore
import Foundation

// `ees`: one binary for every role and every operator task. This file only dispatches.
let operational: [Command] = [ServeCommand.command, MigrateCommand.command, SimulateCommand.command]
    + DeviceCommands.all + SegmentsCommands.all + MetabaseCommand.all
let commands = operational + [ConfigTableCommand.command { operational }]

func usage(_ commands: [Command]) -> String {
    var s = "usage: ees <command> [options]   (ees <command> --help for its options)\n\ncommands:\n"
    for c in commands {
        let name = c.path.joined(separator: " ")
        s += "  " + name + String(repeating: " ", count: max(2, 22 - name.count)) + c.summary.prefix { $0 != "." } + "\n"
    }
    return s
}

let args = Array(CommandLine.arguments.dropFirst())
let env = ProcessInfo.processInfo.environment
// The longest command path that prefixes the arguments.
let match = commands.filter { args.starts(with: $0.path) }.max { $0.path.count < $1.path.count }
guard let command = match else {
    if args.isEmpty || args == ["--help"] || args == ["-h"] || args == ["help"] {
        out(usage(commands))
        exit(Exit.ok)
    }
    err("ees: unknown command '\(args.prefix(2).joined(separator: " "))'\n" + usage(commands))
    exit(Exit.usage)
}
do {
    let options = try OptionParser.parse(Array(args.dropFirst(command.path.count)), specs: command.specs, env: env)
    if options.helpRequested {
        out(OptionParser.help(usage: command.usage, summary: command.summary, specs: command.specs))
        exit(Exit.ok)
    }
    exit(try command.run(options))
} catch let e as ConfigError {
    err("ees \(command.path.joined(separator: " ")): \(e.message)")
    exit(Exit.usage)
} catch {
    err("ees \(command.path.joined(separator: " ")): \(error)")
    exit(Exit.failure)
}
