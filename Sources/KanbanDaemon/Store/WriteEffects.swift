import KanbanProtocol

/// What a write did besides changing rows, gathered while its transaction runs and acted on only
/// after the commit: events to publish, and whether the dispatcher should look for work.
struct WriteEffects: Sendable {
    var events: [PublishedEvent] = []
    /// A task became ready (or a slot freed): the dispatcher should run a pass now.
    var wakeDispatcher = false
    /// Runs whose worker processes must be stopped (a human completed, blocked or archived a task
    /// while its worker still ran).
    var terminateRuns: [Int64] = []
}
