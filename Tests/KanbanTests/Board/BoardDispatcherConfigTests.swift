import Foundation
import Testing

@testable import KanbanDaemon

/// `kanband.toml` parsing: the dispatcher's settings and worker commands, refused as a whole when wrong.
@Suite struct BoardDispatcherConfigTests {
    private func refusal(_ text: String) -> String? {
        do {
            _ = try DispatcherConfig.parse(text, source: "test.toml")
            return nil
        } catch {
            return error.description
        }
    }

    @Test func fullExample() throws {
        let config = try DispatcherConfig.parse(
            """
            interval = 2
            max_concurrent = 4
            failure_limit = 3
            claim_ttl = 120.5
            kill_grace = 1
            log_max_bytes = 4096
            event_retention_days = 7
            log_retention_days = 14.5
            worktree_repo = "/srv/repo"
            durability = "normal"

            [workers.coder]
            command = ["my-agent", "--task", "{task_id}", "--in", "{workspace}"]
            env = { MODEL = "large", LEVEL = "3" }
            max_concurrent = 2
            max_runtime = 3600

            [workers."*"]
            command = ["generic-agent", "{assignee}"]
            max_runtime = 0.5
            """)
        #expect(config.interval == 2)
        #expect(config.maxConcurrent == 4)
        #expect(config.failureLimit == 3)
        #expect(config.claimTTL == 120.5)
        #expect(config.killGrace == 1)
        #expect(config.logMaxBytes == 4096)
        #expect(config.eventRetentionDays == 7)
        #expect(config.logRetentionDays == 14.5)
        #expect(config.worktreeRepo == "/srv/repo")
        #expect(config.durability == .normal)
        let coder = try #require(config.workers["coder"])
        #expect(coder.command == ["my-agent", "--task", "{task_id}", "--in", "{workspace}"])
        #expect(coder.env == ["MODEL": "large", "LEVEL": "3"])
        #expect(coder.maxConcurrent == 2)
        #expect(coder.maxRuntime == 3600)
        #expect(config.worker(for: "coder") == coder)
        let fallback = try #require(config.worker(for: "someone-else"))
        #expect(fallback.command == ["generic-agent", "{assignee}"])
        #expect(fallback.maxConcurrent == nil)
        #expect(fallback.maxRuntime == 0.5)
    }

    @Test func emptyFileIsTheDefaults() throws {
        let config = try DispatcherConfig.parse("")
        #expect(config == DispatcherConfig())
        #expect(config.workers.isEmpty)
        #expect(config.worker(for: "anyone") == nil)
        #expect(config.durability == .full)
        #expect(config.failureLimit == 5)
    }

    @Test func withoutAFallbackUnknownAssigneesHaveNoWorker() throws {
        let config = try DispatcherConfig.parse("[workers.a]\ncommand = [\"a\"]\n")
        #expect(config.worker(for: "a")?.command == ["a"])
        #expect(config.worker(for: "b") == nil)
    }

    @Test func missingFileIsTheDefaults() throws {
        let dir = TempDir("kanban-config")
        #expect(try DispatcherConfig.load(path: dir.path + "/kanband.toml") == DispatcherConfig())
        try "failure_limit = 2\n".write(toFile: dir.path + "/kanband.toml", atomically: true, encoding: .utf8)
        #expect(try DispatcherConfig.load(path: dir.path + "/kanband.toml").failureLimit == 2)
    }

    @Test func unknownKeysAreRefused() {
        #expect(refusal("max_workers = 3")?.contains("unknown setting 'max_workers'") == true)
        let inWorker = refusal("[workers.a]\ncommand = [\"x\"]\ntimeout = 5\n")
        #expect(inWorker?.contains("unknown setting 'timeout' in workers.a") == true)
    }

    @Test(arguments: [
        ("interval = \"fast\"", "'interval' must be a number"),
        ("claim_ttl = true", "'claim_ttl' must be a number"),
        ("max_concurrent = \"8\"", "'max_concurrent' must be an integer"),
        ("failure_limit = 2.5", "'failure_limit' must be an integer"),
        ("log_max_bytes = 1e6", "'log_max_bytes' must be an integer"),
        ("failure_limit = 0", "'failure_limit' must be at least 1"),
        ("interval = 0", "'interval' must be at least"),
        ("log_max_bytes = 10", "'log_max_bytes' must be at least 1024"),
        ("kill_grace = -1", "'kill_grace' must be at least"),
        ("worktree_repo = \"relative/repo\"", "'worktree_repo' must be an absolute path"),
        ("worktree_repo = 3", "'worktree_repo' must be an absolute path"),
        ("durability = \"paranoid\"", "'durability' must be"),
        ("claim_ttl = 1e20", "'claim_ttl' must be at most 31536000"),
        ("[workers.a]\ncommand = [\"x\"]\nmax_runtime = 1e300", "'max_runtime' must be at most"),
        ("workers = 3", "'workers' must be a table"),
        ("[workers]\na = 1", "workers.a must be a table"),
        ("[workers.a]\ncommand = \"my-agent {task_id}\"", "workers.a.command must be a list of strings"),
        ("[workers.a]\ncommand = [\"x\", 3]", "workers.a.command must contain only strings"),
        ("[workers.a]\ncommand = []", "workers.a.command must not be empty"),
        ("[workers.a]\ncommand = [\"\"]", "workers.a.command must not be empty"),
        ("[workers.a]\ncommand = [\"x\"]\nenv = 3", "workers.a.env must be a table"),
        ("[workers.a]\ncommand = [\"x\"]\nenv = { A = 1 }", "workers.a.env.A must be a string"),
        ("[workers.a]\ncommand = [\"x\"]\nmax_concurrent = 1.5", "'max_concurrent' must be an integer"),
        ("[workers.a]\ncommand = [\"x\"]\nmax_runtime = \"1h\"", "'max_runtime' must be a number"),
    ] as [(String, String)])
    func badValuesAreRefusedNamingTheKey(text: String, message: String) {
        let error = refusal(text)
        #expect(error?.contains(message) == true, "got: \(error ?? "accepted")")
        #expect(error?.hasPrefix("test.toml: ") == true)
    }

    @Test func aWorkerWithoutACommandIsRefused() {
        let error = refusal("[workers.coder]\nmax_concurrent = 2\n")
        #expect(error?.contains("workers.coder.command must be a list of strings") == true)
    }

    @Test func aSyntaxErrorNamesTheLine() {
        let error = refusal("interval = 2\nmax_concurrent = = 3\n")
        #expect(error?.hasPrefix("test.toml: ") == true)
        #expect(error?.contains("line 2") == true, "got: \(error ?? "accepted")")
    }
}
