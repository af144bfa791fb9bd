#if canImport(Glibc)
import Glibc
#endif
import KanbanCommands

// kanbanctl: parse, run, exit. Everything else lives in KanbanCommands.
exit(KanbanCLI.run(Array(CommandLine.arguments.dropFirst()), context: CommandContext(output: StandardOutput())))
