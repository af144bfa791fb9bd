#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import KanbanProtocol

/// Typed calls over one connection. Each call sends a request and blocks for its response;
/// notifications that arrive meanwhile (event pushes) are queued for `nextPush()`.
public final class KanbanClient {
    public let connection: SocketConnection
    private var nextID: Int64 = 1
    private var pushes: [[UInt8]] = []

    public init(socket: String) throws(ClientError) {
        connection = try SocketConnection(path: socket)
    }

    /// Connects to the socket that `Locations` resolves from flags and environment.
    public convenience init(locations: Locations) throws(ClientError) {
        try self.init(socket: locations.socket)
    }

    /// Calls `method` with `params` and decodes the result as `R`.
    public func call<P: Encodable, R: Decodable>(_ method: Method, _ params: P, as: R.Type = R.self) throws(ClientError) -> R {
        try call(method.rawValue, params)
    }

    public func call<P: Encodable, R: Decodable>(_ method: String, _ params: P) throws(ClientError) -> R {
        let id = nextID
        nextID += 1
        let body: [UInt8]
        do {
            body = try StreamingJSONEncoder.encode(RPCRequest(id: .int(id), method: method, params: params))
        } catch {
            throw .transport("cannot encode request: \(error)")
        }
        try connection.send(body)
        while true {
            guard let frame = try connection.receive() else {
                throw .transport("kanband closed the connection")
            }
            // One parse per frame: a reply's result can be megabytes (a whole list).
            let reply: Reply<R>
            do {
                reply = try StreamingJSONDecoder.decode(Reply<R>.self, from: frame)
            } catch {
                throw .transport("unreadable reply: \(error)")
            }
            if reply.id == nil && reply.method != nil {
                pushes.append(frame)
                continue
            }
            if let error = reply.error { throw .server(error.kanbanError) }
            guard reply.id == .int(id) else { continue }
            switch reply.result {
            case .success(let result): return result
            case .failure(let error): throw .transport("unexpected result shape for \(method): \(error)")
            case nil: throw .transport("reply to \(method) has neither result nor error")
            }
        }
    }

    /// True when a push (or part of one) has already been read off the socket: poll the
    /// descriptor only when this is false.
    public var hasBufferedPush: Bool { !pushes.isEmpty || connection.hasBufferedBytes }

    /// The next server push (a notification frame), blocking until one arrives; nil on close.
    public func nextPush() throws(ClientError) -> (method: String, frame: [UInt8])? {
        while true {
            let frame: [UInt8]
            if !pushes.isEmpty {
                frame = pushes.removeFirst()
            } else {
                guard let received = try connection.receive() else { return nil }
                frame = received
            }
            guard let head = try? StreamingJSONDecoder.decode(ResponseHead.self, from: frame), let method = head.method else {
                continue
            }
            return (method, frame)
        }
    }

    /// Decodes a push frame's params.
    public func decodePush<P: Codable>(_ frame: [UInt8], as: P.Type) throws(ClientError) -> P {
        do {
            return try StreamingJSONDecoder.decode(RPCNotification<P>.self, from: frame).params
        } catch {
            throw .transport("unreadable push: \(error)")
        }
    }

    private struct ResponseHead: Decodable {
        var id: JSONValue?
        var method: String?
        var error: RPCErrorObject?
    }

    /// A reply or push, decoded in one pass; `result` is decoded only when present, and a result
    /// of the wrong shape is kept as a failure so the caller can tell it from an unreadable frame.
    private struct Reply<R: Decodable>: Decodable {
        var id: JSONValue?
        var method: String?
        var error: RPCErrorObject?
        var result: Result<R, any Error>?

        enum CodingKeys: String, CodingKey { case id, method, error, result }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            id = try container.decodeIfPresent(JSONValue.self, forKey: .id)
            method = try container.decodeIfPresent(String.self, forKey: .method)
            error = try container.decodeIfPresent(RPCErrorObject.self, forKey: .error)
            if container.contains(.result) {
                do {
                    result = .success(try container.decode(R.self, forKey: .result))
                } catch {
                    result = .failure(error)
                }
            }
        }
    }
}
