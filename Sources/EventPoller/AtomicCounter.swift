import Synchronization

/// A wrapping 32-bit counter safe from any thread.
final class AtomicCounter: Sendable {
    private let value = Atomic<UInt32>(0)

    func next() -> UInt32 { value.wrappingAdd(1, ordering: .relaxed).newValue }
}
