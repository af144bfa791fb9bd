import ArgumentParser
@testable import KanbanCommands
import Testing

/// The quick reader of hot verbs (`QuickCommandLine`) must build exactly what swift-argument-parser
/// builds, or leave the line alone.
@Suite struct QuickCommandLineTests {
    /// What the full parser makes of `verb arguments`, as `dump` prints it; nil when it refuses.
    private func fullParse(_ verb: String, _ arguments: [String]) -> String? {
        guard let command = try? Kanbanctl.parseAsRoot([verb] + arguments) else { return nil }
        return printed(command)
    }

    private func printed(_ command: any ParsableCommand) -> String {
        var text = ""
        dump(command, to: &text)
        return text
    }

    private func quick(_ verb: String, _ arguments: [String]) -> (any ParsableCommand)? {
        Kanbanctl.quickVerbs[verb]?(arguments[...])
    }

    @Test func takesThePlainShapes() throws {
        let lines: [(String, [String])] = [
            ("create", ["Write the parser"]),
            ("create", ["x", "--priority", "2", "--parent", "t_a", "--parent", "t_b", "--json", "--assignee", "bob"]),
            ("create", ["x", "--workspace", "dir:/srv/repo", "--triage", "--home", "/tmp/h", "--author", "me"]),
            ("complete", ["t_1", "t_2", "--result", "merged"]),
            ("complete", []),
            ("comment", ["t_1", "some", "words"]),
            ("heartbeat", ["--run", "3", "--ttl", "30.5", "--note", "halfway"]),
            ("heartbeat", ["t_1"]),
        ]
        for (verb, arguments) in lines {
            let command = try #require(quick(verb, arguments), "\(verb) \(arguments)")
            #expect(printed(command) == fullParse(verb, arguments), "\(verb) \(arguments)")
        }
    }

    @Test func leavesEverythingElseToTheFullParser() {
        let lines: [(String, [String])] = [
            ("create", []),
            ("create", ["a", "b"]),
            ("create", ["x", "--priority", "two"]),
            ("create", ["-x"]),
            ("create", ["x", "--body=y"]),
            ("create", ["x", "--", "y"]),
            ("create", ["x", "--help"]),
            ("create", ["x", "-h"]),
            ("create", ["x", "--body"]),
            ("create", ["x", "--body", "--json"]),
            ("create", ["x", "--body", "a", "--body", "b"]),
            ("create", ["x", "--json", "--json"]),
            ("create", ["x", "--no-such-option"]),
            ("complete", ["t_1", "--version"]),
            ("heartbeat", ["a", "b"]),
            ("heartbeat", ["--run", "1.5"]),
            ("comment", ["t_1", "--", "-5 degrees"]),
        ]
        for (verb, arguments) in lines {
            #expect(quick(verb, arguments) == nil, "\(verb) \(arguments)")
        }
    }

    /// Generated command lines from each verb's vocabulary (its options, values that look like
    /// options, numbers that do and do not parse, `--`, help): whenever the quick reader answers
    /// and the command validates, the full parser must build the same command; when the quick
    /// command does not validate, the full parser must refuse the line too.
    @Test func buildsWhatTheFullParserBuildsOnGeneratedLines() {
        let common = ["--home", "--socket", "--author", "/tmp/h", "me", "--", "-h", "--help", "--bogus", "-x", "", " "]
        let vocabulary: [String: [String]] = [
            "create": common + [
                "title", "t_a", "--body", "--assignee", "--parent", "--workspace", "--tenant", "--priority",
                "--idempotency-key", "--created-by", "--triage", "--json", "7", "-3", "two", "scratch", "worktree",
                "dir:/srv", "dir:rel", "cloud",
            ],
            "complete": common + ["t_1", "t_2", "--result", "merged", "--json"],
            "comment": common + ["t_1", "word", "--task", "t_2"],
            "heartbeat": common + ["t_1", "--run", "--ttl", "--note", "3", "2.5", "-1", "0", "x", "nan"],
        ]
        var random = SplitMix64(seed: 0x6b616e62616e)
        var answered = 0
        for verb in vocabulary.keys.sorted() {
            let words = vocabulary[verb]!
            for _ in 0..<800 {
                let count = Int(random.next() % 7)
                let arguments = (0..<count).map { _ in words[Int(random.next() % UInt64(words.count))] }
                guard var command = quick(verb, arguments) else { continue }
                answered += 1
                let full = fullParse(verb, arguments)
                if (try? command.validate()) != nil {
                    #expect(printed(command) == full, "\(verb) \(arguments)")
                } else {
                    #expect(full == nil, "\(verb) \(arguments): the full parser accepts what fails validation")
                }
            }
        }
        // The generator must reach the quick path often enough for the comparison to mean something.
        #expect(answered >= 400, "\(answered) lines answered")
    }
}

/// A small seeded generator, so a failing line can be reproduced.
private struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
