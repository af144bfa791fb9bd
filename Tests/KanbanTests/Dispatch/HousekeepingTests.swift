import Foundation
import KanbanProtocol
import Logging
import Testing

@testable import KanbanDaemon

/// The dispatcher in-process, with a clock that moves only when told to: the daily gc and the
/// bounds on what a client or a config may ask for.
@Suite struct DispatcherHousekeepingTests {
    static func dispatcher(_ f: BoardFixture, config: DispatcherConfig = DispatcherConfig()) -> Dispatcher {
        let home = (f.path as NSString).deletingLastPathComponent
        return Dispatcher(
            board: f.board, locations: Locations.resolve(home: home), configPath: home + "/kanband.toml",
            config: config, overrides: DispatcherOverrides(), logger: Logger(label: "test"))
    }

    /// The periodic (full) tick runs the gc, at most once a day: finished tasks' old events go.
    @Test func thePeriodicTickCollectsOnceADay() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        var config = DispatcherConfig()
        config.eventRetentionDays = 0  // every finished task's events are old enough
        let dispatcher = Self.dispatcher(f, config: config)
        let done = try await f.create("finished")
        try await f.complete(done.id)
        let open = try await f.create("still open")
        f.clock.advance(seconds: 1)
        await dispatcher.tick()
        #expect(try await f.events(done.id).isEmpty, "the gc removed the finished task's events")
        #expect(try await f.events(open.id).count == 1, "an open task keeps its history")
        // Within the same day the periodic tick does not collect again…
        let later = try await f.create("finished later")
        try await f.complete(later.id)
        f.clock.advance(seconds: 3600)
        await dispatcher.tick()
        #expect(try await f.events(later.id).count >= 2)
        // …a day after the last run it does.
        f.clock.advance(seconds: 86_400)
        await dispatcher.tick()
        #expect(try await f.events(later.id).isEmpty)
    }

    /// A claim or heartbeat time to live that would overflow the millisecond clock is refused,
    /// not a crash of the daemon.
    @Test func hugeTTLsAreRefused() async throws {
        let f = try BoardFixture()
        defer { f.close() }
        let task = try await f.create("claim me")
        for ttl in [1e16, 1e300, Double(Int64.max), -1, 0] {
            await #expect(throws: KanbanError.self, "ttl \(ttl)") {
                try await f.board.claim(ClaimParams(id: task.id, ttl: ttl), actor: "t")
            }
        }
        let claim = try await f.board.claim(ClaimParams(id: task.id, ttl: 60), actor: "t")
        await #expect(throws: KanbanError.self) {
            try await f.board.heartbeat(HeartbeatParams(id: task.id, runID: claim.runID, ttl: 1e16), actor: "t")
        }
        let beat = try await f.board.heartbeat(
            HeartbeatParams(id: task.id, runID: claim.runID, ttl: DispatcherConfig.maxSeconds), actor: "t")
        #expect(beat.claimExpires > beat.task.createdAt)
    }
}
