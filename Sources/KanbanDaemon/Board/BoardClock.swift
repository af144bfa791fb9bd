import Foundation

/// The board's notion of now, in unix milliseconds. Injected so that tests of time-based rules
/// (claim expiry, ages, retention) move time instead of sleeping.
public protocol BoardClock: Sendable {
    func nowMillis() -> Int64
}

/// Wall-clock time.
public struct SystemBoardClock: BoardClock {
    public init() {}
    public func nowMillis() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }
}

/// A clock that moves only when told to.
public final class ManualBoardClock: BoardClock, @unchecked Sendable {
    private let lock = NSLock()
    private var now: Int64

    public init(millis: Int64 = 1_700_000_000_000) { now = millis }

    public func nowMillis() -> Int64 {
        lock.lock()
        defer { lock.unlock() }
        return now
    }

    public func advance(seconds: Double) {
        lock.lock()
        now += Int64(seconds * 1000)
        lock.unlock()
    }
}

extension Int64 {
    /// Milliseconds as the wire's fractional seconds.
    var seconds: Double { Double(self) / 1000 }
}
