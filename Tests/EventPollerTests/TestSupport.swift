import EventPoller
import Glibc
import PollTraceCore
import Synchronization
import XCTest

/// A value handlers on one thread write and the test reads (runOnce tests: same thread).
final class Box<Value> {
    var value: Value
    init(_ value: Value) { self.value = value }
}

/// A value shared with loop threads.
final class SharedBox<Value: Sendable>: Sendable {
    private let storage: Mutex<Value>
    init(_ value: Value) { storage = Mutex(value) }
    var value: Value { storage.withLock { $0 } }
    func update<R>(_ body: (inout Value) -> R) -> R { storage.withLock { body(&$0) } }
}

extension RecordCollector {
    /// Records with a sequence number above `mark`, in sequence order.
    func records(after mark: SequenceNumber) -> [TraceRecord] {
        records.filter { $0.seq > mark }
    }
}

/// True if `fd` is an open descriptor in this process.
func isOpen(_ fd: Int32) -> Bool {
    fcntl(fd, F_GETFD) != -1
}

extension TraceRecord {
    var dispatch: Dispatch? { if case .dispatch(let d) = self { d } else { nil } }
    var batch: BatchHarvested? { if case .batch(let b) = self { b } else { nil } }
}

/// Asserts that `records` are, in order, exactly the kinds in `expected`, printing
/// both lists when they are not.
func assertKinds(_ records: [TraceRecord], _ expected: [RecordKind], _ message: String,
                 file: StaticString = #filePath, line: UInt = #line) {
    let kinds = records.map(\.kind)
    XCTAssertEqual(kinds, expected, "\(message)\nrecorded: \(records.map { "\($0.seq):\($0.kind)" })",
                   file: file, line: line)
}

extension TraceRecord {
    /// The record with its clock readings zeroed, so a test can compare whole
    /// records whose times it cannot know.
    var withoutTimes: TraceRecord {
        switch self {
        case .fdOpened(var r): r.timeNs = 0; return .fdOpened(r)
        case .registered(var r): r.timeNs = 0; return .registered(r)
        case .modified(var r): r.timeNs = 0; return .modified(r)
        case .unregistered(var r): r.timeNs = 0; return .unregistered(r)
        case .closed(var r): r.timeNs = 0; return .closed(r)
        case .batch(var r): r.timeNs = 0; r.waitedNs = 0; return .batch(r)
        case .dispatch(var r): r.timeNs = 0; r.durationNs = 0; return .dispatch(r)
        case .gap(var r): r.timeNs = 0; r.fromTimeNs = 0; r.toTimeNs = 0; return .gap(r)
        case .callFailed(var r): r.timeNs = 0; return .callFailed(r)
        case .syscall(var r): r.timeNs = 0; return .syscall(r)
        }
    }
}

/// Waits (at most `timeoutMs`) until `fd` is readable, without consuming anything.
func waitReadable(_ fd: Int32, timeoutMs: Int32 = 5_000) -> Bool {
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    return poll(&entry, 1, timeoutMs) == 1
}
