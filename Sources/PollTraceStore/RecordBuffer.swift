import PollTraceCore

/// The in-memory buffer between recording threads and the writer thread: a locked
/// array append on the recording side, a swap of whole arrays on the writer side
/// (double buffering), so neither side copies records or waits on the other for
/// longer than an append.
///
/// One shard per poller (by poller id, 8 shards): each poller runs on its own
/// thread, and with a single shared buffer every record moved its lock and its
/// array's memory from one core's cache to the other's, several cache misses per
/// record on a multi-poller daemon. A shard is touched by its poller and, once per
/// swap, by the writer. The writer sorts what it takes by seq, as it always did
/// (the seq is taken before the append, so arrival order was never seq order).
///
/// In `drop` mode a full shard loses the record and remembers exactly which
/// sequence numbers were lost; the next swap turns that into one gap record, whose
/// own sequence number is taken then, after every lost one.
final class RecordBuffer: @unchecked Sendable {
    /// What the writer thread takes in one swap.
    struct Chunk {
        var records: [TraceRecord]
        var pollers: [PollerInfo]
        /// Set when the writer should finish: write this chunk, then stop.
        var isLast: Bool
        /// The most records one shard held: how far behind the writer was.
        var largestShard: Int
    }

    let mode: TraceMode
    /// Records one shard holds before its recording thread waits (`lossless`) or
    /// drops (`drop`).
    let capacity: Int
    static let shardCount = 8
    /// Borrowed on the hot path: no retain and release per record.
    private let shards: UnretainedObjects<Shard>
    private let sequence: SequenceCounter
    /// Told each time a shard passes half full or is full (`WriterPriority.adaptive`).
    private let scheduling: WriterScheduling?
    /// Guards `writerWoken`, `closeRequested`, `newPollers` and the writer's wait.
    /// Never taken while a shard's lock is held.
    private let wake = ConditionLock()
    private let writerWake: ConditionLock.Condition
    private var writerWoken = false
    private var closeRequested = false
    private var newPollers: [PollerInfo] = []
    /// Empty arrays (with their capacity) for the next swaps; writer thread only.
    private var spares: [[TraceRecord]] = []

    private let shardMask: Int

    init(mode: TraceMode, capacity: Int, sequence: SequenceCounter, scheduling: WriterScheduling? = nil) {
        self.mode = mode
        self.capacity = capacity
        self.sequence = sequence
        self.scheduling = scheduling
        writerWake = wake.makeCondition()
        shardMask = Self.shardCount - 1
        shards = UnretainedObjects((0..<Self.shardCount).map { _ in Shard(capacity: capacity) })
    }

    @inline(__always)
    private func shardIndex(for poller: PollerID) -> Int { Int(poller) & shardMask }


    /// Called on recording threads: the hot path.
    @inline(__always)
    func append(_ record: consuming TraceRecord) {
        let index = shardIndex(for: record.poller)
        var handed: TraceRecord? = consume record
        let full = shards.with(index) { shard -> Bool in
            shard.lock.lock()
            guard shard.filling.count < capacity && !shard.closing else { return true }  // still locked
            shard.filling.append(handed.take()!)
            let wakeWriter = shard.filling.count == shard.wakeThreshold
            shard.lock.unlock()
            if wakeWriter { self.wakeWriter() }
            return false
        }
        if full { appendWhenFull(handed.take()!, to: shards.all[index]) }
    }

    /// Appends many records under one lock: for a producer that makes records faster
    /// than one lock round trip each is worth (an import), where taking the lock per
    /// record, with the writer thread taking it too, was a tenth of the parsing
    /// thread's time. Full or closed: each remaining record goes the way `append`'s
    /// would. All go to the shard of the first record's poller.
    func append(contentsOf records: [TraceRecord]) {
        guard let first = records.first else { return }
        let shard = shards.all[shardIndex(for: first.poller)]
        var index = 0
        shard.lock.lock()
        while index < records.count {
            if shard.filling.count < capacity && !shard.closing {
                let before = shard.filling.count
                let taken = min(capacity - before, records.count - index)
                shard.filling.append(contentsOf: records[index..<(index + taken)])
                index += taken
                if before < shard.wakeThreshold && shard.filling.count >= shard.wakeThreshold {
                    shard.lock.unlock()
                    wakeWriter()
                    shard.lock.lock()
                }
                continue
            }
            appendWhenFull(records[index], to: shard)  // releases the lock
            index += 1
            shard.lock.lock()
        }
        shard.lock.unlock()
    }

    /// The shard is full (or closed). Called with its lock held; releases it.
    @inline(never)
    private func appendWhenFull(_ record: consuming TraceRecord, to shard: Shard) {
        if shard.closing || shard.writerStopped {
            shard.refusedCount += 1
            shard.lock.unlock()
            return
        }
        switch mode {
        case .lossless:
            while shard.filling.count >= capacity && !shard.closing && !shard.writerStopped {
                shard.lock.unlock()
                wakeWriter()
                shard.lock.lock()
                // The writer may have swapped while the lock was free.
                if shard.filling.count >= capacity && !shard.closing && !shard.writerStopped { shard.roomAvailable.wait() }
            }
            if shard.closing || shard.writerStopped {
                shard.refusedCount += 1
            } else {
                shard.filling.append(record)
            }
            shard.lock.unlock()
        case .drop:
            shard.refusedCount += 1
            let seq = record.seq, time = record.timeNs
            let runStarts = shard.lost == nil
            if var run = shard.lost {
                run.first = min(run.first, seq); run.last = max(run.last, seq); run.count += 1
                run.fromTimeNs = min(run.fromTimeNs, time); run.toTimeNs = max(run.toTimeNs, time)
                shard.lost = run
            } else {
                shard.lost = LostRun(first: seq, last: seq, count: 1, fromTimeNs: time, toTimeNs: time)
            }
            shard.lock.unlock()
            // Once per lost run: the writer stays woken until it swaps, and a poller
            // dropping under overload should not take the writer's lock per record.
            if runStarts { wakeWriter() }
        }
    }

