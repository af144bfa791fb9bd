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
        var fd: Int32 = -1
        // A daemon stopping meanwhile unlinks the file it locked: a lock won on that unlinked
        // file would guard nothing, so the lock counts only on the file the path still names.
        for _ in 0..<10 {
            fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw DaemonStartError(POSIXFailure("cannot open pidfile \(path)").description) }
            if flock(fd, LOCK_EX | LOCK_NB) != 0 {
                let code = errno
                var buffer = [UInt8](repeating: 0, count: 32)
                let count = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
                close(fd)
                guard code == EWOULDBLOCK else {
                    throw DaemonStartError(
                        "cannot lock the pidfile \(path): \(String(cString: strerror(code)))")
                }
                let holder = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self)
                    .trimmingCharacters(in: .whitespacesAndNewlines)
                throw DaemonStartError(
                    "kanband is already running for this board (pid \(holder.isEmpty ? "unknown" : holder), pidfile \(path))")
            }
            var locked = stat()
            var named = stat()
            if fstat(fd, &locked) == 0, stat(path, &named) == 0, locked.st_ino == named.st_ino, locked.st_dev == named.st_dev {
                break
            }
            close(fd)
            fd = -1
        }
        guard fd >= 0 else { throw DaemonStartError("cannot lock the pidfile \(path): it keeps being replaced") }
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
