import Foundation
import PollTraceCore
import PollTraceStore
import XCTest

/// How many bytes the writer hands the kernel for each byte of trace. A trace in
/// WAL mode writes each page about twice (the WAL, then the checkpoint) plus the
/// pages each commit rewrites. With SQLite's default ABORT conflict handling, a
/// multi-row INSERT copies the pages it changes into a statement journal first,
/// and rows that land below committed ones (two pollers' records, committed in
/// the order they reach the writer) make that journal a temp file: 14 bytes
/// written per byte of trace here, 13 in the daemon's flood.
final class WriteAmplificationTests: XCTestCase {
    static let connections = 20_000

    func testWriterWritesEachPageAFewTimesAtMost_noStatementJournal() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("amplification.trace")
        // Commits of 8,192 records (a shard wakes the writer when half full).
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(mode: .lossless, bufferCapacity: 1 << 14,
                                                                 flushInterval: .seconds(60)))
        // The daemon's shape, per connection: the accepting poller's batch and
        // dispatch, the fd's open and registration, a batch of a few events with
        // their dispatches on the other poller, and the close.
        var records: [TraceRecord] = []
        var seq: SequenceNumber = 0
        func next() -> SequenceNumber { seq += 1; return seq }
        var batchNumber: UInt64 = 0
        func batch(on poller: PollerID, fds: [Int32], at time: UInt64) {
            batchNumber += 1
            let batchSeq = next()
            records.append(.batch(BatchHarvested(seq: batchSeq, timeNs: time, poller: poller, batchNumber: batchNumber,
                                                 timeoutMs: -1, waitedNs: 1_000,
                                                 events: fds.map { HarvestedEvent(fd: $0, mask: .readable, data: UInt64($0)) })))
            for (index, fd) in fds.enumerated() {
                records.append(.dispatch(Dispatch(seq: next(), timeNs: time + 10, poller: poller, source: .event,
                                                  batchSeq: batchSeq, eventIndex: UInt32(index),
                                                  ranRegistrationID: RegistrationID(fd), deliveredMask: .readable,
                                                  suppression: nil, handlerThrew: false, durationNs: 2_000)))
            }
        }
        for connection in 0..<Self.connections {
            let fd = Int32(10 + connection % 500)
            let time = Fixtures.start + UInt64(connection) * 10_000
            batch(on: 1, fds: [5], at: time)
            records.append(.fdOpened(FDOpened(seq: next(), timeNs: time + 50, poller: 1, fd: fd, origin: .accept)))
            records.append(.registered(Registered(seq: next(), timeNs: time + 100, poller: 2,
                                                  registrationID: RegistrationID(connection + 1), fd: fd,
                                                  interest: .readable, data: UInt64(fd), handlerLabel: "connection")))
            batch(on: 2, fds: [fd, fd + 1, fd + 2], at: time + 200)
            records.append(.closed(Closed(seq: next(), timeNs: time + 500, poller: 2, fd: fd)))
        }
        // With two pollers, one poller's records reach the writer after the other's
        // later-numbered ones were committed: every 50th record comes 20,000 late,
        // so it lands in a later commit and below rows already in the file.
        var late: [(due: Int, record: TraceRecord)] = []
        for (index, record) in records.enumerated() {
            if index % 50 == 0 { late.append((index + 20_000, record)); continue }
            while let first = late.first, first.due <= index { writer.record(first.record); late.removeFirst() }
            writer.record(record)
        }
        for (_, record) in late { writer.record(record) }
        try writer.close()
        let statistics = writer.statistics
        let fileBytes = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? UInt64)

        XCTAssertEqual(statistics.recordsWritten, Self.connections * 9)
        XCTAssertGreaterThan(statistics.flushes, 5, "the test needs several commits")
        guard statistics.writerBytesWritten > 0 else { throw XCTSkip("this kernel does not report /proc/thread-self/io") }
        let amplification = Double(statistics.writerBytesWritten) / Double(fileBytes)
        print("writer: \(statistics.writerBytesWritten) bytes written for a \(fileBytes)-byte trace (\(amplification)x), \(statistics.flushes) commits")
        XCTAssertGreaterThan(amplification, 1.0, "the WAL alone writes every page once: the count must cover it")
        XCTAssertLessThan(amplification, 4.0,
                          "\(statistics.writerBytesWritten) bytes written for a \(fileBytes)-byte trace: a statement journal again?")
    }
}
