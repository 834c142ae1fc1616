import Synchronization

/// A wrapping 32-bit counter safe from any thread.
///
/// `.relaxed`: callers need each number to be distinct (until it wraps), which any
/// read-modify-write of one atomic gives; no other memory is published through
/// it. The ordering argument for the sequence counter is on `SequenceCounter.next`.
final class AtomicCounter: Sendable {
    private let value = Atomic<UInt32>(0)

    func next() -> UInt32 { value.wrappingAdd(1, ordering: .relaxed).newValue }
}
