import Foundation
import KanbanProtocol

/// Worker logs: `logs/<task>.log`, one older generation `<task>.log.1`.
///
/// Workers write their own log file (opened O_APPEND), so a log outlives a daemon restart and a
/// worker never dies of a broken pipe. The daemon bounds it during the run by copy-truncate: when
/// the live file passes the limit it is copied to `.log.1` and truncated in place, and the
/// worker's next append lands at the new end. A task's logs stay under about twice the limit.
struct WorkerLogs: Sendable {
    let directory: String

    func path(for taskID: String) -> String { Locations.join(directory, "\(taskID).log") }

    /// Opens the task's log for a new run and writes a marker line; returns the descriptor the
    /// worker inherits as stdout and stderr.
    func openForRun(taskID: String, runID: Int64, command: [String], maxBytes: Int) throws -> Int32 {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = path(for: taskID)
        rotateIfNeeded(path: path, maxBytes: maxBytes)
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw POSIXFailure("cannot open log \(path)") }
        let stamp = ISO8601DateFormatter().string(from: Date())
        let marker = "\n=== kanban run \(runID) of \(taskID) started \(stamp): \(command.joined(separator: " ")) ===\n"
        _ = marker.withCString { write(fd, $0, strlen($0)) }
        return fd
    }

    /// Copy-truncate when the live log is over `maxBytes`. Returns true when it rotated.
    ///
    /// Only the last `maxBytes` are kept in `.log.1`: a worker writing fast can grow its log far
    /// past the limit between two checks (100 ms), and copying all of it would both make `.log.1`
    /// unbounded and hold the dispatcher for as long as the copy takes.
    @discardableResult
    func rotateIfNeeded(path: String, maxBytes: Int) -> Bool {
        var info = stat()
        guard stat(path, &info) == 0, Int(info.st_size) > maxBytes else { return false }
        let rotated = path + ".1"
        let source = open(path, O_RDWR | O_CLOEXEC)
        guard source >= 0 else { return false }
        defer { close(source) }
        let target = open(rotated + ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard target >= 0 else { return false }
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        var copied = 0
        // From `maxBytes` before the end to the end as it is while copying: what the worker
        // appends during the copy goes along (a little over the bound) rather than being lost.
        var offset = off_t(max(0, Int(info.st_size) - maxBytes))
        // …but at most `maxBytes` more: a worker writing faster than the copy must not keep it
        // (and the dispatcher that runs it) going without end.
        let stop = off_t(Int(info.st_size) + maxBytes)
        while offset < stop {
            let want = min(buffer.count, Int(stop - offset))
            let count = buffer.withUnsafeMutableBytes { pread(source, $0.baseAddress, want, offset) }
            if count <= 0 { break }
            _ = buffer.withUnsafeBytes { write(target, $0.baseAddress, count) }
            copied += count
            offset += off_t(count)
        }
        close(target)
        rename(rotated + ".tmp", rotated)
        // Bytes appended after the copy stopped (at the end of the file, or at the bound for a
        // worker writing faster than the copy) and before this truncate are lost.
        ftruncate(source, 0)
        return copied > 0
    }

    /// Reads a task's log: all of it, the last `tail` bytes, or from `offset` (following).
    func read(_ p: LogParams) throws -> LogResult {
        let path = path(for: p.id)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            return LogResult(id: p.id, path: path, exists: false, size: 0, content: "", truncated: false, nextOffset: 0)
        }
        defer { close(fd) }
        var info = stat()
        fstat(fd, &info)
        let size = Int(info.st_size)
        var start = 0
        var truncated = false
        if let offset = p.offset {
            guard offset >= 0 else { throw KanbanError.invalidArgument("offset must not be negative") }
            // A rotation shrank the file below the reader's offset: start over at the new beginning.
            start = offset <= size ? offset : 0
        } else if let tail = p.tail {
            guard tail > 0 else { throw KanbanError.invalidArgument("tail must be positive") }
            if size > tail {
                start = size - tail
                truncated = true
            }
        }
        let limit = min(size - start, 8 * 1024 * 1024)
        var bytes = [UInt8](repeating: 0, count: max(limit, 0))
        let count = limit > 0 ? bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress, limit, off_t(start)) } : 0
        bytes = Array(bytes.prefix(max(count, 0)))
        if truncated, p.offset == nil {
            // Drop the partial first line — unless the window starts on a line boundary, or the
            // only newline ends the window (one giant last line): then the raw tail is the answer.
            var before: UInt8 = 0
            let startsOnBoundary = start > 0 && pread(fd, &before, 1, off_t(start - 1)) == 1 && before == UInt8(ascii: "\n")
            if !startsOnBoundary, let newline = bytes.firstIndex(of: UInt8(ascii: "\n")), newline + 1 < bytes.count {
                bytes = Array(bytes[(newline + 1)...])
            }
        }
        return LogResult(
            id: p.id, path: path, exists: true, size: size, content: String(decoding: bytes, as: UTF8.self),
            truncated: truncated || start + max(count, 0) < size && p.offset == nil && p.tail == nil,
            nextOffset: start + max(count, 0))
    }

    /// The last `bytes` of the log as text, for crash events.
    func tail(taskID: String, bytes: Int = 2000) -> String {
        (try? read(LogParams(id: taskID, tail: bytes)).content) ?? ""
    }
}

/// A failed system call, with errno's text.
struct POSIXFailure: Error, CustomStringConvertible {
    var description: String
    init(_ what: String, errno code: Int32 = errno) {
        description = "\(what): \(String(cString: strerror(code)))"
    }
}
