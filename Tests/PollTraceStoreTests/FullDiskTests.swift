import XCTest
import PollTraceCore
@testable import PollTraceStore
#if canImport(Glibc)
import Glibc
#endif

/// A trace whose disk filled while it was written: SQLite reads it (WAL mode, the
/// main file possibly a partial page long), and so must PollTrace.
final class FullDiskTests: XCTestCase {
    /// A real full disk: a 3 MiB tmpfs (tests run as root; skipped where mount is refused).
    func testTraceLeftByAFullDisk_readsItsCommittedPrefix() throws {
        let dir = TemporaryDirectory()
        let mountPoint = try Fixtures.smallDisk(in: dir, megabytes: 3)
        defer { Fixtures.unmount(mountPoint) }
        let path = mountPoint + "/full.trace"
        let sequence = SequenceCounter()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(bufferCapacity: 4096, flushInterval: .milliseconds(1)),
                                     sequence: sequence)
        for i in 0..<400_000 {
            let seq = sequence.next()
            writer.record(.registered(Registered(seq: seq, timeNs: Fixtures.start + seq, poller: 1, registrationID: UInt32(i),
                                                 fd: Int32(i % 1000), interest: .readable, data: seq, handlerLabel: "handler-\(i % 97)")))
        }
        XCTAssertThrowsError(try writer.close(), "the disk filled: close() must say so")
        let written = writer.statistics.recordsWritten
        XCTAssertGreaterThan(written, 0, "some commits landed before the disk filled")
        let reader = try TraceReader(path: path)
        XCTAssertFalse(reader.isPlain, "no v7 tables could be made on a full disk")
        XCTAssertEqual(reader.end.kind, .notClosed)
        let back = try Fixtures.readAll(path)
        XCTAssertEqual(back.count, written, "every committed record reads back")
    }

    /// The file format side of it: a WAL-mode trace whose main file ends in a partial
    /// page (a checkpoint cut short) is not "truncated" to SQLite, nor to the reader.
    func testWALModeTraceWithAPartialPage_isRead() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("partial.trace")
        let records = Fixtures.everyKind(sequence: SequenceCounter())
        let file = try TraceFile(path: path, metadata: Fixtures.metadata(), options: TraceWriterOptions())
        var chunk = records
        _ = try file.write(&chunk, pollers: [])
        // Not finished: still in WAL mode, as a writer that died leaves it.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(repeating: 0, count: 1000))
        try handle.close()
        XCTAssertEqual(try Fixtures.readAll(path), records, "a partial page at the end of a WAL-mode file is not damage")
    }
}
