import Testing

@testable import KanbanCommands

/// `ShellWords.split`: how a `/kanban …` line from chat becomes argv, like a POSIX shell (and like
/// the reference's `shlex.split`, §3.3).
@Suite struct ProtocolShellWordsTests {
    @Test(arguments: [
        ("create hello", ["create", "hello"]),
        ("  create   hello  ", ["create", "hello"]),
        ("create\thello\nworld", ["create", "hello", "world"]),
        ("", []),
        ("   ", []),
        ("create \"two words\" --assignee bob", ["create", "two words", "--assignee", "bob"]),
        ("create 'two words'", ["create", "two words"]),
        ("comment t_1 \"say \\\"hi\\\"\"", ["comment", "t_1", "say \"hi\""]),
        ("comment t_1 'no \\escapes in single'", ["comment", "t_1", "no \\escapes in single"]),
        ("a\\ b c", ["a b", "c"]),
        ("\\'quoted\\'", ["'quoted'"]),
        ("'it'\"'\"'s'", ["it's"]),
        ("pre\"mid dle\"post", ["premid dlepost"]),
        ("\"\" ''", ["", ""]),
        ("x \"\"", ["x", ""]),
        ("a\"\"", ["a"]),
        ("block t_1 \"need input\" --ids t_2", ["block", "t_1", "need input", "--ids", "t_2"]),
        ("\"multi\nline\"", ["multi\nline"]),
        ("emoji 🚀 'ünïcödé'", ["emoji", "🚀", "ünïcödé"]),
    ] as [(String, [String])])
    func splits(line: String, words: [String]) {
        #expect(ShellWords.split(line) == words)
    }

    @Test(arguments: ["\"unterminated", "'unterminated", "trailing\\", "a \"b 'c\" 'd", "\"escaped end\\\""])
    func unbalancedInputIsRefused(line: String) {
        #expect(ShellWords.split(line) == nil)
    }

    /// POSIX (and `shlex.split`, which the reference uses): inside double quotes a backslash escapes only
    /// `"`, `\`, `$`, `` ` `` and newline; before any other character it stays. A Windows path or a regex
    /// pasted into chat must come through unchanged.
    @Test func backslashInDoubleQuotesIsLiteralBeforeOrdinaryCharacters() {
        #expect(ShellWords.split("comment t_1 \"C:\\temp\\new\"") == ["comment", "t_1", "C:\\temp\\new"])
        #expect(ShellWords.split("comment t_1 \"match \\d+\"") == ["comment", "t_1", "match \\d+"])
        #expect(ShellWords.split("\"back\\\\slash\"") == ["back\\slash"])
    }
}
