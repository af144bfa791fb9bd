import Foundation
import Logging

/// Puts the socket file back if somebody deletes it (a tmp cleaner, a careless `rm`): every second
/// it checks that the path still names our socket, and binds a fresh listener when it does not.
/// Without it a deleted socket makes a healthy daemon unreachable until restarted.
struct SocketWatchdog {
    let path: String
    let server: SocketServer
    let logger: Logger

    func run() async {
        var inode = SocketWatchdog.inode(path)
        while !Task.isCancelled {
            try? await Task.sleep(nanoseconds: 1_000_000_000)
            if Task.isCancelled { return }
            let current = SocketWatchdog.inode(path)
            guard current != inode else { continue }
            if current != nil && ListeningSocket.isAnswering(path) {
                // Something else serves this path now; leave it alone.
                inode = current
                continue
            }
            do {
                let fd = try ListeningSocket.bind(path: path)
                guard server.addListener(fd: fd) else {
                    close(fd)
                    return
                }
                inode = SocketWatchdog.inode(path)
                logger.warning("socket \(path) was removed; listening on a new one")
            } catch {
                logger.error("cannot re-create socket \(path): \(error)")
            }
        }
    }

    static func inode(_ path: String) -> UInt? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return UInt(info.st_ino)
    }
}
