#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where a board lives: the home directory and the socket. Daemon and every client resolve these
/// with the same rules (a contract: scripts rely on them).
///
/// - home: `--home`, else `KANBAN_HOME`, else `~/.local/state/kanban`.
/// - socket: `--socket`, else `KANBAN_SOCKET`; otherwise `kanband.sock` inside the home when the
///   home was given explicitly (two boards never share a socket); for the default home,
///   `$XDG_RUNTIME_DIR/kanban/kanband.sock` when that variable is set, else `kanband.sock` in the home.
public struct Locations: Sendable, Equatable {
    public var home: String
    public var socket: String
    public var homeIsExplicit: Bool

    public static func resolve(
        home explicitHome: String? = nil, socket explicitSocket: String? = nil,
        environment: [String: String] = Locations.processEnvironment()
    ) -> Locations {
        let envHome = environment["KANBAN_HOME"].flatMap { $0.isEmpty ? nil : $0 }
        let givenHome = explicitHome ?? envHome
        let home = absolute(givenHome ?? defaultHome(environment: environment), environment: environment)
        let envSocket = environment["KANBAN_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        let socket: String
        if let given = explicitSocket ?? envSocket {
            socket = absolute(given, environment: environment)
        } else if givenHome == nil, let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            socket = join(runtime, "kanban/kanband.sock")
        } else {
            socket = join(home, "kanband.sock")
        }
        return Locations(home: home, socket: socket, homeIsExplicit: givenHome != nil)
    }

    public var database: String { Locations.join(home, "kanban.db") }
    public var logsDirectory: String { Locations.join(home, "logs") }
    public var workspacesDirectory: String { Locations.join(home, "workspaces") }
    public var configFile: String { Locations.join(home, "kanband.toml") }
    /// The pidfile's default place: beside the socket.
    public var pidfile: String { Locations.join(Locations.directory(of: socket), "kanband.pid") }

    public static func defaultHome(environment: [String: String]) -> String {
        let userHome = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? "/tmp"
        return join(userHome, ".local/state/kanban")
    }

    public static func join(_ base: String, _ leaf: String) -> String {
        base.hasSuffix("/") ? base + leaf : base + "/" + leaf
    }

    public static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    /// Expands `~` and makes a relative path absolute against the current directory.
    public static func absolute(_ path: String, environment: [String: String] = processEnvironment()) -> String {
        var path = path
        if path == "~" || path.hasPrefix("~/") {
            path = (environment["HOME"] ?? "/") + path.dropFirst()
        }
        if path.hasPrefix("/") { return path }
        var buffer = [CChar](repeating: 0, count: 4096)
        guard getcwd(&buffer, buffer.count) != nil else { return path }
        let cwd = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return join(cwd, path)
    }

    public static func processEnvironment() -> [String: String] {
        // Byte-wise: `String.firstIndex(of:)` walks grapheme clusters, which made this a tenth of
        // kanbanctl's start-up.
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let bytes = UnsafeRawBufferPointer(start: entry, count: strlen(entry))
            if let eq = bytes.firstIndex(of: UInt8(ascii: "=")) {
                result[String(decoding: bytes[..<eq], as: UTF8.self)] =
                    String(decoding: bytes[(eq + 1)...], as: UTF8.self)
            }
            pointer += 1
        }
        return result
    }
}

/// The environment variables a worker is started with.
public enum WorkerEnvironment {
    public static let taskID = "KANBAN_TASK_ID"
    public static let runID = "KANBAN_RUN_ID"
    public static let socket = "KANBAN_SOCKET"
    public static let workspace = "KANBAN_WORKSPACE"
    public static let assignee = "KANBAN_ASSIGNEE"
    public static let tenant = "KANBAN_TENANT"
}
