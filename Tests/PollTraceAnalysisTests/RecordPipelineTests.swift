import Foundation
import PollTraceCore
import PollTraceStore
import XCTest
@testable import PollTraceAnalysis

/// The reader thread hands records over in chunks and takes emptied buffers back:
/// none may be lost, repeated or reordered, whatever the chunk size and queue depth.
final class RecordPipelineTests: XCTestCase {
    /// A multi-poller schedule with churn, written by the real writer.
    private func writeSchedule(seed: UInt64) throws -> (path: String, records: Int) {
        let path = TraceFiles.temporaryPath("pipeline-\(seed)")
        let writer = try TraceWriter(path: path, metadata: TraceFiles.metadata(pollers: []), options: TraceWriterOptions(overwrite: true))
        _ = SchedulePropertyTests.generate(seed: seed, policies: [.real(.naive), .real(.snapshot), .real(.guarded)],
                                           steps: 3000, recorder: writer)
        try writer.close()
        return (path, Int(try TraceReader(path: path).recordCount()))
    }

    func testChunks_deliverEveryRecordOnceInOrder_forAnyChunkSizeAndQueueDepth() throws {
        let (path, count) = try writeSchedule(seed: 77)
        defer { TraceFiles.remove(path) }
        var cursor = try TraceReader(path: path).records()
        var expected: [TraceRecord] = []
        while let record = try cursor.next() { expected.append(record) }
        XCTAssertGreaterThan(expected.count, 500, "the schedule must be long enough to need many chunks")
        XCTAssertEqual(expected.count, count, "the reader's count must match its records")

        for (chunkSize, capacity) in [(1, 1), (7, 2), (64, 3), (4096, 8)] {
            let pipeline = RecordPipeline(path: path, chunkSize: chunkSize, capacity: capacity)
            var got: [TraceRecord] = []
            var chunks = 0
            try pipeline.forEachChunk { chunk in
                XCTAssertLessThanOrEqual(chunk.count, chunkSize, "chunk size \(chunkSize): a chunk must not exceed it")
                got.append(contentsOf: chunk)
                chunks += 1
            }
            XCTAssertEqual(got, expected, "chunk size \(chunkSize), capacity \(capacity): records lost, repeated or reordered")
            XCTAssertEqual(chunks, (expected.count + chunkSize - 1) / chunkSize,
                           "chunk size \(chunkSize): every chunk but the last must be full")
        }
    }

    func testPipelinedAnalysis_equalsTheOneThreadAnalysis_byteForByte() throws {
        let (path, _) = try writeSchedule(seed: 78)
        defer { TraceFiles.remove(path) }
        let options = ReplayOptions(spinThreshold: 3, maxDetailed: nil)
        let pipelined = try TraceAnalysis.analyze(path: path, options: options, pipelined: true)
        let serial = try TraceAnalysis.analyze(path: path, options: options, pipelined: false)
        XCTAssertGreaterThan(pipelined.findings.count, 0, "the schedule must produce findings for the comparison to mean anything")
        XCTAssertEqual(ReportText.render(pipelined), ReportText.render(serial), "the pipeline changed the text report")
        XCTAssertEqual(ReportJSON.analysis(pipelined).rendered(), ReportJSON.analysis(serial).rendered(),
                       "the pipeline changed the JSON report")
    }

    /// A large v7 trace is read in ranges on the store's reading threads, and the
    /// ranges are the chunks. Made to count as large here (any size, ranges of a few
    /// seqs): the records, and the analysis replayed from them, must be the
    /// one-thread read's exactly.
    func testAV7TraceReadInRanges_givesTheSameRecordsAndAnalysis() throws {
        try XCTSkipIf(TraceReader.readingThreads < 2, "one core: traces are read on one thread, there are no ranges to test")
        let (recording, _) = try writeSchedule(seed: 79)
        defer { TraceFiles.remove(recording) }
        let path = TraceFiles.temporaryPath("pipeline-v7")
        defer { TraceFiles.remove(path) }
        try TraceFinalizer.finalize(source: recording, destination: path)
        var cursor = try TraceReader(path: path).records()
        var expected: [TraceRecord] = []
        while let record = try cursor.next() { expected.append(record) }
        let options = ReplayOptions(spinThreshold: 3, maxDetailed: nil)
        let serial = try TraceAnalysis.analyze(path: path, options: options, pipelined: false)
        XCTAssertGreaterThan(serial.findings.count, 0, "the schedule must produce findings for the comparison to mean anything")

        for rangeSize: UInt64 in [1, 5, 333] {
            XCTAssertNotNil(try TraceReader(path: path).recordRanges(minimumRecords: 1, rangeSize: rangeSize), "read in ranges")
            let pipeline = RecordPipeline(path: path, largeFrom: 1, rangeSize: rangeSize)
            var got: [TraceRecord] = []
            var session = ReplaySession(name: path, metadata: try TraceReader(path: path).metadata, options: options)
            var chunks = 0
            try pipeline.forEachChunk { chunk in
                XCTAssertLessThanOrEqual(chunk.count, Int(rangeSize), "a chunk is one range")
                got.append(contentsOf: chunk)
                session.consume(chunk)
                chunks += 1
            }
            XCTAssertEqual(got, expected, "ranges of \(rangeSize): records lost, repeated or reordered")
            XCTAssertGreaterThanOrEqual(chunks, expected.count / Int(rangeSize) / 2, "ranges of \(rangeSize) should be the chunks")
            var ranged = session.finish()
            ranged.end = serial.end
            XCTAssertEqual(ReportJSON.analysis(ranged).rendered(), ReportJSON.analysis(serial).rendered(),
                           "ranges of \(rangeSize): the analysis changed")
        }
    }

    /// A consumer that cancels and then asks again gets the end, not a wait for a
    /// reader that is gone: with the pipeline's own thread and with ranges.
    func testAfterCancel_nextChunkEnds_withEitherReader() throws {
        let (recording, _) = try writeSchedule(seed: 80)
        defer { TraceFiles.remove(recording) }
        let v7 = TraceFiles.temporaryPath("pipeline-cancel-v7")
        defer { TraceFiles.remove(v7) }
        try TraceFinalizer.finalize(source: recording, destination: v7)
        for (path, largeFrom) in [(recording, Int64.max), (v7, 1)] {
            let pipeline = RecordPipeline(path: path, chunkSize: 16, capacity: 2, largeFrom: largeFrom, rangeSize: 16)
            XCTAssertNotNil(try pipeline.nextChunk())
            pipeline.cancel()
            var chunks = 0
            while try pipeline.nextChunk() != nil {
                chunks += 1
                if chunks > 10 { return XCTFail("\(path): chunks kept coming after cancel") }
            }
        }
    }

    func testReaderError_reachesTheReplayThread() {
        let path = TraceFiles.temporaryPath("not-a-trace")
        defer { TraceFiles.remove(path) }
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("not sqlite at all".utf8)))
        let pipeline = RecordPipeline(path: path, chunkSize: 16, capacity: 2)
        XCTAssertThrowsError(try pipeline.forEachChunk { _ in XCTFail("a file that is not a trace must yield no records") },
                             "the reader thread's error must be rethrown to the caller")
    }
}
