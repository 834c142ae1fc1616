import PollTraceCore

/// One table row of a trace, as `RowPacking` produces it.
enum PackedRow {
    case record(RecordRow)
    case batch(BatchRow)
    case fd(FDRow)
    case syscall(SyscallRow)
}

/// The one place that turns a commit's records into table rows: a batch with its
/// events and the dispatches packed into it (`BatchPacking`, `OpenBatches`), fd
/// pairs in one row (`FDRecordPairing`), a registration's end in the
/// registration's row (`FDLifetimePacking`), a thread's syscalls several to a row
/// (`SyscallPacking`, `OpenSyscallRuns`), every other record a row of its own. The
/// writer inserts what it produces, and the store benchmark's plain-SQLite baseline
/// inserts the same rows, so the two are compared on exactly the same rows.
///
/// A value: the writer copies it before a commit and restores the copy if the
/// commit fails.
struct RowPacking {
    let start: UInt64
    /// Each poller's latest batch, which a dispatch in its own row is stored relative to.
    private var batches = BatchMemory()
    private var open = OpenBatches()
    private var syscallRuns = OpenSyscallRuns()
    /// Dispatches packed into batch rows so far (`meta.packed_dispatches` at close).
    private(set) var packedDispatches = 0
    /// fd records packed into another fd record's row (`meta.packed_fd_records`):
    /// the first of a pair (`FDRecordPairing`), and the unregistration and close
    /// packed into their registration's row (`FDLifetimePacking`).
    private(set) var packedFDRecords = 0
    /// Scratch for `FDLifetimePacking.lifetimes`, kept so a commit allocates nothing.
    private var openRegistrations: [UInt64: FDLifetimePacking.OpenRegistration] = [:]
    private var lifetimes: [(registration: Int, unregistration: Int)] = []
    private var lifetimeEnds: [Int] = []
    /// Syscalls packed into the row of an earlier call of their thread (`meta.packed_syscalls`).
    var packedSyscalls: Int { syscallRuns.packedCalls }
    /// Gap records written so far (the writer's statistics count them here, where
    /// each record is looked at anyway, rather than in a pass of their own).
    private(set) var gaps = 0

    init(start: UInt64) { self.start = start }

    /// Calls `emit` with the rows of `chunk`, which must be in seq order. `stringID`
    /// gives the `strings` id of a handler label or syscall name.
    mutating func rows(for chunk: [TraceRecord], stringID: (String) throws -> Int64,
                       emit: (PackedRow) throws -> Void) rethrows {
        // An fd record packed into the row of the record at index `into`: the next
        // record, or for an fd open the first after a few syscalls (their own table,
        // so they do not come between the pair's rows for a reader).
        var held: (record: TraceRecord, into: Int)? = nil
        FDLifetimePacking.lifetimes(in: chunk, closes: { Self.partner(of: chunk[$0], at: $0, in: chunk) == $0 + 1 },
                                    scratch: &openRegistrations, into: &lifetimes, ends: &lifetimeEnds)
        var nextLifetime = 0, nextEnd = 0
        for index in chunk.indices {
            // An unregistration and close already written in their registration's row.
            if nextEnd < lifetimeEnds.count, lifetimeEnds[nextEnd] <= index {
                if lifetimeEnds[nextEnd] + 1 == index { nextEnd += 1 }
                continue
            }
            let record = chunk[index]
            switch record {
            case .syscall(let r):
                let row = SyscallRow(seq: stored(r.seq), poller: Int64(r.poller), t: stored(r.timeNs &- start),
                                     tid: Int64(r.tid), fd: Int64(r.fd), nameID: try stringID(r.name),
                                     result: r.result, errno: Int64(r.errno), isData: r.isDataCall ? 1 : 0,
                                     sourceLine: Int64(r.sourceLine))
                try syscallRuns.add(row) { try emit(.syscall($0)) }
            case .batch(let r):
                if var previous = open.open(r) {
                    try emit(.batch(row(for: previous)))
                    open.recycle(&previous)
                }
                batches.remember(r, t: stored(r.timeNs &- start))
            case .dispatch(let r):
                if open.pack(r) { continue }
                try emit(.record(RowEncoding.row(for: record, start: start, firstEventID: 0, labelID: 0, batch: batches.base(for: r))))
            case .fdOpened, .registered, .modified, .unregistered, .closed:
                if let partner = Self.partner(of: record, at: index, in: chunk) {
                    held = (record, partner)
                    packedFDRecords += 1
                    continue
                }
                var labelID: Int64 = 0
                if case .registered(let r) = record { labelID = try stringID(r.handlerLabel) }
                let packed = held?.into == index ? held?.record : nil
                var row = FDRecordPairing.row(for: record, packed: packed, start: start, labelID: labelID)
                if nextLifetime < lifetimes.count, lifetimes[nextLifetime].registration == index {
                    let end = lifetimes[nextLifetime].unregistration
                    nextLifetime += 1
                    // `lifetimes` checked these kinds; the end's rows are skipped above.
                    guard case .registered(let r) = record, case .unregistered(let u) = chunk[end], case .closed(let c) = chunk[end + 1] else {
                        preconditionFailure("FDLifetimePacking paired records \(index) and \(end) of other kinds")
                    }
                    FDLifetimePacking.pack(&row, registered: r, unregistered: u, closed: c)
                    packedFDRecords += 2
                }
                try emit(.fd(row))
                held = nil
            case .gap, .callFailed:
                if case .gap = record { gaps += 1 }
                try emit(.record(RowEncoding.row(for: record, start: start, firstEventID: 0, labelID: 0)))
            }
        }
        // Nothing is held past the commit, so every commit is complete on its own.
        for entry in open.drain() { try emit(.batch(row(for: entry))) }
        try syscallRuns.drain { try emit(.syscall($0)) }
    }

    /// The index of the record whose row `record` (at `index`) packs into: the next
    /// one, or for an fd open the first fd record after it, if it packs. Every seq
    /// in between must be in this chunk (no number missing), so that no fd record
    /// written in a later commit can fall between the pair.
    @inline(__always)
    private static func partner(of record: TraceRecord, at index: Int, in chunk: [TraceRecord]) -> Int? {
        var next = index + 1
        if case .fdOpened = record {
            while next < chunk.count, next - index < Int(FDRecordPairing.maxOpenGap), !isFDRecord(chunk[next]) { next += 1 }
        }
        guard next < chunk.count, chunk[next].seq &- record.seq == UInt64(next - index),
              FDRecordPairing.packs(record, into: chunk[next]) else { return nil }
        return next
    }

    /// Whether `record` is stored in `fd_records`.
    @inline(__always)
    private static func isFDRecord(_ record: TraceRecord) -> Bool {
        switch record {
        case .fdOpened, .registered, .modified, .unregistered, .closed: true
        case .batch, .dispatch, .gap, .callFailed, .syscall: false
        }
    }

    /// A held batch's row, with its events and the dispatches packed into it.
    private mutating func row(for entry: OpenBatches.Entry) -> BatchRow {
        let batch = entry.batch
        packedDispatches += entry.packed
        return BatchRow(seq: stored(batch.seq), tag: RowEncoding.tag(.batch, batch.poller), t: stored(batch.timeNs &- start),
                        batchNumber: stored(batch.batchNumber), timeout: Int64(batch.timeoutMs),
                        waited: stored(batch.waitedNs), eventCount: Int64(batch.events.count),
                        events: batch.events.isEmpty ? nil : BatchPacking.encode(batch, dispatches: entry.dispatches),
                        packedDispatches: entry.packed > 0 ? Int64(entry.packed) : nil)
    }
}
