import PollTraceCore

/// Schema v4 stores up to `maxCallsPerRow` syscalls of one thread (same `tid`, same
/// `poller`, one commit) in one `syscall_rows` row: the row's own columns are the
/// first call, and column `more` holds the later ones as JSON text, one array per
/// call:
///
///     [seq_offset, t_offset, fd, name_id, result, errno, is_data, line_offset]
///
/// each relative to the row's first call (`seq + seq_offset`, `t + t_offset`,
/// `source_line + line_offset`). An imported strace log is about half syscalls
/// (read, write, setsockopt, a failed accept4…), and one row per call was a third of
/// an import's time in the writer: SQLite's cost follows rows, not bytes. The
/// `syscalls` view unpacks `more` with `json_each`; the reader undoes it.
enum SyscallPacking {
    /// Long enough that a row costs little per call, short enough that the reader,
    /// which holds a row's later calls until their turn in seq order, holds few.
    static let maxCallsPerRow = 64

    /// One later call of a row, relative to the row's first call.
    struct Call {
        var seqOffset: Int64, tOffset: Int64, fd: Int64, nameID: Int64
        var result: Int64, errno: Int64, isData: Int64, lineOffset: Int64

        /// `call` relative to `first`; nil when an offset does not fit (never for
        /// what the importer writes), and the caller starts a new row instead.
        init?(_ call: SyscallRow, after first: SyscallRow) {
            guard call.seq > first.seq else { return nil }
            seqOffset = call.seq - first.seq
            tOffset = call.t &- first.t
            fd = call.fd; nameID = call.nameID; result = call.result; errno = call.errno; isData = call.isData
            lineOffset = call.sourceLine - first.sourceLine
        }
    }

    // MARK: Writing

    /// The text of `more` for `calls`.
    static func encode(_ calls: [Call]) -> PackedTextBytes {
        var out = PackedTextWriter(capacity: calls.count * (8 * PackedTextWriter.bytesPerNumber + 3) + 2)
        out.byte(UInt8(ascii: "["))
        for (index, call) in calls.enumerated() {
            if index > 0 { out.byte(UInt8(ascii: ",")) }
            out.byte(UInt8(ascii: "["))
            out.decimal(call.seqOffset)
            out.comma(call.tOffset)
            out.comma(call.fd)
            out.comma(call.nameID)
            out.comma(call.result)
            out.comma(call.errno)
            out.comma(call.isData)
            out.comma(call.lineOffset)
            out.byte(UInt8(ascii: "]"))
        }
        out.byte(UInt8(ascii: "]"))
        return PackedTextBytes(out)
    }

    // MARK: Reading

    /// The calls packed in `more` of the row whose first call is `first`, in the
    /// order written (seq order). `name` turns a `name_id` into the syscall's name.
    /// Throws on anything the writer does not produce.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, after first: SyscallRecord,
                       name: (Int64) throws -> String, into calls: inout [SyscallRecord]) throws {
        var scanner = PackedTextScanner(bytes: bytes, row: .syscalls(first.seq))
        var previousSeq = first.seq
        try scanner.expect(UInt8(ascii: "["))
        repeat {
            try scanner.expect(UInt8(ascii: "["))
            let seqOffset = try scanner.integer()
            var fields: (Int64, Int64, Int64, Int64, Int64, Int64, Int64) = (0, 0, 0, 0, 0, 0, 0)
            try withUnsafeMutableBytes(of: &fields) { raw in
                let slots = raw.bindMemory(to: Int64.self)
                for slot in 0..<7 {
                    try scanner.expect(UInt8(ascii: ","))
                    slots[slot] = try scanner.integer()
                }
            }
            try scanner.expect(UInt8(ascii: "]"))
            let index = calls.count
            let seq = first.seq &+ UInt64(bitPattern: seqOffset)
            guard seqOffset > 0, seq > previousSeq else {
                throw scanner.failure("call \(index) has seq offset \(seqOffset), not after the call before it")
            }
            let (tOffset, fd, nameID, result, errno, isData, lineOffset) = fields
            let line = Int64(first.sourceLine) + lineOffset
            guard let fd32 = Int32(exactly: fd), let errno32 = Int32(exactly: errno), isData == 0 || isData == 1,
                  let line32 = UInt32(exactly: line) else {
                throw scanner.failure("call \(index) has an out-of-range fd, errno, is_data or line")
            }
            calls.append(SyscallRecord(seq: seq, timeNs: first.timeNs &+ UInt64(bitPattern: tOffset), poller: first.poller,
                                       tid: first.tid, fd: fd32, name: try name(nameID), result: result, errno: errno32,
                                       isDataCall: isData == 1, sourceLine: line32))
            previousSeq = seq
        } while try scanner.take(UInt8(ascii: ","))
        try scanner.expect(UInt8(ascii: "]"))
        guard scanner.atEnd else { throw scanner.failure("text after the call list") }
    }
}

/// While the writer goes through one chunk, each thread's syscall row still taking
/// calls. A row is written when it is full, when its thread calls on behalf of
/// another poller, and at the end of the chunk (nothing is held across commits, so
/// every commit stays complete on its own).
struct OpenSyscallRuns {
    private struct Run {
        var first: SyscallRow
        var calls: [SyscallPacking.Call]
    }

    /// Open runs, oldest first. Few: one per thread that made calls in this chunk,
    /// and at most `maxOpen`.
    private var runs: [Run] = []
    /// Enough for every thread of a busy event-loop pool; more threads than this
    /// each call rarely, and the oldest run is written to make room.
    private static let maxOpen = 32
    /// Calls packed into `more` so far (`meta.packed_syscalls` at close).
    private(set) var packedCalls = 0

    /// Adds `call`; calls `emit` with any row this completes.
    @inline(__always)
    mutating func add(_ call: SyscallRow, emit: (SyscallRow) throws -> Void) rethrows {
        if let index = runs.firstIndex(where: { $0.first.tid == call.tid }) {
            if runs[index].first.poller == call.poller, let packed = SyscallPacking.Call(call, after: runs[index].first) {
                runs[index].calls.append(packed)
                packedCalls += 1
                if runs[index].calls.count + 1 >= SyscallPacking.maxCallsPerRow {
                    try emit(Self.row(runs.remove(at: index)))
                }
                return
            }
            try emit(Self.row(runs.remove(at: index)))
        }
        if runs.count == Self.maxOpen { try emit(Self.row(runs.removeFirst())) }
        var calls: [SyscallPacking.Call] = []
        calls.reserveCapacity(SyscallPacking.maxCallsPerRow - 1)
        runs.append(Run(first: call, calls: calls))
    }

    /// Every open run's row; none is open after.
    mutating func drain(emit: (SyscallRow) throws -> Void) rethrows {
        defer { runs.removeAll(keepingCapacity: true) }
        for run in runs { try emit(Self.row(run)) }
    }

    private static func row(_ run: Run) -> SyscallRow {
        var row = run.first
        row.more = run.calls.isEmpty ? nil : SyscallPacking.encode(run.calls)
        return row
    }
}
