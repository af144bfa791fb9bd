import Foundation
import KanbanProtocol

/// The baseline for round trips: a minimal server in another process that reads each
/// length-prefixed frame and writes the same bytes back. Same socket type, same framing, no work.
enum EchoServer {
    static func run(path: String) -> Never {
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard var address = unixSocketAddress(path) else { fatalError("echo socket path too long: \(path)") }
        _ = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        listen(fd, 64)
        while true {
            let client = accept(fd, nil, nil)
            guard client >= 0 else { continue }
            let thread = Thread {
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                var reader = FrameReader()
                while true {
                    let count = buffer.withUnsafeMutableBytes { recv(client, $0.baseAddress, $0.count, 0) }
                    if count <= 0 { break }
                    reader.feed(buffer[0..<count])
                    while let frame = try? reader.next() {
                        let out = Framing.frame(frame)
                        _ = out.withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    }
                }
                close(client)
            }
            thread.start()
        }
    }
}