    /// Every caller is a recording thread that found a shard half full or full: the
    /// writer is behind, so an adaptive writer is also moved to the normal class.
    private func wakeWriter() {
        scheduling?.writerIsBehind()
        wake.lock()
        writerWoken = true
        writerWake.signal()
        wake.unlock()
    }

    func addPoller(_ info: PollerInfo) {
        wake.lock()
        newPollers.append(info)
        wake.unlock()
    }

    /// Called on the writer thread: waits until a shard is half full, the interval
    /// is over or close was asked for, then swaps every shard's records out (`spare`,
    /// the array the writer is done with, emptied, is kept for a later swap) and
    /// returns them in seq order, with a gap record after each shard's lost run
    /// (each shard sorted, then the shards merged: `SortedRunMerge`).
    func take(spare: [TraceRecord], waitUntilMonotonicNs deadline: UInt64) -> Chunk {
        if spare.capacity > 0 { spares.append(spare) }  // the writer emptied it
        wake.lock()
        while !writerWoken && !closeRequested && MonotonicClock.nowNs() < deadline {
            writerWake.wait(untilMonotonicNs: deadline)
        }
        writerWoken = false
        let pollers = newPollers
        newPollers.removeAll()
        wake.unlock()
        scheduling?.writerWoke()

        var runs: [[TraceRecord]] = []
        var isLast = true
        var largestShard = 0
        for shard in shards.all {
            shard.lock.lock()
            if !shard.closing { isLast = false }
            if shard.filling.isEmpty && shard.lost == nil {
                shard.lock.unlock()
                continue
            }
            largestShard = max(largestShard, shard.filling.count)
            var taken = spares.popLast() ?? []
            swap(&taken, &shard.filling)
            if let run = shard.lost {
                // Taken now, under the lock: after every lost number, before any later record.
                let gap = Gap(seq: sequence.next(), timeNs: MonotonicClock.nowNs(), firstLost: run.first, lastLost: run.last,
                              lostCount: run.count, fromTimeNs: run.fromTimeNs, toTimeNs: run.toTimeNs)
                taken.append(.gap(gap))
                shard.lost = nil
            }
            shard.roomAvailable.broadcast()
            shard.lock.unlock()
            NearlySortedRecords.sort(&taken)
            runs.append(consume taken)
        }
        var records: [TraceRecord] = []
        if runs.count == 1 {
            records = runs.removeLast()
        } else if runs.count > 1 {
            records = spares.popLast() ?? []
            SortedRunMerge.merge(&runs, into: &records)
            // Emptied by the merge, capacity kept.
            for run in runs where run.capacity > 0 { spares.append(run) }
        }
        return Chunk(records: records, pollers: pollers, isLast: isLast, largestShard: largestShard)
    }

    /// Asks the writer to finish; records offered from now on are refused (and counted).
    func close() {
        for shard in shards.all {
            shard.lock.lock()
            shard.closing = true
            shard.roomAvailable.broadcast()
            shard.lock.unlock()
        }
        wake.lock()
        closeRequested = true
        writerWake.signal()
        wake.unlock()
    }

    /// The writer can no longer write: recorders must never wait for it again.
    func writerFailed() {
        for shard in shards.all {
            shard.lock.lock()
            shard.writerStopped = true
            shard.roomAvailable.broadcast()
            shard.lock.unlock()
        }
    }

    /// Records refused so far (drop mode, or after close / a write failure).
    var refused: Int {
        shards.all.reduce(0) { total, shard in
            shard.lock.lock()
            defer { shard.lock.unlock() }
            return total + shard.refusedCount
        }
    }
}

/// A run of sequence numbers a `drop` shard lost since the last swap.
private struct LostRun {
    var first: SequenceNumber
    var last: SequenceNumber
    var count: UInt64
    var fromTimeNs: UInt64
    var toTimeNs: UInt64
}

/// One poller's part of the buffer. Everything in it is guarded by `lock`.
private final class Shard: @unchecked Sendable {
    let lock = ConditionLock()
    /// Broadcast when the writer swapped `filling` out (or recording must stop):
    /// a lossless recorder waiting for room looks again.
    let roomAvailable: ConditionLock.Condition
    let wakeThreshold: Int
    // The lock is what rules out overlapping access, so the runtime's exclusivity
    // check on the storage (two per append, a third of what recording cost the loop
    // thread) is left out. Debug builds assert the lock is held on every access
    // instead; release builds compile the assert out.
    var filling: [TraceRecord] {
        @inline(__always) _read {
            lock.assertHeld()
            yield uncheckedFilling
        }
        @inline(__always) _modify {
            lock.assertHeld()
            yield &uncheckedFilling
        }
    }
    @exclusivity(unchecked) private var uncheckedFilling: [TraceRecord] = []
    var lost: LostRun?
    /// Records refused: dropped in drop mode, or offered after close.
    var refusedCount = 0
    var closing = false
    /// Set by the writer after a write failed. From then on records are refused
    /// (and counted) at once: a lossless recorder must never wait for a writer that
    /// can no longer write.
    var writerStopped = false

    init(capacity: Int) {
        roomAvailable = lock.makeCondition()
        wakeThreshold = max(1, capacity / 2)
    }
}
