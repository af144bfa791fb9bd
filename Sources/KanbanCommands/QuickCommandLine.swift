import ArgumentParser

/// A hot verb's command line in its plain shape, read without swift-argument-parser.
///
/// Why: a CLI verb is a whole process, and swift-argument-parser builds each command by
/// reflection. Every generic type it instantiates has its requirements checked by a scan of all
/// ~4300 protocol conformances in the binary, which made parsing two thirds of `kanbanctl create`
/// (docs/PERFORMANCE.md). The verbs workers call in a loop (`create`, `complete`, `comment`,
/// `heartbeat`) are first read by this reader; anything it does not recognise with certainty
/// (`--`, short or `=` spellings, an unknown or repeated option, a value that looks like an option,
/// a number that does not parse, help) makes it give up, and the full parser reads the line as
/// always. A test checks, on generated command lines, that whenever this reader answers, the full
/// parser builds the identical command.
struct QuickCommandLine {
    private(set) var positionals: [String] = []
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []

    /// Splits `arguments` given the verb's value options and flags (long names with their
    /// dashes) and which of the value options may repeat; nil when the line is not plain.
    init?(_ arguments: ArraySlice<String>, options: Set<String>, repeatable: Set<String> = [], flags: Set<String> = []) {
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-") else {
                positionals.append(argument)
                continue
            }
            if flags.contains(argument) {
                guard self.flags.insert(argument).inserted else { return nil }
            } else if options.contains(argument) {
                guard index < arguments.endIndex, !arguments[index].hasPrefix("-") else { return nil }
                if values[argument] != nil && !repeatable.contains(argument) { return nil }
                values[argument, default: []].append(arguments[index])
                index += 1
            } else {
                return nil
            }
        }
    }

    /// The options every command takes (`GlobalOptions`).
    static let globalOptions: Set<String> = ["--home", "--socket", "--author"]

    func value(_ name: String) -> String? { values[name]?.last }
    func values(_ name: String) -> [String] { values[name] ?? [] }
    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The option's value as a number; `.some(nil)` when absent, nil when it does not parse
    /// (the full parser then reports it).
    func number<T: LosslessStringConvertible>(_ name: String, as type: T.Type = T.self) -> T?? {
        guard let text = value(name) else { return .some(nil) }
        guard let number = T(text) else { return nil }
        return .some(number)
    }

    var global: GlobalOptions {
        var global = GlobalOptions()
        global.home = value("--home")
        global.socket = value("--socket")
        global.author = value("--author")
        return global
    }
}

/// A verb the quick reader knows (see `QuickCommandLine`).
protocol QuickParsable: ParsableCommand {
    /// The command for `arguments` (after the verb), or nil to leave the line to the full parser.
    static func quickParse(_ arguments: ArraySlice<String>) -> Self?
}

extension QuickParsable {
    /// `quickParse` as the command type at large, for the table of verbs.
    static func quickParseAny(_ arguments: ArraySlice<String>) -> (any ParsableCommand)? {
        quickParse(arguments)
    }
}
