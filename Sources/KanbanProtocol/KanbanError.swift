/// The stable kind of an application error: the string in `error.data.kind` on the wire, which
/// scripts match on. New kinds may be added; existing ones never change meaning.
public enum ErrorKind: String, Codable, Sendable, CaseIterable {
    /// No task (or link, subscription, run) with that id.
    case notFound = "not_found"
    /// The task's status does not allow this operation (complete a triage task, unblock a ready one…).
    case invalidTransition = "invalid_transition"
    /// The change conflicts with current state: a running task reassigned, a lost claim race.
    case conflict
    /// A parameter is missing or malformed: empty title, bad workspace, unknown status, a cycle.
    case invalidArgument = "invalid_argument"
    /// The caller's run id is not the task's live run: an old worker talking after a reclaim.
    case staleRun = "stale_run"
    /// The client speaks a protocol major version this server does not.
    case unsupportedVersion = "unsupported_version"
    /// The peer's uid is not allowed on this socket.
    case permissionDenied = "permission_denied"
    /// The store cannot take writes right now (disk full, read-only database); retry later.
    case unavailable
    /// A bug or an unexpected failure inside the daemon.
    case `internal`
    /// JSON-RPC level problems, mapped to kinds so clients can switch on one field.
    case parseError = "parse_error"
    case invalidRequest = "invalid_request"
    case methodNotFound = "method_not_found"
    case invalidParams = "invalid_params"

    public var rpcCode: Int {
        switch self {
        case .parseError: return RPC.Code.parseError
        case .invalidRequest: return RPC.Code.invalidRequest
        case .methodNotFound: return RPC.Code.methodNotFound
        case .invalidParams: return RPC.Code.invalidParams
        case .internal: return RPC.Code.internalError
        default: return RPC.Code.applicationError
        }
    }

    init(rpcCode: Int) {
        switch rpcCode {
        case RPC.Code.parseError: self = .parseError
        case RPC.Code.invalidRequest: self = .invalidRequest
        case RPC.Code.methodNotFound: self = .methodNotFound
        case RPC.Code.invalidParams: self = .invalidParams
        default: self = .internal
        }
    }
}

/// An application error: a stable kind plus a human message. Every refusal in the system is one
/// of these; nothing is refused silently.
public struct KanbanError: Error, Sendable, Equatable, CustomStringConvertible {
    public var kind: ErrorKind
    public var message: String
    public var details: JSONValue?

    public init(_ kind: ErrorKind, _ message: String, details: JSONValue? = nil) {
        self.kind = kind
        self.message = message
        self.details = details
    }

    public var description: String { message }

    public static func notFound(_ id: String) -> KanbanError {
        KanbanError(.notFound, "no such task: \(id)", details: ["id": .string(id)])
    }

    public static func invalidArgument(_ message: String) -> KanbanError {
        KanbanError(.invalidArgument, message)
    }
}
