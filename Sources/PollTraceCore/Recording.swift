import Synchronization

/// Hands out the process-wide total order. One per traced process, shared by every
/// poller and by the recorder, so a close on one thread and a reuse on another
/// compare correctly.
public final class SequenceCounter: Sendable {
    private let last: Atomic<UInt64>

    /// - Parameter startingAfter: the last number already used (0 for a new trace).
    public init(startingAfter: SequenceNumber = 0) {
        last = Atomic(startingAfter)
    }

    /// The next number. Lock-free; safe from any thread.
    //
    // Why `.relaxed` is enough. A sequence number must be (1) unique, (2) larger
    // than every number taken earlier on the same thread, and (3) larger than the
    // number of any record that happens before this one on another thread. The
    // case that matters is an fd number closed on one poller and reused on
    // another: the close's number is taken before `close(2)`, the open's after the
    // call that returned the number, and the kernel hands the number over under
    // its fd-table lock, whose release and acquire make the first `next()` happen
    // before the second. Likewise when one thread tells another through a lock,
    // an eventfd or a task queue.
    //
    // Every read-modify-write of one atomic, whatever its ordering, is atomic and
    // takes its place in that atomic's single modification order, reading the
    // value just before it there: so no two calls return the same number (1), and
    // the numbers follow the modification order. Coherence puts an operation that
    // happens before another earlier in that order, for relaxed operations too:
    // same thread (2), and across threads through any happens-before edge (3).
    // What the counter does not do is publish the record itself; the record
    // reaches the writer through the recorder's lock, which orders it.
    //
    // What would break this: deriving a number without a read-modify-write (a
    // load then a store), or expecting numbers to order records that no
    // happens-before edge relates (two pollers' independent events get numbers in
    // whichever order their increments ran, and the trace says only that).
    @inline(__always)
    public func next() -> SequenceNumber {
        last.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// The most recently handed-out number: at least every number whose `next()`
    /// happens before this read (coherence, as for `next`).
    public var current: SequenceNumber { last.load(ordering: .relaxed) }
}

/// Where a poller sends its records. The trace store's writer is one; tests use
/// `RecordCollector`.
///
/// `record` is called on poller threads, in the middle of the loop: it must not
/// block on I/O. Implementations that buffer may block only when the user chose
/// lossless recording and the buffer is full.
public protocol TraceRecorder: AnyObject, Sendable {
    /// The counter every record's `seq` must come from.
    var sequence: SequenceCounter { get }
    /// Tells the recorder a poller exists (its policy, backend, epoll fd).
    func pollerStarted(_ info: PollerInfo)
    /// Takes the record (`consuming`): the caller hands over a value it just made,
    /// so storing it is a move, not a copy. Copying a `TraceRecord` (an enum whose
    /// cases hold strings and arrays) costs about two fifths of a record call.
    func record(_ record: consuming TraceRecord)
    /// Takes several records at once, in the order given: what a poller made in
    /// one loop iteration. Same rules as `record`; a recorder that takes locks
    /// should take them once for all.
    func record(contentsOf records: [TraceRecord])
}

extension TraceRecorder {
    public func record(contentsOf records: [TraceRecord]) {
        for record in records { self.record(record) }
    }
}

/// Keeps every record in memory. For tests and small tools; not for long runs.
public final class RecordCollector: TraceRecorder, @unchecked Sendable {
    public let sequence: SequenceCounter
    private let state = Mutex<(records: [TraceRecord], pollers: [PollerInfo])>(([], []))

    public init(sequence: SequenceCounter = SequenceCounter()) { self.sequence = sequence }

    public func pollerStarted(_ info: PollerInfo) { state.withLock { $0.pollers.append(info) } }
    public func record(_ record: consuming TraceRecord) { state.withLock { [record] in $0.records.append(record) } }
    public func record(contentsOf records: [TraceRecord]) { state.withLock { $0.records.append(contentsOf: records) } }

    /// Every record so far, in sequence order.
    public var records: [TraceRecord] { state.withLock { $0.records }.sorted { $0.seq < $1.seq } }
    public var pollers: [PollerInfo] { state.withLock { $0.pollers } }
}

/// Handler labels with a meaning to the analyzer.
public enum HandlerLabels {
    /// EventPoller's own wake-up eventfd. It is readable because another thread
    /// posted tasks, and it runs in every batch while tasks keep coming, so replay
    /// counts the tasks that follow it as its work rather than calling it a spin.
    public static let pollerWakeUp = "poller-wakeup"
}
