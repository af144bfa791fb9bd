/// Splits a command line into words like a POSIX shell (quotes and backslashes), for commands
/// that arrive as one string from chat.
enum ShellWords {
    static func split(_ line: String) -> [String]? {
        var words: [String] = []
        var current = ""
        var inWord = false
        var quote: Character?
        var escaped = false
        var escapedInQuotes = false
        for character in line {
            if escaped {
                // Inside double quotes a backslash escapes only these; before anything else it is literal.
                if escapedInQuotes && !["\"", "\\", "$", "`", "\n"].contains(character) { current.append("\\") }
                current.append(character)
                escaped = false
                escapedInQuotes = false
                continue
            }
            if let open = quote {
                if character == open {
                    quote = nil
                } else if character == "\\" && open == "\"" {
                    escaped = true
                    escapedInQuotes = true
                } else {
                    current.append(character)
                }
                continue
            }
            switch character {
            case "\\":
                escaped = true
                inWord = true
            case "\"", "'":
                quote = character
                inWord = true
            case " ", "\t", "\n":
                if inWord {
                    words.append(current)
                    current = ""
                    inWord = false
                }
            default:
                current.append(character)
                inWord = true
            }
        }
        if quote != nil || escaped { return nil }
        if inWord { words.append(current) }
        return words
    }
}
