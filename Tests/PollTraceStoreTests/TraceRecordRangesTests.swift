import Foundation
import XCTest
import PollTraceCore
@testable import PollTraceStore

/// A large v7 trace can be read range by range on several threads
/// (`TraceRecordRanges`, what the analyzer's pipeline does). Whatever the range
/// size and thread count, the records and their order must be exactly a one-thread
/// read's; damage must still be named; and a reader dropped early must not leave
/// its threads behind.
final class TraceRecordRangesTests: XCTestCase {
    private func v7Trace(seed: UInt64, in dir: TemporaryDirectory) throws -> (path: String, records: [TraceRecord]) {
        var random = SplitMix64(seed: seed)
        let records = BatchPackingPropertyTests.schedule(&random)
        let metadata = Fixtures.metadata(pollers: [1, 2, 3, 70].map {
            PollerInfo(poller: $0, backend: "epoll", policy: .guarded, epollFD: 3, label: "p\($0)")
        })
        let path = dir.file("v7-\(seed).trace")
        try Fixtures.write(records, to: path, metadata: metadata)  // the writer's close makes the v7 tables
        XCTAssertTrue(try TraceReader(path: path).isPlain)
        return (path, records)
    }

    private func ranges(_ path: String, threads: Int, rangeSize: UInt64) throws -> TraceRecordRanges? {
        try TraceReader(path: path).recordRanges(minimumRecords: 1, rangeSize: rangeSize, threads: threads)
    }

    private func readAll(_ ranges: TraceRecordRanges, rangeSize: UInt64) throws -> [TraceRecord] {
        var records: [TraceRecord] = []
        while var range = try ranges.next() {
            XCTAssertLessThanOrEqual(range.count, Int(rangeSize), "a range holds at most its size in records")
            records.append(contentsOf: range)
            ranges.recycle(&range)
        }
        XCTAssertNil(try ranges.next(), "asked again after the end, it still says the end")
        return records
    }

