#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds each record's log origin on disk while the trace writer owns the SQLite
/// file, so that import memory does not grow with the log. After the writer closes,
/// `StraceLineTable` copies the spool into the trace.
final class LineSpool {
    static let rowSize = 20  // seq u64, line u32, tid i32, fd_table u32
    let path: String
    private let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var rows = 0

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

    func append(seq: UInt64, origin: LineOrigin) {
        withUnsafeBytes(of: seq.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: origin.line.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: origin.tid.littleEndian) { buffer.append(contentsOf: $0) }
        withUnsafeBytes(of: origin.fdTable.littleEndian) { buffer.append(contentsOf: $0) }
        rows += 1
        if buffer.count >= 1 << 16 { try? flush() }
    }

    func flush() throws {
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

    /// Reads the rows back in order.
    func forEachRow(_ body: (UInt64, LineOrigin) throws -> Void) throws {
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
                    let seq = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
                    let line = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self))
                    let tid = Int32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 12, as: Int32.self))
                    let table = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 16, as: UInt32.self))
                    try body(seq, LineOrigin(line: line, tid: tid, fdTable: table))
                    offset += Self.rowSize
                }
            }
            carry = available - whole
            if carry > 0 { chunk.withUnsafeMutableBytes { _ = memmove($0.baseAddress!, $0.baseAddress! + whole, carry) } }
            if n == 0 { break }
        }
    }
}
