import Foundation
import KanbanProtocol
import Testing

@testable import KanbanDaemon

/// Worker logs: copy-truncate rotation during a run, and tail / offset reads (reference §6).
@Suite struct BoardWorkerLogsTests {
    private final class Logs {
        let dir = TempDir("kanban-logs")
        var logs: WorkerLogs { WorkerLogs(directory: dir.path) }
        func write(_ text: String, task: String = "t_1") throws {
            try text.write(toFile: logs.path(for: task), atomically: false, encoding: .utf8)
        }
        func append(_ text: String, task: String = "t_1") throws {
            let handle = try #require(FileHandle(forWritingAtPath: logs.path(for: task)))
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(text.utf8))
            try handle.close()
        }
        func contents(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
    }

    @Test func rotationCopiesThenTruncatesInPlace() throws {
        let l = Logs()
        let path = l.logs.path(for: "t_1")
        #expect(path == l.dir.path + "/t_1.log")
        let old = String(repeating: "old line\n", count: 200)  // 1800 bytes
        try l.write(old)
        // A worker holds the file open for append across the rotation.
        let worker = open(path, O_WRONLY | O_APPEND)
        #expect(worker >= 0)
        defer { close(worker) }
        let inodeBefore = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int

        #expect(l.logs.rotateIfNeeded(path: path, maxBytes: 1000))
        #expect(l.contents(path) == "")
        // The rotated generation keeps the newest `maxBytes`, however far past the limit the log grew.
        #expect(l.contents(path + ".1") == String(old.suffix(1000)))
        #expect(!FileManager.default.fileExists(atPath: path + ".1.tmp"))
        let inodeAfter = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        #expect(inodeAfter == inodeBefore)

        // The worker's next write lands at the new start of the same file.
        _ = "after rotation\n".withCString { Glibc.write(worker, $0, strlen($0)) }
        #expect(l.contents(path) == "after rotation\n")

        // Below the limit nothing happens; the next rotation replaces the one older generation.
        #expect(!l.logs.rotateIfNeeded(path: path, maxBytes: 1000))
        try l.append(String(repeating: "new line\n", count: 200))
        #expect(!l.logs.rotateIfNeeded(path: path, maxBytes: 2000))
        #expect(l.logs.rotateIfNeeded(path: path, maxBytes: 1000))
        #expect(l.contents(path + ".1") == String(("after rotation\n" + String(repeating: "new line\n", count: 200)).suffix(1000)))
        #expect(l.contents(path) == "")
    }

    @Test func rotationOfAMissingOrSmallFileDoesNothing() throws {
        let l = Logs()
        #expect(!l.logs.rotateIfNeeded(path: l.logs.path(for: "t_none"), maxBytes: 10))
        try l.write("exactly ten")  // 11 bytes
        #expect(!l.logs.rotateIfNeeded(path: l.logs.path(for: "t_1"), maxBytes: 11))
        #expect(!FileManager.default.fileExists(atPath: l.logs.path(for: "t_1") + ".1"))
    }

    @Test func fullRead() throws {
        let l = Logs()
        let text = (0..<10).map { "line \($0)\n" }.joined()
        try l.write(text)
        let result = try l.logs.read(LogParams(id: "t_1"))
        #expect(result.exists)
        #expect(result.content == text)
        #expect(result.size == text.utf8.count)
        #expect(!result.truncated)
        #expect(result.nextOffset == text.utf8.count)
    }

    @Test func tailDropsThePartialFirstLine() throws {
        let l = Logs()
        let text = (0..<10).map { "line \($0)\n" }.joined()  // 7 bytes a line
        try l.write(text)
        let result = try l.logs.read(LogParams(id: "t_1", tail: 30))
        #expect(result.truncated)
        #expect(!result.content.contains("line 0"))
        // The window starts inside "line 5"; that fragment is dropped.
        #expect(result.content == "line 6\nline 7\nline 8\nline 9\n")
        #expect(result.nextOffset == text.utf8.count)
        // A tail larger than the file is the whole file, untruncated.
        let all = try l.logs.read(LogParams(id: "t_1", tail: 10_000))
        #expect(all.content == text)
        #expect(!all.truncated)
    }

    @Test func oneGiantLineReturnsTheRawTail() throws {
        let l = Logs()
        let line = (0..<5000).map { String($0 % 10) }.joined()
        try l.write(line)
        let result = try l.logs.read(LogParams(id: "t_1", tail: 100))
        #expect(result.truncated)
        #expect(result.content == String(line.suffix(100)))
        #expect(l.logs.tail(taskID: "t_1", bytes: 10) == String(line.suffix(10)))
    }

