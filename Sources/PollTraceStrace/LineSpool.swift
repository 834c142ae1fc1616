#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A run of records whose origins follow each other: consecutive sequence numbers
/// on consecutive log lines of one thread and one fd table. Record `seq + k` of the
/// run came from line `line + k`. A single-threaded log is mostly long runs (a new
/// one starts where a line made two records or none), so the trace stores about
/// one row per ten records instead of one per record (docs/strace.md).
struct LineRun: Equatable {
    var seq: UInt64
    var count: UInt32
    var line: UInt32
    var tid: Int32
    var fdTable: UInt32

    /// The origin of record `seq`, which must lie in the run.
    func origin(of seq: UInt64) -> LineOrigin {
        LineOrigin(line: line &+ UInt32(truncatingIfNeeded: seq &- self.seq), tid: tid, fdTable: fdTable)
    }

    func contains(_ seq: UInt64) -> Bool { seq >= self.seq && seq - self.seq < UInt64(count) }
}

/// Holds the records' log origins, as runs, on disk while the trace writer owns the
/// SQLite file, so that import memory does not grow with the log. After the writer
/// closes, `StraceLineTable` copies the runs into the trace.
final class LineSpool {
    static let rowSize = 24  // seq u64, count u32, line u32, tid i32, fd_table u32
    let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    /// The run still growing; written out when a record does not extend it.
    private var open: LineRun?
    /// Records appended.
    private(set) var records = 0
    /// Runs written (including the open one).
    private(set) var runs = 0

    init(directory: String) throws {
        var template = Array("\(directory)/.polltrace-lines-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard fd >= 0 else {
            throw StraceLogError(path: directory, reason: "cannot create a temporary file: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        path = String(cString: template.map { $0 })  // the name mkstemp filled in
        buffer.reserveCapacity(1 << 16)
    }

    deinit {
        close(fd)
        unlink(path)
    }

    @inline(__always)
    func append(seq: UInt64, origin: LineOrigin) {
        records += 1
        if var run = open, seq == run.seq &+ UInt64(run.count), origin.line == run.line &+ run.count,
           origin.tid == run.tid, origin.fdTable == run.fdTable, run.count < UInt32.max {
            run.count += 1
            open = run
            return
        }
        if let run = open { spill(run) }
        open = LineRun(seq: seq, count: 1, line: origin.line, tid: origin.tid, fdTable: origin.fdTable)
        runs += 1
    }

    private func spill(_ run: LineRun) {
        // One append of the whole row: the tuple's fields lie at offsets 0, 8, 12, 16, 20.
        let row = (run.seq.littleEndian, run.count.littleEndian, run.line.littleEndian, run.tid.littleEndian,
                   run.fdTable.littleEndian)
        withUnsafeBytes(of: row) { buffer.append(contentsOf: $0) }
        if buffer.count >= 1 << 16 { try? flush() }
    }

    private func flush() throws {
        var offset = 0
        while offset < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                throw StraceLogError(path: path, reason: "write failed: \(String(cString: strerror(errno)))")
            }
            offset += n
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Reads the runs back in the order they were appended. Call once, after the last `append`.
    func forEachRun(_ body: (LineRun) throws -> Void) throws {
        if let run = open { spill(run); open = nil }
        try flush()
        guard lseek(fd, 0, SEEK_SET) == 0 else { throw StraceLogError(path: path, reason: "cannot rewind") }
        var chunk = [UInt8](repeating: 0, count: Self.rowSize * 4096)
        var carry = 0
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress! + carry, $0.count - carry) }
            if n < 0 { if errno == EINTR { continue }; throw StraceLogError(path: path, reason: "read failed") }
            let available = carry + n
            let whole = available / Self.rowSize * Self.rowSize
            try chunk.withUnsafeBytes { raw in
                var offset = 0
                while offset < whole {
                    func u32(_ at: Int) -> UInt32 { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + at, as: UInt32.self)) }
                    try body(LineRun(seq: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)),
                                     count: u32(8), line: u32(12), tid: Int32(bitPattern: u32(16)), fdTable: u32(20)))
                    offset += Self.rowSize
                }
            }
            carry = available - whole
            if carry > 0 { chunk.withUnsafeMutableBytes { _ = memmove($0.baseAddress!, $0.baseAddress! + whole, carry) } }
            if n == 0 { break }
        }
    }
}