    private func readerThreads() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8) }
            .filter { $0.hasPrefix("trace-read-") }.count
    }

    /// Random schedules of every record kind (several pollers, seqs with holes,
    /// batches whose events are rows of their own), ranges from one seq to more
    /// than the trace, two to four threads.
    func testRandomSchedules_anyRangeSizeAndThreads_readExactlyWhatOneThreadReads() throws {
        let dir = TemporaryDirectory()
        var parallelReads = 0
        for seed: UInt64 in 1...40 {
            let (path, records) = try v7Trace(seed: seed, in: dir)
            var random = SplitMix64(seed: seed &* 7919)
            let rangeSize = [1, 2, 3, 7, 64, 100_000][Int(random.next() % 6)]
            let threads = 2 + Int(random.next() % 3)
            if let ranges = try ranges(path, threads: threads, rangeSize: UInt64(rangeSize)) {
                parallelReads += 1
                XCTAssertEqual(try readAll(ranges, rangeSize: UInt64(rangeSize)), records,
                               "seed \(seed), ranges of \(rangeSize), \(threads) threads: every record, once, in order")
            }
            XCTAssertEqual(try Fixtures.readAll(path), records, "seed \(seed): the one-thread read agrees")
        }
        XCTAssertEqual(parallelReads, 40, "every schedule's seqs are dense enough to be read in ranges")
    }

    /// A damaged dispatch row: the ranges hand over every record before it, then
    /// name it, exactly as the one-thread read does.
    func testADamagedRow_isNamedAfterEveryRecordBeforeIt_asOneThreadReads() throws {
        let dir = TemporaryDirectory()
        let (path, records) = try v7Trace(seed: 5, in: dir)
        guard case .dispatch(let victim)? = records.dropFirst(records.count / 2).first(where: {
            if case .dispatch = $0 { return true } else { return false }
        }) else { return XCTFail("the schedule should have a dispatch in its second half") }
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.execute(sql: "UPDATE dispatches SET source_code = 9 WHERE seq = \(victim.seq)")
        let ranges = try XCTUnwrap(ranges(path, threads: 3, rangeSize: 4))
        var read: [TraceRecord] = []
        XCTAssertThrowsError(try { while let range = try ranges.next() { read.append(contentsOf: range) } }()) { error in
            guard case TraceStoreError.corrupted(_, let detail) = error else { return XCTFail("\(error) is not corrupted") }
            XCTAssertTrue(detail.contains("record \(victim.seq): unknown dispatch source code 9"), detail)
        }
        XCTAssertEqual(read, records.filter { $0.seq < victim.seq }, "every record before the damaged one, none after")
        XCTAssertNil(try ranges.next(), "after the error, the end")
    }

    /// An event row no batch's count covers is damage wherever it lies. One at the
    /// end of a range is where the next batch would not see it: the range's end
    /// must name it, as the one-thread read names it at the end of the trace.
    func testAnEventRowNoBatchTakes_isNamed_atTheEndOfARangeAndOfTheTrace() throws {
        let dir = TemporaryDirectory()
        let (path, records) = try v7Trace(seed: 5, in: dir)
        let batches = records.compactMap { record -> BatchHarvested? in
            if case .batch(let b) = record, !b.events.isEmpty { return b } else { return nil }
        }
        let connection = try SQLiteConnection(path: path, readOnly: false)
        for batch in [batches[batches.count / 2], batches[batches.count - 1]] {
            try connection.execute(sql: """
                INSERT INTO batch_events(batch_seq, event_index, poller, batch_number, fd, mask, data, harvest_rel_ns)
                SELECT batch_seq, event_index + 100, poller, batch_number, fd, mask, data, harvest_rel_ns
                FROM batch_events WHERE batch_seq = \(batch.seq) AND event_index = 0
                """)
        }
        let message = "that no batch's event count covers"
        // Ranges of one seq: every batch is the last record of its range.
        let ranges = try XCTUnwrap(ranges(path, threads: 2, rangeSize: 1))
        XCTAssertThrowsError(try { while try ranges.next() != nil {} }()) { error in
            XCTAssertTrue("\(error)".contains("batch \(batches[batches.count / 2].seq) event 100 \(message)"), "\(error)")
        }
        // One thread: the middle one is named by the next batch's read; delete it and
        // the last one is named at the end.
        XCTAssertThrowsError(try Fixtures.readAll(path)) { XCTAssertTrue("\($0)".contains("event 100"), "\($0)") }
        try connection.execute(sql: "DELETE FROM batch_events WHERE batch_seq = \(batches[batches.count / 2].seq) AND event_index = 100")
        XCTAssertThrowsError(try Fixtures.readAll(path)) { error in
            XCTAssertTrue("\(error)".contains("batch \(batches[batches.count - 1].seq) event 100 \(message)"), "\(error)")
        }
    }

    /// A reader that stops after a few records (a window, an error upstream) must
    /// stop its threads when the cursor goes, not leave them waiting for room.
    func testDroppingTheCursorEarly_stopsItsThreads() throws {
        let dir = TemporaryDirectory()
        let (path, _) = try v7Trace(seed: 11, in: dir)
        let before = readerThreads()
        do {
            let ranges = try XCTUnwrap(ranges(path, threads: 2, rangeSize: 1))
            for _ in 0..<3 { XCTAssertNotNil(try ranges.next()) }
            XCTAssertEqual(readerThreads(), before + 2, "two reading threads, named for ps -L")
        }
        XCTAssertEqual(readerThreads(), before, "dropping the cursor joins its threads")
    }

    /// Small traces and sparse ones are read on the calling thread.
    func testSmallOrSparseTraces_areReadOnOneThread() throws {
        let dir = TemporaryDirectory()
        let (path, records) = try v7Trace(seed: 3, in: dir)
        XCTAssertNil(try TraceReader(path: path).recordRanges(minimumRecords: Int64(records.count + 1), rangeSize: 4, threads: 2),
                     "a trace under the minimum is read on one thread")
        XCTAssertNil(try TraceReader(path: path).recordRanges(minimumRecords: 1, rangeSize: 4, threads: 1), "one thread reads it all")

        let sparse = dir.file("sparse.trace")
        let spread: [TraceRecord] = (0..<50).map {
            .fdOpened(FDOpened(seq: SequenceNumber($0) * 3 + 1, timeNs: Fixtures.start + UInt64($0), poller: 1, fd: Int32(10 + $0), origin: .accept))
        }
        let writer = try PlainTraceWriter(path: sparse, metadata: Fixtures.metadata(), verdicts: .none)
        for record in spread { try writer.append(record) }
        _ = try writer.close()
        XCTAssertNil(try ranges(sparse, threads: 2, rangeSize: 4), "three seqs per record is too sparse to cut into ranges")
        XCTAssertEqual(try Fixtures.readAll(sparse), spread)

        // A damaged meta that claims many more records would make the sparse seqs
        // look dense, and cut them into billions of empty ranges: a count the file
        // is too small to hold is not believed.
        let connection = try SQLiteConnection(path: sparse, readOnly: false)
        try connection.execute(sql: "UPDATE meta SET value = 1000000000000 WHERE key = 'records'")
        XCTAssertNil(try ranges(sparse, threads: 2, rangeSize: 4), "a record count the file cannot hold")
    }
}
