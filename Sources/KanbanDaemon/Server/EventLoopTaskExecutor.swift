import NIOCore

/// Runs a task's nonisolated async code on one NIO event loop.
///
/// A connection's task prefers its channel's event loop: frames arrive there, replies are written
/// there, and a point read runs there inline. Without the preference every `await` on NIO's async
/// channel API (compiled as `@concurrent` code) hops to the global pool and back — two thread
/// wake-ups per request, measured as most of a read's round trip. Unbounded reads opt out with a
/// preference for the global executor (`Board.bulkRead`, `Router.offLoop`) so they never hold up
/// the loop's other connections.
final class EventLoopTaskExecutor: TaskExecutor, @unchecked Sendable {
    let loop: any EventLoop

    init(_ loop: any EventLoop) { self.loop = loop }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
