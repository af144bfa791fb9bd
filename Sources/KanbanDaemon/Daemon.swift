import Dispatch
import Foundation
import KanbanProtocol
import Logging
import NIOPosix

/// Everything kanband's command line decides.
public struct DaemonOptions: Sendable {
    public var home: String?
    public var socket: String?
    public var pidfile: String?
    public var config: String?
    public var verbose = false
    public var overrides = DispatcherOverrides()
    public var maxFrameBytes = Framing.defaultMaxFrameBytes

    public init() {}
}

/// The composition root: lock, store, dispatcher, socket server, signals; and the orderly stop.
public enum KanbanDaemon {
    /// Runs the daemon until SIGTERM or SIGINT. Returns the process exit code.
    public static func run(_ options: DaemonOptions) async -> Int32 {
        var logger = Logger(label: "kanband")
        logger.logLevel = options.verbose ? .debug : .info
        let locations = Locations.resolve(home: options.home, socket: options.socket)
        let pidfilePath = options.pidfile.map { Locations.absolute($0) } ?? locations.pidfile
        let configPath = options.config.map { Locations.absolute($0) } ?? locations.configFile
        signal(SIGPIPE, SIG_IGN)
        // A size-limited file (RLIMIT_FSIZE) must fail a write, not kill the daemon.
        signal(SIGXFSZ, SIG_IGN)
        let pidfile: Pidfile
        let board: Board
        let config: DispatcherConfig
        let listenFD: Int32
        let activated: Bool
        do {
            config = try DispatcherConfig.load(path: configPath)
            let fm = FileManager.default
            for directory in [locations.home, locations.logsDirectory, locations.workspacesDirectory] {
                try fm.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            }
            pidfile = try Pidfile(path: pidfilePath)
            // The socket before the database: a second daemon (another pidfile, same socket) is
            // turned away before it touches the live database.
            if let inherited = ListeningSocket.fromSocketActivation() {
                listenFD = inherited
                activated = true
            } else {
                listenFD = try ListeningSocket.bind(path: locations.socket)
                activated = false
            }
            do {
                board = try Board(path: locations.database, durability: config.durability)
            } catch {
                if !activated {
                    close(listenFD)
                    unlink(locations.socket)
                }
                throw error
            }
        } catch {
            FileHandle.standardError.write(Data("kanband: \(error)\n".utf8))
            return 1
        }
        let connections = ConnectionCounter()
        let info = DaemonInfo(locations: locations, connections: connections)
        let dispatcher = Dispatcher(
            board: board, locations: locations, configPath: configPath, config: config, overrides: options.overrides,
            logger: logger)
        let router = Router(board: board, info: info, dispatcher: dispatcher, logger: logger)
        let server = SocketServer(
            router: router, logger: logger, maxFrameBytes: options.maxFrameBytes, connections: connections)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)

        let signals = SignalHandlers()
        signals.on(SIGTERM) { server.shutdown() }
        signals.on(SIGINT) { server.shutdown() }
        signals.on(SIGHUP) { Task { _ = try? await dispatcher.reload() } }

        await dispatcher.start()
        let watchdog = activated ? nil : Task {
            await SocketWatchdog(path: locations.socket, server: server, logger: logger).run()
        }
        logger.info(
            "kanband \(DaemonInfo.version) pid \(getpid()) serving \(locations.socket)\(activated ? " (socket-activated)" : "") database \(locations.database)"
        )
        var exitCode: Int32 = 0
        do {
            try await server.run(fd: listenFD, group: group)
        } catch {
            logger.error("server failed: \(error)")
            exitCode = 1
        }
        watchdog?.cancel()
        logger.info("shutting down")
        await dispatcher.stop()
        board.close()
        try? await group.shutdownGracefully()
        if !activated { unlink(locations.socket) }
        pidfile.release()
        signals.cancel()
        return exitCode
    }
}

/// Signal handling on a dispatch queue (never inside a signal handler).
final class SignalHandlers: @unchecked Sendable {
    private var sources: [any DispatchSourceSignal] = []
    private let queue = DispatchQueue(label: "kanband.signals")

    func on(_ number: Int32, _ action: @escaping @Sendable () -> Void) {
        signal(number, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
        source.setEventHandler(handler: action)
        source.resume()
        sources.append(source)
    }

    func cancel() {
        for source in sources { source.cancel() }
    }
}
