#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import KanbanClient
import KanbanProtocol

/// Where a command's text goes. kanbanctl writes straight to stdout/stderr; the chat gateway
/// collects both into strings to send back.
public protocol CommandOutput: AnyObject, Sendable {
    func out(_ text: String)
    func err(_ text: String)
    /// Streams (watch, tail, log --follow) flush after each line.
    func flush()
}

/// stdout and stderr of this process.
public final class StandardOutput: CommandOutput, @unchecked Sendable {
    public init() {}
    public func out(_ text: String) { StandardOutput.write(1, text + "\n") }
    public func err(_ text: String) { StandardOutput.write(2, text + "\n") }
    /// Writes go straight to the descriptor, unbuffered, so there is nothing to flush.
    public func flush() {}

    static func write(_ fd: Int32, _ text: String) {
        var text = text
        text.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return
                }
                offset += written
            }
        }
    }
}

/// Collects the text (for `/kanban …` from chat).
public final class CapturedOutput: CommandOutput, @unchecked Sendable {
    private var outLines: [String] = []
    private var errLines: [String] = []
    public init() {}
    public func out(_ text: String) { outLines.append(text) }
    public func err(_ text: String) { errLines.append(text) }
    public func flush() {}
    public var stdoutText: String { outLines.joined(separator: "\n") }
    public var stderrText: String { errLines.joined(separator: "\n") }
}

/// What a command runs with: its output, the environment, and how to stop a stream.
public struct CommandContext: Sendable {
    public var output: any CommandOutput
    public var environment: [String: String]
    /// Streams poll this between reads; true ends them cleanly (Ctrl-C, or the gateway's caller).
    public var shouldStop: @Sendable () -> Bool

    public init(
        output: any CommandOutput, environment: [String: String] = Locations.processEnvironment(),
        shouldStop: @escaping @Sendable () -> Bool = { false }
    ) {
        self.output = output
        self.environment = environment
        self.shouldStop = shouldStop
    }

    @TaskLocal public static var current = CommandContext(output: StandardOutput())
}

/// Exit codes (a contract: scripts rely on them).
public enum ExitStatus {
    public static let ok: Int32 = 0
    public static let refused: Int32 = 1
    public static let usage: Int32 = 2
    public static let unreachable: Int32 = 3
}

/// A command finished with a non-zero status after printing its own message.
struct CommandExit: Error {
    var code: Int32
}

func out(_ text: String) { CommandContext.current.output.out(text) }
func err(_ text: String) { CommandContext.current.output.err(text) }

extension String {
    /// Without leading and trailing whitespace (FoundationEssentials has no trimmingCharacters).
    var trimmed: String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }) else { return "" }
        let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })!
        return String(scalars[first...last])
    }
}
