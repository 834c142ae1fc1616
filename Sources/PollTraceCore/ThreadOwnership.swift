import Synchronization

/// The one thread allowed to touch state whose run-time exclusivity check is off
/// (`@exclusivity(unchecked)`) because only that thread uses it. Debug builds take
/// the first thread that touches the state as its owner and stop the program if
/// another one does, so a misuse fails a test instead of racing silently in a
/// release build, where the check compiles to nothing.
public final class ThreadOwnership: Sendable {
    #if DEBUG
    private let owner = Atomic<UInt>(0)
    #endif

    public init() {}

    @inlinable @inline(__always)
    public func assertOwned(file: StaticString = #file, line: UInt = #line) {
        #if DEBUG
        check(file: file, line: line)
        #endif
    }

    #if DEBUG
    @usableFromInline
    func check(file: StaticString, line: UInt) {
        let me = NamedThread.currentID
        let (claimed, holder) = owner.compareExchange(expected: 0, desired: me, ordering: .relaxed)
        assert(claimed || holder == me, "state owned by one thread touched from another", file: file, line: line)
    }
    #endif
}
