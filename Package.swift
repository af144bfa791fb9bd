// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "kanban",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kanband", targets: ["kanband"]),
        .executable(name: "kanbanctl", targets: ["kanbanctl"]),
        .executable(name: "kanban-bench", targets: ["kanban-bench"]),
        .library(name: "KanbanProtocol", targets: ["KanbanProtocol"]),
        .library(name: "KanbanClient", targets: ["KanbanClient"]),
        .library(name: "KanbanCommands", targets: ["KanbanCommands"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit", from: "0.6.0"),
    ],
    targets: [
        // Wire types, framing and error kinds. Imports nothing of ours.
        // Release builds skip Swift's dynamic exclusivity checks here: the JSON encoder appends to a
        // buffer owned by a class, and the per-byte runtime checks (thread-local lookups) measured as
        // a fifth of encoding a 10k-task list. Debug builds (the tests) keep them.
        .target(
            name: "KanbanProtocol",
            swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]
        ),
        // posix_spawn with setsid, chdir and closefrom: GNU extensions Swift's Glibc module hides.
        .target(name: "CKanbanSystem"),
        // The daemon: store, board kernel, dispatcher, socket server. Never imports the client.
        .target(
            name: "KanbanDaemon",
            dependencies: [
                "KanbanProtocol",
                "CKanbanSystem",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            // Async functions run on their caller's executor: a connection served on its event loop
            // stays there through routing and reads, with no thread hop per request.
            swiftSettings: [.enableUpcomingFeature("NonisolatedNonsendingByDefault")]
        ),
        // Blocking client: one connection, typed calls. Used by kanbanctl and the adapters.
        .target(name: "KanbanClient", dependencies: ["KanbanProtocol"]),
        // kanbanctl's command tree and output, shared with the chat gateway.
        .target(
            name: "KanbanCommands",
            dependencies: [
                "KanbanClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "kanband",
            dependencies: ["KanbanDaemon", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        // Linked with the Swift runtime and FoundationEssentials built in: a CLI verb is a whole
        // process, and resolving a dozen shared libraries at every start costs more than the work.
        .executableTarget(
            name: "kanbanctl", dependencies: ["KanbanCommands"],
            linkerSettings: [.unsafeFlags(["-static-executable", "-Xlinker", "-l_FoundationCollections", "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-lswiftSynchronization"])]
        ),
        // Benchmarks against same-run baselines; GRDB only for the direct-SQLite baseline and seeding.
        .executableTarget(
            name: "kanban-bench",
            dependencies: ["KanbanClient", "KanbanProtocol", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "KanbanTests",
            dependencies: ["KanbanProtocol", "KanbanDaemon", "KanbanClient", "KanbanCommands"],
            exclude: ["Fixtures"]
        ),
    ]
)
