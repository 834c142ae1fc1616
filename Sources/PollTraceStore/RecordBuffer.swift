import PollTraceCore

/// The in-memory buffer between recording threads and the writer thread: a locked
/// array append on the recording side, a swap of whole arrays on the writer side
/// (double buffering), so neither side copies records or waits on the other for
/// longer than an append.
///
/// In `drop` mode a full buffer loses the record and remembers exactly which
/// sequence numbers were lost; the next swap turns that into one gap record, whose
/// own sequence number is taken then, after every lost one.
final class RecordBuffer: @unchecked Sendable {
    /// What the writer thread takes in one swap.
    struct Chunk {
        var records: [TraceRecord]
        var pollers: [PollerInfo]
        /// Set when the writer should finish: write this chunk, then stop.
        var isLast: Bool
    }

    private struct LostRun {
        var first: SequenceNumber
        var last: SequenceNumber
        var count: UInt64
        var fromTimeNs: UInt64
        var toTimeNs: UInt64
    }

    let mode: TraceMode
    let capacity: Int
    private let wakeThreshold: Int
    private let sequence: SequenceCounter
    private let lock = ConditionLock()

    // Everything below is guarded by `lock`, which is what rules out overlapping
    // access: the runtime's exclusivity check on `filling` (two per append, about
    // 150 instructions, a third of what recording cost the loop thread) is left out.
    @exclusivity(unchecked) private var filling: [TraceRecord]
    private var newPollers: [PollerInfo] = []
    private var lost: LostRun?
    /// Records refused: dropped in drop mode, or offered after close.
    private var refusedCount = 0
    private var closing = false
    /// Set by the writer after a write failed. From then on records are refused
    /// (and counted) at once: a lossless recorder must never wait for a writer that
    /// can no longer write.
    private var writerStopped = false

    init(mode: TraceMode, capacity: Int, sequence: SequenceCounter) {
        self.mode = mode
        self.capacity = capacity
        self.wakeThreshold = max(1, capacity / 2)
        self.sequence = sequence
        filling = []
        filling.reserveCapacity(capacity)
    }

    /// Called on recording threads: the hot path.
    @inline(__always)
    func append(_ record: consuming TraceRecord) {
        lock.lock()
        if filling.count < capacity && !closing {
            filling.append(record)
            if filling.count == wakeThreshold { lock.wakeWriter() }
            lock.unlock()
            return
        }
        appendWhenFull(record)
    }

    /// Appends many records under one lock: for a producer that makes records faster
    /// than one lock round trip each is worth (an import), where taking the lock per
    /// record, with the writer thread taking it too, was a tenth of the parsing
    /// thread's time. Full or closed: each remaining record goes the way `append`'s would.
    func append(contentsOf records: [TraceRecord]) {
        var index = 0
        lock.lock()
        while index < records.count {
            if filling.count < capacity && !closing {
                let before = filling.count
                let taken = min(capacity - before, records.count - index)
                filling.append(contentsOf: records[index..<(index + taken)])
                index += taken
                if before < wakeThreshold && filling.count >= wakeThreshold { lock.wakeWriter() }
                continue
            }
            appendWhenFull(records[index])  // releases the lock
            index += 1
            lock.lock()
        }
        lock.unlock()
    }

    /// The buffer is full (or closed). Called with the lock held; releases it.
    @inline(never)
    private func appendWhenFull(_ record: consuming TraceRecord) {
        defer { lock.unlock() }
        if closing || writerStopped {
            refusedCount += 1
            return
        }
        switch mode {
        case .lossless:
            while filling.count >= capacity && !closing && !writerStopped {
                lock.wakeWriter()
                lock.waitForRoom()
            }
            if closing || writerStopped {
                refusedCount += 1
            } else {
                filling.append(record)
            }
        case .drop:
            lock.wakeWriter()
            refusedCount += 1
            let seq = record.seq, time = record.timeNs
            if var run = lost {
                run.first = min(run.first, seq); run.last = max(run.last, seq); run.count += 1
                run.fromTimeNs = min(run.fromTimeNs, time); run.toTimeNs = max(run.toTimeNs, time)
                lost = run
            } else {
                lost = LostRun(first: seq, last: seq, count: 1, fromTimeNs: time, toTimeNs: time)
            }
        }
    }

    func addPoller(_ info: PollerInfo) {
        lock.lock()
        newPollers.append(info)
        lock.unlock()
    }

    /// Called on the writer thread: waits until the buffer is half full, the
    /// interval is over or close was asked for, then swaps `spare` (empty) in and
    /// returns what was buffered, with a gap record appended for any lost run.
    func take(spare: [TraceRecord], waitUntilMonotonicNs deadline: UInt64) -> Chunk {
        lock.lock()
        defer { lock.unlock() }
        while filling.count < wakeThreshold && !closing && monotonicNowNs() < deadline {
            lock.waitForWriterWake(untilMonotonicNs: deadline)
        }
        var records = spare
        swap(&records, &filling)
        if let run = lost {
            // Taken now, under the lock: after every lost number, before any later record.
            let gap = Gap(seq: sequence.next(), timeNs: monotonicNowNs(), firstLost: run.first, lastLost: run.last,
                          lostCount: run.count, fromTimeNs: run.fromTimeNs, toTimeNs: run.toTimeNs)
            records.append(.gap(gap))
            lost = nil
        }
        let pollers = newPollers
        newPollers.removeAll()
        lock.announceRoom()
        return Chunk(records: records, pollers: pollers, isLast: closing)
    }

    /// Asks the writer to finish; records offered from now on are refused (and counted).
    func close() {
        lock.lock()
        closing = true
        lock.wakeWriter()
        lock.announceRoom()
        lock.unlock()
    }

    /// The writer can no longer write: recorders must never wait for it again.
    func writerFailed() {
        lock.lock()
        writerStopped = true
        lock.announceRoom()
        lock.unlock()
    }

    /// Records refused so far (drop mode, or after close / a write failure).
    var refused: Int {
        lock.lock()
        defer { lock.unlock() }
        return refusedCount
    }
}
