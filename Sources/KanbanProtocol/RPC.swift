#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// JSON-RPC 2.0 envelope shapes. A request's `params` are decoded by the router once it knows the
/// method, so the envelope itself only carries the routing fields.
public enum RPC {
    public static let version = "2.0"

    /// Standard JSON-RPC codes for protocol errors.
    public enum Code {
        public static let parseError = -32700
        public static let invalidRequest = -32600
        public static let methodNotFound = -32601
        public static let invalidParams = -32602
        public static let internalError = -32603
        /// Every application error uses this code; `error.data.kind` says which.
        public static let applicationError = -32000
    }
}

/// The routing part of a request: decoded first, before the method's own params.
public struct RPCRequestHead: Decodable, Sendable {
    public var jsonrpc: String?
    public var id: JSONValue?
    public var method: String?

    /// True when the object had an `id` member at all (a notification has none).
    public var hasID: Bool

    enum CodingKeys: String, CodingKey { case jsonrpc, id, method }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        jsonrpc = try? container.decodeIfPresent(String.self, forKey: .jsonrpc)
        hasID = container.contains(.id)
        id = try? container.decodeIfPresent(JSONValue.self, forKey: .id)
        method = try? container.decodeIfPresent(String.self, forKey: .method)
    }
}

/// Decodes only the `params` member of a request as `P`.
public struct RPCParamsEnvelope<P: Decodable>: Decodable {
    public var params: P?
}

/// A request as a client sends it.
public struct RPCRequest<P: Encodable>: Encodable {
    public var jsonrpc = RPC.version
    public var id: JSONValue
    public var method: String
    public var params: P

    public init(id: JSONValue, method: String, params: P) {
        self.id = id
        self.method = method
        self.params = params
    }
}

/// A successful response as the server sends it.
public struct RPCResult<R: Encodable>: Encodable {
    public var jsonrpc = RPC.version
    public var id: JSONValue
    public var result: R

    public init(id: JSONValue, result: R) {
        self.id = id
        self.result = result
    }
}

/// The `error` member of a failed response.
public struct RPCErrorObject: Codable, Sendable, Error, Equatable {
    public var code: Int
    public var message: String
    public var data: ErrorData?

    public struct ErrorData: Codable, Sendable, Equatable {
        public var kind: String
        public var details: JSONValue?
        public init(kind: String, details: JSONValue? = nil) {
            self.kind = kind
            self.details = details
        }
    }

    public init(code: Int, message: String, data: ErrorData? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public init(_ error: KanbanError) {
        self.init(
            code: error.kind.rpcCode,
            message: error.message,
            data: ErrorData(kind: error.kind.rawValue, details: error.details)
        )
    }

    /// The application error this object carries, if it names a known kind.
    public var kanbanError: KanbanError {
        let kind = data.flatMap { ErrorKind(rawValue: $0.kind) } ?? ErrorKind(rpcCode: code)
        return KanbanError(kind, message, details: data?.details)
    }
}

/// A failed response as the server sends it.
public struct RPCFailure: Encodable {
    public var jsonrpc = RPC.version
    public var id: JSONValue
    public var error: RPCErrorObject

    public init(id: JSONValue, error: RPCErrorObject) {
        self.id = id
        self.error = error
    }
}

/// A server-initiated message (no id): event pushes on a subscription.
public struct RPCNotification<P: Codable>: Codable {
    public var jsonrpc = RPC.version
    public var method: String
    public var params: P

    public init(method: String, params: P) {
        self.method = method
        self.params = params
    }
}

/// What a client reads back: either a result, an error, or a notification.
public struct RPCIncoming<R: Decodable>: Decodable {
    public var id: JSONValue?
    public var method: String?
    public var result: R?
    public var error: RPCErrorObject?
}