    /// The crash event's `log_tail` comes from this read. A last line longer than the window, ending in a
    /// newline (what `print` writes), must still give its raw tail, as a line without the newline does;
    /// today the window's only newline is its last byte and the read returns "".
    @Test func aGiantLastLineEndingInANewlineStillGivesItsTail() throws {
        let l = Logs()
        let line = (0..<5000).map { String($0 % 10) }.joined()
        try l.write("short first line\n" + line + "\n")
        let result = try l.logs.read(LogParams(id: "t_1", tail: 100))
        #expect(result.truncated)
        #expect(result.content == String(line.suffix(99)) + "\n")
        #expect(l.logs.tail(taskID: "t_1", bytes: 100).hasSuffix(String(line.suffix(20)) + "\n"))
    }

    /// Only a *partial* first line is dropped: when the window starts exactly at the start of a line,
    /// that line is whole and is kept.
    @Test func aTailWindowStartingOnALineBoundaryKeepsThatLine() throws {
        let l = Logs()
        let text = (0..<10).map { "line \($0)\n" }.joined()  // 7 bytes a line
        try l.write(text)
        let result = try l.logs.read(LogParams(id: "t_1", tail: 28))  // starts exactly at "line 6"
        #expect(result.truncated)
        #expect(result.content == "line 6\nline 7\nline 8\nline 9\n")
    }

    @Test func offsetReadsFollowTheLog() throws {
        let l = Logs()
        try l.write("first\n")
        let one = try l.logs.read(LogParams(id: "t_1", offset: 0))
        #expect(one.content == "first\n")
        #expect(one.nextOffset == 6)
        try l.append("second\nthird")
        let two = try l.logs.read(LogParams(id: "t_1", offset: one.nextOffset))
        #expect(two.content == "second\nthird")
        #expect(two.nextOffset == 18)
        #expect(!two.truncated)
        let none = try l.logs.read(LogParams(id: "t_1", offset: two.nextOffset))
        #expect(none.content == "")
        #expect(none.nextOffset == 18)
        // Offset wins over tail.
        #expect(try l.logs.read(LogParams(id: "t_1", tail: 3, offset: 6)).content == "second\nthird")
    }

    @Test func anOffsetPastTheEndAfterRotationStartsOver() throws {
        let l = Logs()
        try l.write(String(repeating: "x", count: 2000))
        let path = l.logs.path(for: "t_1")
        #expect(l.logs.rotateIfNeeded(path: path, maxBytes: 1024))
        try l.append("fresh\n")
        let result = try l.logs.read(LogParams(id: "t_1", offset: 2000))
        #expect(result.content == "fresh\n")
        #expect(result.nextOffset == 6)
    }

    @Test func aMissingLogDoesNotExist() throws {
        let l = Logs()
        let result = try l.logs.read(LogParams(id: "t_nope"))
        #expect(!result.exists)
        #expect(result.content == "")
        #expect(result.size == 0)
        #expect(result.nextOffset == 0)
        #expect(l.logs.tail(taskID: "t_nope") == "")
    }

    @Test func negativeOffsetsAndTailsAreRefused() throws {
        let l = Logs()
        try l.write("x\n")
        #expect(throws: KanbanError.self) { try l.logs.read(LogParams(id: "t_1", offset: -1)) }
        #expect(throws: KanbanError.self) { try l.logs.read(LogParams(id: "t_1", tail: 0)) }
    }

    @Test func openForRunWritesAMarkerAndRotates() throws {
        let l = Logs()
        let logs = WorkerLogs(directory: l.dir.path + "/logs")
        let fd = try logs.openForRun(taskID: "t_9", runID: 4, command: ["agent", "t_9"], maxBytes: 1024)
        _ = "worker output\n".withCString { Glibc.write(fd, $0, strlen($0)) }
        close(fd)
        let first = try #require(l.contents(logs.path(for: "t_9")))
        #expect(first.contains("=== kanban run 4 of t_9 started"))
        #expect(first.contains(": agent t_9 ==="))
        #expect(first.hasSuffix("worker output\n"))
        // Grow it past the limit; the next run starts a fresh live log.
        let big = open(logs.path(for: "t_9"), O_WRONLY | O_APPEND)
        let filler = String(repeating: "y", count: 2000)
        _ = filler.withCString { Glibc.write(big, $0, strlen($0)) }
        close(big)
        let again = try logs.openForRun(taskID: "t_9", runID: 5, command: ["agent"], maxBytes: 1024)
        close(again)
        let live = try #require(l.contents(logs.path(for: "t_9")))
        #expect(live.contains("kanban run 5"))
        #expect(!live.contains("kanban run 4"))
        // The older generation keeps the newest 1024 bytes of run 4's log.
        let older = try #require(l.contents(logs.path(for: "t_9") + ".1"))
        #expect(older.utf8.count == 1024)
        #expect(older == String(repeating: "y", count: 1024))
    }
}
