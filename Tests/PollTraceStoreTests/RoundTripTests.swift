import XCTest
import Synchronization
import PollTraceCore
@testable import PollTraceStore

final class RoundTripTests: XCTestCase {
    func testEveryRecordKind_readsBackEqual_inSequenceOrder() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("every-kind.trace")
        let sequence = SequenceCounter()
        let records = Fixtures.everyKind(sequence: sequence)
        // Written out of order, as concurrent threads (and dispatches, whose seq is
        // taken before their side effects) deliver them.
        let shuffled = records.reversed() + []
        let stats = try Fixtures.write(Array(shuffled), to: path, sequence: sequence)
        XCTAssertEqual(stats.recordsWritten, records.count, "every record offered should be written")
        XCTAssertEqual(stats.recordsDropped, 0)
        XCTAssertNil(stats.lastError)

        let back = try Fixtures.readAll(path)
        XCTAssertEqual(back.count, records.count, "the reader should return exactly the records written")
        for (written, read) in zip(records, back) {
            XCTAssertEqual(written, read, "record \(written.seq) changed on its way through the file")
        }
        XCTAssertEqual(back.map(\.seq), back.map(\.seq).sorted(), "records must come back in sequence order")
        XCTAssertEqual(Set(RecordKind.allCases), Set(back.map(\.kind)), "the fixture should cover every kind")
    }

    func testMetadataAndPollers_roundTrip_includingPollersStartedWhileRecording() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("meta.trace")
        let metadata = Fixtures.metadata()
        let writer = try TraceWriter(path: path, metadata: metadata)
        let late = PollerInfo(poller: 2, backend: "strace", policy: nil, epollFD: -1, label: "imported ✓")
        writer.pollerStarted(late)
        // An epoll poller whose policy nobody recorded stays unknown too.
        let unknown = PollerInfo(poller: 3, backend: "epoll", policy: nil)
        writer.pollerStarted(unknown)
        writer.record(.closed(Closed(seq: writer.sequence.next(), timeNs: Fixtures.start, poller: 2, fd: 4)))
        try writer.close()

        let reader = try TraceReader(path: path)
        var expected = metadata
        expected.pollers += [late, unknown]
        XCTAssertEqual(reader.metadata, expected, "metadata and every poller should read back unchanged")
        XCTAssertTrue(reader.closedCleanly, "a closed writer should mark the trace complete")
        XCTAssertEqual(try reader.recordCount(), 1)
    }

    func testManyThreadsRecording_everyRecordOnce_inOrder() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("threads.trace")
        let sequence = SequenceCounter()
        // A small buffer so lossless waiting actually happens.
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(bufferCapacity: 64, flushInterval: .milliseconds(5)),
                                     sequence: sequence)
        let threads = 4, perThread = 5_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            for i in 0..<perThread {
                let seq = sequence.next()
                writer.record(.batch(BatchHarvested(seq: seq, timeNs: Fixtures.start + seq, poller: PollerID(thread + 1),
                                                    batchNumber: UInt64(i + 1), timeoutMs: 10, waitedNs: 1,
                                                    events: [HarvestedEvent(fd: Int32(i % 50), mask: .readable, data: seq)])))
            }
        }
        try writer.close()
        XCTAssertEqual(writer.statistics.recordsDropped, 0, "lossless mode must not drop")
        let back = try Fixtures.readAll(path)
        XCTAssertEqual(back.map(\.seq), Array(1...UInt64(threads * perThread)), "every seq exactly once, in order")
        for record in back {
            guard case .batch(let batch) = record else { return XCTFail("expected only batches") }
            XCTAssertEqual(batch.events.first?.data, batch.seq, "batch \(batch.seq) got another batch's events")
        }
    }

    func testEmptyTrace_opensWithNoRecords() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("empty.trace")
        try Fixtures.write([], to: path)
        XCTAssertEqual(try Fixtures.readAll(path), [])
    }

    func testCloseTwice_isHarmless_andRecordsAfterCloseAreCounted() throws {
        let dir = TemporaryDirectory()
        let writer = try TraceWriter(path: dir.file("twice.trace"), metadata: Fixtures.metadata())
        try writer.close()
        try writer.close()
        writer.record(.closed(Closed(seq: 1, timeNs: 1, poller: 0, fd: 1)))
        XCTAssertEqual(writer.statistics.recordsDropped, 1, "a record after close is lost and must be counted")
    }

    func testExistingFile_isNotOverwritten_unlessAsked() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("exists.trace")
        try Fixtures.write([], to: path)
        XCTAssertThrowsError(try TraceWriter(path: path, metadata: Fixtures.metadata())) { error in
            guard case TraceStoreError.writeFailed(let p, _) = error else { return XCTFail("got \(error)") }
            XCTAssertEqual(p, path)
        }
        try Fixtures.write([.closed(Closed(seq: 1, timeNs: 1, poller: 0, fd: 1))], to: path,
                           options: TraceWriterOptions(overwrite: true))
        XCTAssertEqual(try Fixtures.readAll(path).count, 1)
    }

    func testReadingWhileTheWriterRuns_seesTheCommittedPrefix() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("live.trace")
        let sequence = SequenceCounter()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(flushInterval: .milliseconds(2)), sequence: sequence)
        for _ in 0..<1_000 {
            writer.record(.closed(Closed(seq: sequence.next(), timeNs: Fixtures.start, poller: 1, fd: 5)))
        }
        // Bounded wait for the first commit (at most 5 s).
        let deadline = Date().addingTimeInterval(5)
        while writer.statistics.recordsWritten < 1_000 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(writer.statistics.recordsWritten, 1_000, "the writer should commit within its flush interval")
        let reader = try TraceReader(path: path)
        XCTAssertFalse(reader.closedCleanly, "a trace still being written is not complete")
        XCTAssertEqual(try Fixtures.readAll(path).map(\.seq), Array(1...1_000), "a live trace reads up to its last commit")
        // Closing while the reader still has the file open must not fail.
        try writer.close()
        XCTAssertEqual(try Fixtures.readAll(path).count, 1_000)
        XCTAssertTrue(try TraceReader(path: path).closedCleanly, "close() completes the trace even with a reader attached")
        withExtendedLifetime(reader) {}
    }

    func testConcurrentClose_bothReturnOnlyWhenTheTraceIsComplete() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("concurrent-close.trace")
        let sequence = SequenceCounter()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(), sequence: sequence)
        for _ in 0..<20_000 { writer.record(.closed(Closed(seq: sequence.next(), timeNs: Fixtures.start, poller: 1, fd: 5))) }
        let completeAfterClose = Mutex<[Bool]>([])
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            try? writer.close()
            let complete = (try? TraceReader(path: path).closedCleanly) ?? false
            completeAfterClose.withLock { $0.append(complete) }
        }
        XCTAssertEqual(completeAfterClose.withLock { $0 }, [true, true], "each close() must return only after the trace is complete")
        XCTAssertEqual(try Fixtures.readAll(path).count, 20_000)
    }
}
