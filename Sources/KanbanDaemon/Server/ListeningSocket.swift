import Foundation
import KanbanProtocol

/// The daemon's listening Unix socket: created with mode 0600 inside a 0700 directory, or adopted
/// from systemd socket activation.
enum ListeningSocket {
    /// The descriptor systemd passed (`LISTEN_FDS`/`LISTEN_PID` naming this process), if any. The
    /// variables are unset so that workers never inherit them.
    static func fromSocketActivation() -> Int32? {
        let env = ProcessInfo.processInfo.environment
        defer {
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_FDNAMES")
        }
        guard let pidText = env["LISTEN_PID"], let pid = Int32(pidText), pid == getpid(),
            let countText = env["LISTEN_FDS"], let count = Int(countText), count >= 1
        else { return nil }
        let fd: Int32 = 3
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return fd
    }

    /// Binds `path`. A socket file left by a dead daemon is removed, but only after checking that
    /// nothing answers on it.
    static func bind(path: String) throws -> Int32 {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var info = stat()
        if lstat(path, &info) == 0 {
            if isAnswering(path) {
                throw DaemonStartError("another kanband is already serving \(path)")
            }
            unlink(path)
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonStartError(POSIXFailure("socket").description) }
        var address = try unixAddress(path)
        // The umask makes the file 0600 from the moment it exists: no window where others can connect.
        let previous = umask(0o177)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        umask(previous)
        guard rc == 0 else {
            let failure = POSIXFailure("cannot bind \(path)")
            close(fd)
            throw DaemonStartError(failure.description)
        }
        guard listen(fd, 512) == 0 else {
            let failure = POSIXFailure("cannot listen on \(path)")
            close(fd)
            throw DaemonStartError(failure.description)
        }
        return fd
    }

    static func unixAddress(_ path: String) throws -> sockaddr_un {
        guard let address = unixSocketAddress(path) else {
            throw DaemonStartError("socket path is too long (\(path.utf8.count) bytes): \(path)")
        }
        return address
    }

    /// True when something accepts connections on `path`.
    static func isAnswering(_ path: String) -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0, var address = try? unixAddress(path) else { return false }
        defer { close(fd) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0
    }
}

/// Why the daemon cannot start; printed and turned into a non-zero exit.
public struct DaemonStartError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
