/// One value handed from one thread to another that waits for it: a thread's
/// outcome to the thread that started it, a loop task's result to its poster.
public final class Handoff<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private let delivered: ConditionLock.Condition
    // Guarded by `lock`. An enum, not an optional, so that `Value` may be one.
    private var slot = Slot.empty
    private enum Slot { case empty, filled(Value) }

    public init() { delivered = lock.makeCondition() }

    /// Hands `value` over, waking the waiter. Call once.
    public func put(_ value: Value) {
        lock.withLock {
            slot = .filled(value)
            delivered.signal()
        }
    }

    /// Waits until `put` has run, and returns its value.
    public func take() -> Value {
        lock.withLock {
            while true {
                if case .filled(let value) = slot { return value }
                delivered.wait()
            }
        }
    }
}
