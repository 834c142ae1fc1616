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
                                                                 maxFileBytes: 40 * 4096),
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
