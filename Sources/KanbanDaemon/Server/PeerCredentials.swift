import Foundation
import NIOCore

/// Who is on the other end of a connection, from `SO_PEERCRED`: the kernel's word, not the
/// client's. Used to refuse other users and to label events with the actor.
struct PeerCredentials: Sendable, Equatable {
    var pid: Int32
    var uid: UInt32
    var gid: UInt32

    /// The daemon's own uid and root may connect; anybody else is refused.
    func isAllowed(ownUID: UInt32 = getuid()) -> Bool {
        uid == ownUID || uid == 0
    }

    var label: String { "uid=\(uid) pid=\(pid)" }

    /// Reads the credentials of a connected Unix socket channel.
    static func of(_ channel: any Channel) -> EventLoopFuture<PeerCredentials> {
        guard let provider = channel as? any SocketOptionProvider else {
            return channel.eventLoop.makeFailedFuture(ChannelError.operationUnsupported)
        }
        // Same layout as `struct ucred` (pid_t, uid_t, gid_t), which Glibc's module hides.
        let future: EventLoopFuture<PeerCredentials> = provider.unsafeGetSocketOption(
            level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
        return future
    }
}
