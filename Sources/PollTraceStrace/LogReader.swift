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

/// Reads a log (a file, a pipe, `/dev/stdin`) once, front to back, in chunks, and
/// hands out its lines without copying them, so memory does not grow with the log.
///
/// A line may be at most `maxLineBytes` long: strace's lines are bounded by its
/// `-s` limit (an epoll_wait array of 512 events is about 25 KB), so a longer one
/// is damage or a forgery. It is skipped and reported through `overlong`, and the
/// buffer never grows past the limit, whatever the input.
public final class LogReader {
    public static let chunkSize = 1 << 20
    public static let defaultMaxLineBytes = 16 << 20

    public let path: String
    public let maxLineBytes: Int
    private let fd: Int32
    private var buffer: UnsafeMutableBufferPointer<UInt8>
    /// Bytes read into `buffer` and not yet handed out.
    private var filled = 0
    private var atEnd = false
    /// The buffer's size now (tests check it stays within `maxLineBytes`).
    var bufferCapacity: Int { buffer.count }
    /// The log's size when it is a regular file (nil for a pipe), for progress.
    public let totalBytes: UInt64?
    /// Bytes read from the log so far.
    public private(set) var bytesRead: UInt64 = 0
    /// Called after each read from the log (about once a MiB) with `bytesRead` and
    /// `totalBytes`: a long import can show how far it is.
    public var onRead: ((_ bytesRead: UInt64, _ totalBytes: UInt64?) -> Void)?

    public init(path: String, maxLineBytes: Int = LogReader.defaultMaxLineBytes) throws {
        self.path = path
        self.maxLineBytes = max(maxLineBytes, 64)
        fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StraceLogError(path: path, reason: "cannot open: \(String(cString: strerror(errno)))") }
        var info = stat()
        let statted = fstat(fd, &info) == 0
        if statted, info.st_mode & S_IFMT == S_IFDIR {
            close(fd)
            throw StraceLogError(path: path, reason: "is a directory, not an strace log")
        }
        totalBytes = statted && info.st_mode & S_IFMT == S_IFREG ? UInt64(info.st_size) : nil
        buffer = .allocate(capacity: min(Self.chunkSize, self.maxLineBytes))
    }

    deinit {
        close(fd)
        buffer.deallocate()
    }

    /// The first non-empty line of the log, if it is in the first chunk, without
    /// consuming anything: `forEachLine` still starts at line 1. Works on pipes.
    public func withFirstLine<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) throws -> T? {
        if filled == 0 && !atEnd { _ = try fill() }
        let all = UnsafeBufferPointer(rebasing: buffer[0..<filled])
        var start = 0
        while start < all.count {
            var end = start
            while end < all.count, all[end] != 0x0A { end += 1 }
            if end == all.count && !atEnd { return nil }  // cut off by the chunk's end
            if end > start { return body(UnsafeBufferPointer(rebasing: all[start..<end])) }
            start = end + 1
        }
        return nil
    }

    /// Calls `body` with each line (without `\n`) and its 1-based number; a line
    /// longer than `maxLineBytes` is skipped and its number given to `overlong`.
    public func forEachLine(_ body: (UnsafeBufferPointer<UInt8>, UInt32) throws -> Void,
                            overlong: (UInt32) -> Void = { _ in }) throws {
        var lineNumber: UInt32 = 0
        // Inside an overlong line: bytes are dropped up to its newline.
        var skipping = false
        var scanFrom = 0
        while true {
            if filled == buffer.count {
                if buffer.count < maxLineBytes {
                    grow()
                } else {
                    // The buffer is full and holds no newline: the line is too long.
                    lineNumber &+= 1
                    overlong(lineNumber)
                    skipping = true
                    filled = 0
                    scanFrom = 0
                }
            }
            // Bytes `withFirstLine` read ahead are scanned before the end is noticed.
            _ = try fill()
            let base = UnsafePointer(buffer.baseAddress!)
            var start = 0
            var searchFrom = scanFrom
            while searchFrom < filled, let hit = memchr(base + searchFrom, 0x0A, filled - searchFrom) {
                let i = UnsafeRawPointer(hit).assumingMemoryBound(to: UInt8.self) - base
                if skipping {
                    skipping = false
                } else {
                    lineNumber &+= 1
                    try body(UnsafeBufferPointer(start: base + start, count: i - start), lineNumber)
                }
                start = i + 1
                searchFrom = start
            }
            if skipping {
                filled = 0  // nothing of the overlong line is kept
                scanFrom = 0
                if atEnd { break }
                continue
            }
            if start > 0 {
                let rest = filled - start
                if rest > 0 { _ = memmove(buffer.baseAddress!, buffer.baseAddress! + start, rest) }
                filled = rest
            }
            scanFrom = filled  // the kept bytes hold no newline
            if atEnd { break }
        }
        if filled > 0 && !skipping {
            lineNumber &+= 1
            try body(UnsafeBufferPointer(rebasing: buffer[0..<filled]), lineNumber)
        }
        filled = 0
    }

    /// Reads once into the free end of the buffer; 0 at the end of the log.
    private func fill() throws -> Int {
        guard !atEnd, filled < buffer.count else { return 0 }
        while true {
            let n = read(fd, buffer.baseAddress! + filled, buffer.count - filled)
            if n < 0 {
                if errno == EINTR { continue }
                throw StraceLogError(path: path, reason: "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { atEnd = true }
            filled += n
            bytesRead += UInt64(n)
            onRead?(bytesRead, totalBytes)
            return n
        }
    }

    private func grow() {
        let bigger = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: min(buffer.count * 2, maxLineBytes))
        _ = memcpy(bigger.baseAddress!, buffer.baseAddress!, filled)
        buffer.deallocate()
        buffer = bigger
    }

    /// Reads `path` line by line (see `forEachLine`), overlong lines skipped.
    public static func forEachLine(path: String, _ body: (UnsafeBufferPointer<UInt8>, UInt32) throws -> Void) throws {
        try LogReader(path: path).forEachLine(body)
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
