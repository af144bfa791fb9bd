#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import KanbanProtocol

/// Why a call could not be made or answered.
public enum ClientError: Error, CustomStringConvertible {
    /// Nothing listens on the socket (exit code 3 in kanbanctl).
    case unreachable(socket: String, reason: String)
    /// The connection broke or the server sent something that is not a valid reply.
    case transport(String)
    /// The server answered with an error.
    case server(KanbanError)

    public var description: String {
        switch self {
        case .unreachable(let socket, let reason):
            return "cannot reach kanband at \(socket): \(reason)"
        case .transport(let message):
            return "connection to kanband failed: \(message)"
        case .server(let error):
            return error.message
        }
    }
}

/// One blocking connection to kanband. Blocking I/O keeps a CLI start fast (no event loop), and a
/// connection is used by one thread at a time.
public final class SocketConnection {
    public let path: String
    private var fd: Int32
    private var reader: FrameReader

    public init(path: String, maxFrameBytes: Int = Framing.defaultMaxFrameBytes) throws(ClientError) {
        self.path = path
        self.reader = FrameReader(maxFrameBytes: maxFrameBytes)
        #if canImport(Glibc)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw .unreachable(socket: path, reason: SocketConnection.errnoText()) }
        guard var address = unixSocketAddress(path) else {
            _ = SocketConnection.systemClose(fd)
            throw .unreachable(socket: path, reason: "socket path is too long (\(path.utf8.count) bytes)")
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if result != 0 {
            let reason = SocketConnection.errnoText()
            _ = SocketConnection.systemClose(fd)
            throw .unreachable(socket: path, reason: reason)
        }
        self.fd = fd
    }

    deinit { if fd >= 0 { _ = SocketConnection.systemClose(fd) } }

    public func close() {
        if fd >= 0 {
            _ = SocketConnection.systemClose(fd)
            fd = -1
        }
    }

    private static func systemClose(_ fd: Int32) -> Int32 {
        #if canImport(Glibc)
        return Glibc.close(fd)
        #else
        return Darwin.close(fd)
        #endif
    }

    /// Sends one frame.
    public func send(_ body: [UInt8]) throws(ClientError) {
        let frame = Framing.frame(body)
        try writeAll(frame)
    }

    /// Sends raw bytes as they are (tests use this for malformed frames).
    public func writeAll(_ bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                #if canImport(Glibc)
                Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                #else
                Darwin.send(fd, raw.baseAddress! + offset, raw.count - offset, 0)
                #endif
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw .transport(SocketConnection.errnoText())
            }
            offset += written
        }
    }

    /// Blocks until one whole frame has arrived; nil when the server closed the connection.
    public func receive() throws(ClientError) -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            do {
                if let frame = try reader.next() { return frame }
            } catch {
                throw .transport("server sent an oversized frame")
            }
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 { return nil }
            if count < 0 {
                if errno == EINTR { continue }
                throw .transport(SocketConnection.errnoText())
            }
            reader.feed(chunk[0..<count])
        }
    }

    /// True when whole or partial frames are already buffered, so a `poll` on the descriptor
    /// would not see them.
    public var hasBufferedBytes: Bool { reader.pendingBytes > 0 }

    /// The raw descriptor, for callers that poll (watch with Ctrl-C handling).
    public var descriptor: Int32 { fd }

    static func errnoText() -> String {
        String(cString: strerror(errno))
    }
}
