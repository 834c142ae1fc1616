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
