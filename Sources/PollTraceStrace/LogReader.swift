#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reading an strace log, naming the file.
public struct StraceLogError: Error, CustomStringConvertible {
    public var path: String
    public var reason: String
    public var description: String { "\(path): \(reason)" }
}

/// Reads a log in fixed-size chunks and hands out its lines without copying them,
/// so memory does not grow with the log. A line longer than the chunk grows the
/// buffer to fit it (strace's lines are bounded by its `-s` string limit).
public enum LogReader {
    public static let chunkSize = 1 << 20

    /// Calls `body` with each line (without `\n`) and its 1-based number.
    public static func forEachLine(path: String, _ body: (UnsafeBufferPointer<UInt8>, UInt32) throws -> Void) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StraceLogError(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: chunkSize)
        var filled = 0
        var lineNumber: UInt32 = 0
        while true {
            if filled == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
            let n = buffer.withUnsafeMutableBytes { raw in
                read(fd, raw.baseAddress! + filled, raw.count - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw StraceLogError(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            filled += n
            let consumed: Int = try buffer.withUnsafeBufferPointer { all in
                var start = 0
                let base = all.baseAddress!
                while start < filled,
                      let hit = memchr(base + start, 0x0A, filled - start) {
                    let i = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
                    lineNumber &+= 1
                    try body(UnsafeBufferPointer(rebasing: all[start..<i]), lineNumber)
                    start = i + 1
                }
                return start
            }
            if consumed > 0 {
                buffer.withUnsafeMutableBufferPointer { all in
                    let rest = filled - consumed
                    if rest > 0 { _ = memmove(all.baseAddress!, all.baseAddress! + consumed, rest) }
                }
                filled -= consumed
            }
        }
        if filled > 0 {
            lineNumber &+= 1
            try buffer.withUnsafeBufferPointer { all in
                try body(UnsafeBufferPointer(rebasing: all[0..<filled]), lineNumber)
            }
        }
    }

    /// The same over text in memory (tests, excerpts).
    public static func forEachLine(text: String, _ body: (UnsafeBufferPointer<UInt8>, UInt32) throws -> Void) rethrows {
        var bytes = Array(text.utf8)
        var lineNumber: UInt32 = 0
        try bytes.withUnsafeMutableBufferPointer { all in
            let all = UnsafeBufferPointer(all)
            var start = 0
            for i in 0..<all.count where all[i] == 0x0A {
                lineNumber += 1
                try body(UnsafeBufferPointer(rebasing: all[start..<i]), lineNumber)
                start = i + 1
            }
            if start < all.count {
                lineNumber += 1
                try body(UnsafeBufferPointer(rebasing: all[start..<all.count]), lineNumber)
            }
        }
        _ = bytes
    }
}
