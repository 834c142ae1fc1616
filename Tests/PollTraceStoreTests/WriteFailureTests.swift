import XCTest
import PollTraceCore
@testable import PollTraceStore

/// A failed write is reported, not swallowed, and what was committed stays readable.
final class WriteFailureTests: XCTestCase {
    func testFileReachesItsSizeLimit_closeReportsIt_andTheTraceStaysReadable() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("full.trace")
        let sequence = SequenceCounter()
        // 40 pages; one flush per few hundred records, so several commit before it fills.
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(bufferCapacity: 512, flushInterval: .milliseconds(1),
                                                                 maxFileBytes: 40 * CompactSchema.pageSize),
                                     sequence: sequence)
        for i in 0..<200_000 {
            let seq = sequence.next()
            writer.record(.registered(Registered(seq: seq, timeNs: Fixtures.start + seq, poller: 1, registrationID: UInt32(i),
                                                 fd: Int32(i % 1000), interest: .readable, data: seq, handlerLabel: "h")))
        }
        XCTAssertThrowsError(try writer.close(), "close() must report the failed write") { error in
            guard case TraceStoreError.writeFailed(let p, let detail) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(p, path)
            XCTAssertTrue(detail.contains("full"), "the message should say the file is full: \(detail)")
        }
        let stats = writer.statistics
        XCTAssertNotNil(stats.lastError, "statistics must carry the error")
        XCTAssertGreaterThan(stats.recordsDropped, 0, "records that could not be written are counted as lost")
        XCTAssertEqual(stats.recordsWritten + stats.recordsDropped, 200_000, "every record is either written or counted lost")

        let back = try Fixtures.readAll(path)
        XCTAssertEqual(back.count, stats.recordsWritten, "every committed record must read back")
        XCTAssertEqual(back.map(\.seq), Array(1...UInt64(back.count)), "the committed prefix, in order, no holes")
        XCTAssertFalse(try TraceReader(path: path).writeAheadLogMissing,
                       "the writer left WAL mode after the failure: nothing is in a -wal that a copy could have lost")
    }

    func testDirectoryMissing_initThrowsWriteFailed() {
        let dir = TemporaryDirectory()
        let path = dir.file("no/such/dir/x.trace")
        XCTAssertThrowsError(try TraceWriter(path: path, metadata: Fixtures.metadata())) { error in
            guard case TraceStoreError.writeFailed(let p, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(p, path)
        }
    }
}

/// The child side of `testRealWriteErrorFromTheOS`: started as this test binary
/// with `POLLTRACE_FSIZE_CHILD_TRACE` set. It limits its own file size with
/// `RLIMIT_FSIZE` (so the kernel fails writes past 2 MiB with EFBIG, as a full
/// disk would fail them), records until the writer gives up, and prints what
/// `close()` and the statistics said. Without the variable it does nothing.
///
/// Why 2 MiB: the limit must leave room for the schema and some commits (with
/// 16 KiB pages, the schema and one commit's pages were already close to the
/// 256 KiB this used to be, and under load the first commit sometimes crossed it,
/// so nothing was written), and 100k records must still cross it: their WAL
/// frames come to several MiB.
final class FileSizeLimitChildEntryPoint: XCTestCase {
    static let environmentKey = "POLLTRACE_FSIZE_CHILD_TRACE"
    static let limitBytes = 2 * 1024 * 1024

    func testRecordPastTheFileSizeLimit() throws {
        guard let path = ProcessInfo.processInfo.environment[Self.environmentKey] else { return }
        signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit(rlim_cur: rlim_t(Self.limitBytes), rlim_max: rlim_t(Self.limitBytes))
        guard setrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit) == 0 else { return XCTFail("setrlimit failed") }
        let sequence = SequenceCounter()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(bufferCapacity: 1024, flushInterval: .milliseconds(1)),
                                     sequence: sequence)
        for _ in 0..<100_000 { writer.record(crashChildRecord(sequence.next())) }
        var outcome = "close: ok"
        do { try writer.close() } catch { outcome = "close: \(error)" }
        let stats = writer.statistics
        print(outcome)
        print("written \(stats.recordsWritten) dropped \(stats.recordsDropped) error \(stats.lastError ?? "none")")
    }
}

extension WriteFailureTests {
    func testRealWriteErrorFromTheOS_isReported_andTheCommittedPrefixReads() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("fsize.trace")
        let (child, output) = try startChildTest("PollTraceStoreTests.FileSizeLimitChildEntryPoint/testRecordPastTheFileSizeLimit", environmentKey: FileSizeLimitChildEntryPoint.environmentKey, path: path)
        // Bounded: the child records 100k records at most; give it 120 s.
        let deadline = Date().addingTimeInterval(120)
        while child.isRunning && Date() < deadline { usleep(10_000) }
        if child.isRunning { kill(child.processIdentifier, SIGKILL); XCTFail("the child did not finish in 120 s") }
        child.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let closeLine = text.split(separator: "\n").first { $0.hasPrefix("close: ") } ?? "no close line in: \(text)"
        XCTAssertTrue(closeLine.contains("writing the trace failed") && closeLine.contains(path),
                      "close() must report the failed write, naming the file: \(closeLine)")
        guard let stats = text.split(separator: "\n").first(where: { $0.hasPrefix("written ") })?.split(separator: " "),
              stats.count >= 4, let written = Int(stats[1]), let dropped = Int(stats[3]) else {
            return XCTFail("no statistics line in: \(text)")
        }
        print("fsize test: \(written) written, \(dropped) lost; \(closeLine)")
        XCTAssertEqual(written + dropped, 100_000, "every record is either written or counted lost")
        XCTAssertGreaterThan(written, 0, "some flushes should commit before the limit")
        let back = try Fixtures.readAll(path)
        XCTAssertEqual(back.count, written, "every committed record must read back after the failure")
        for (index, record) in back.enumerated() {
            XCTAssertEqual(record, crashChildRecord(UInt64(index + 1)), "record \(index + 1) is missing or torn")
            if record != crashChildRecord(UInt64(index + 1)) { break }
        }
    }
}
