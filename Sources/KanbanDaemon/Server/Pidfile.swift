import Foundation

/// The single-instance lock: a pidfile held with an exclusive `flock` for the daemon's whole
/// life. The kernel drops the lock when the process dies, however it dies, so a pidfile left by a
/// killed daemon never blocks the next start; a live one names the running pid.
final class Pidfile {
    let path: String
    private var fd: Int32

    init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DaemonStartError(POSIXFailure("cannot open pidfile \(path)").description) }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
            close(fd)
            let holder = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw DaemonStartError(
                "kanband is already running for this board (pid \(holder.isEmpty ? "unknown" : holder), pidfile \(path))")
        }
        let text = "\(getpid())\n"
        ftruncate(fd, 0)
        _ = text.withCString { pwrite(fd, $0, strlen($0), 0) }
        self.fd = fd
    }

    /// Removes the file and releases the lock (clean shutdown).
    func release() {
        guard fd >= 0 else { return }
        unlink(path)
        close(fd)
        fd = -1
    }

    deinit { release() }
}
