import Foundation

/// Bounds the bytes of requests being handled at once, across all connections. A connection
/// whose frame does not fit waits — and, not reading, pushes back on its client — so a flood of
/// large requests cannot grow the daemon's memory without limit.
final class RequestBudget: @unchecked Sendable {
    private let lock = NSLock()
    private let capacity: Int
    private var available: Int
    private var waiters: [(bytes: Int, continuation: CheckedContinuation<Void, Never>)] = []

    init(bytes: Int) {
        capacity = bytes
        available = bytes
    }

    /// Takes `bytes` (capped at the whole budget) when they are free and nobody waits; nil otherwise.
    func tryAcquire(_ bytes: Int) -> Int? {
        let bytes = min(bytes, capacity)
        return lock.withLock {
            guard waiters.isEmpty && available >= bytes else { return nil }
            available -= bytes
            return bytes
        }
    }

    /// Waits until `bytes` (capped at the whole budget) are free, then takes them.
    func acquire(_ bytes: Int) async -> Int {
        // Fast path, no suspension: the budget is almost never exhausted.
        if let taken = tryAcquire(bytes) { return taken }
        let bytes = min(bytes, capacity)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            lock.lock()
            if waiters.isEmpty && available >= bytes {
                available -= bytes
                lock.unlock()
                continuation.resume()
            } else {
                waiters.append((bytes, continuation))
                lock.unlock()
            }
        }
        return bytes
    }

    func release(_ bytes: Int) {
        var ready: [CheckedContinuation<Void, Never>] = []
        lock.lock()
        available += bytes
        while let first = waiters.first, first.bytes <= available {
            available -= first.bytes
            ready.append(first.continuation)
            waiters.removeFirst()
        }
        lock.unlock()
        for continuation in ready { continuation.resume() }
    }
}
