import Foundation
import KanbanProtocol

/// Facts about this daemon for `system.status`.
final class DaemonInfo: Sendable {
    static let version = "0.1.0"

    let startedAt: Date
    let locations: Locations
    let connections: ConnectionCounter

    init(locations: Locations, connections: ConnectionCounter) {
        self.startedAt = Date()
        self.locations = locations
        self.connections = connections
    }

    func status(board: Board, dispatcher: Dispatcher) async -> StatusResult {
        StatusResult(
            pid: getpid(), serverVersion: DaemonInfo.version, startedAt: startedAt.timeIntervalSince1970,
            uptimeSeconds: Date().timeIntervalSince(startedAt), home: locations.home, database: board.store.path,
            socket: locations.socket, schemaVersion: board.store.schemaVersion,
            durability: board.store.durability.rawValue, connections: connections.value, subscribers: board.bus.count,
            dispatcher: await dispatcher.health(), writes: board.store.writerHealth)
    }
}

/// Open connections, for status.
final class ConnectionCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private var nextID = 0
    var value: Int { lock.withLock { count } }
    func open() -> Int {
        lock.withLock {
            count += 1
            nextID += 1
            return nextID
        }
    }
    func close() { lock.withLock { count -= 1 } }
}
