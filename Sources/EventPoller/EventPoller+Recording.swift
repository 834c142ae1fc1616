import PollTraceCore

/// The record sites. Each is one `if let recording` when not recording: the record
/// is built, and the clock read, only inside the branch.
extension EventPoller {
    /// Takes the next sequence number and the time now, and records what `make` builds.
    @inline(__always)
    func record(_ make: (_ seq: SequenceNumber, _ timeNs: UInt64) -> TraceRecord) {
        if let recording {
            deliver(make(recording.nextSequence(), MonotonicClock.nowNs()), via: recording)
        }
    }

    /// Stages `record` while an iteration is under way (`StagedRecords`), else hands
    /// it to the recorder at once.
    @inline(__always)
    func deliver(_ record: consuming TraceRecord, via recording: Recording) {
        if staged.isOpen {
            if staged.add(record) { staged.handOver { recording.record(contentsOf: $0) } }
        } else {
            recording.record(record)
        }
    }

    /// Hands the staged records to the recorder now, keeping staging open: before
    /// telling another thread that something is recorded.
    func handOverStagedRecords() {
        if let recording { staged.handOver { recording.record(contentsOf: $0) } }
    }

    /// An fd exists now. Called *after* the call that returned it, so its number
    /// sorts after the close that freed the number (on any poller).
    @inline(__always)
    func recordOpened(fd: Int32, origin: FDOrigin) {
        record { .fdOpened(FDOpened(seq: $0, timeNs: $1, poller: id, fd: fd, origin: origin)) }
    }

    /// `fd` is about to be closed. Called *before* `close(2)`, for the same reason.
    @inline(__always)
    func recordClosing(fd: Int32) {
        record { .closed(Closed(seq: $0, timeNs: $1, poller: id, fd: fd)) }
    }

    @inline(__always)
    func recordFailure(_ call: FDCall, fd: Int32, error: any Error) {
        guard let error = error as? SyscallError else { return }
        record { .callFailed(CallFailed(seq: $0, timeNs: $1, poller: id, call: call, fd: fd, errno: error.errno)) }
    }

    /// Runs one fd call; a failure is recorded as `call` on `fd` and rethrown.
    @inline(__always)
    func recordingFailure<T>(_ call: FDCall, fd: Int32, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch {
            recordFailure(call, fd: fd, error: error)
            throw error
        }
    }
}
