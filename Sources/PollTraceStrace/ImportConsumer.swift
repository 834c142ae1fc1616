import PollTraceCore

/// Where in the log a record came from: the citation every finding gives.
public struct LineOrigin: Hashable, Sendable {
    /// 1-based line number in the strace log (the first line, for split calls).
    public var line: UInt32
    /// The thread (strace's pid prefix; 0 when the log has none).
    public var tid: Int32
    /// The fd table (process) the record's fd belongs to, numbered from 1 in the
    /// order processes appear. Fds of different processes are different fds.
    public var fdTable: UInt32

    public init(line: UInt32, tid: Int32, fdTable: UInt32) {
        self.line = line; self.tid = tid; self.fdTable = fdTable
    }
}

/// Receives what the importer makes of a log, in sequence order: the trace writer,
/// the line table, and the foreign-trace analysis are consumers.
public protocol ImportConsumer: AnyObject {
    func pollerStarted(_ info: PollerInfo)
    func consume(_ record: TraceRecord, origin: LineOrigin)
}

/// The pseudo-call the importer records, as a `.syscall` with fd -1, when strace
/// says a thread ended (`+++ exited with 0 +++`): nothing that thread harvested can
/// be dispatched after it.
public let threadExitCallName = "+++exit"

/// The pseudo-call recorded (a `.syscall` with fd -1, `tid` the new tid and `result`
/// the old one) when the thread strace printed without a prefix turns out to be
/// `tid`: records before it carry tid 0.
public let threadRenamedCallName = "+++tid"
