import PollTraceCore
@testable import PollTraceStore
import XCTest

/// `TraceWriter.record(moving:)` hands whole arrays over (an import's path): swapped
/// into the writer's buffer when it is empty, appended record by record otherwise.
/// Either way every record must arrive, in order, and the caller's array must come
/// back empty; when the writer refuses records they must be counted as dropped.
final class MovingHandOverTests: XCTestCase {
    private func records(count: Int, _ random: inout SplitMix64) -> [TraceRecord] {
        (1...count).map { i in
            let seq = UInt64(i)
            let fd = Int32(3 + random.next() % 40)
            switch random.next() % 3 {
            case 0: return .fdOpened(FDOpened(seq: seq, timeNs: seq * 10, poller: 1, fd: fd, origin: .accept))
            case 1: return .closed(Closed(seq: seq, timeNs: seq * 10, poller: 1, fd: fd))
            default:
                return .syscall(SyscallRecord(seq: seq, timeNs: seq * 10, poller: 1, tid: 7, fd: fd,
                                              name: random.chance(0.5) ? "read" : "a_name_longer_than_fifteen_bytes",
                                              result: Int64(random.next() % 100), errno: 0, isDataCall: true,
                                              sourceLine: UInt32(i)))
            }
        }
    }

    func testRandomHandOvers_arriveInOrder_andLeaveTheCallersArrayEmpty() throws {
        let dir = TemporaryDirectory()
        for seed: UInt64 in 1...12 {
            var random = SplitMix64(seed: seed)
            let all = records(count: 3_000, &random)
            let path = dir.file("moving-\(seed).trace")
            // A small buffer: hand-overs find it empty (a swap), part full (appended),
            // or too small for the whole array (appended, waiting for room).
            let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                         options: TraceWriterOptions(mode: .lossless, bufferCapacity: 64,
                                                                     finalization: TraceFinalizer.Verdicts.none,
                                                                     writesTablesDirectly: true),
                                         sequence: SequenceCounter(startingAfter: UInt64(all.count)))
            var start = 0
            var pending: [TraceRecord] = []
            while start < all.count {
                let end = min(all.count, start + 1 + Int(random.next() % 100))
                pending.append(contentsOf: all[start..<end])
                writer.record(moving: &pending)
                XCTAssertTrue(pending.isEmpty, "seed \(seed): the array handed over comes back empty")
                start = end
                if random.chance(0.1) { usleep(200) }  // let the writer take what it has, now and then
            }
            try writer.close()
            XCTAssertEqual(writer.statistics.recordsDropped, 0, "seed \(seed): lossless drops nothing")
            XCTAssertEqual(try Fixtures.readAll(path), all, "seed \(seed): every record, in order")
        }
    }

    func testHandOverAfterClose_isCountedAsDropped_andEmptiesTheArray() throws {
        let dir = TemporaryDirectory()
        var random = SplitMix64(seed: 99)
        let all = records(count: 10, &random)
        let writer = try TraceWriter(path: dir.file("closed.trace"), metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(finalization: TraceFinalizer.Verdicts.none,
                                                                 writesTablesDirectly: true),
                                     sequence: SequenceCounter(startingAfter: 10))
        var first = Array(all[0..<4])
        writer.record(moving: &first)
        try writer.close()
        var late = Array(all[4...])
        writer.record(moving: &late)
        XCTAssertTrue(late.isEmpty, "a refused hand-over still takes the records")
        XCTAssertEqual(writer.statistics.recordsDropped, 6, "the six records offered after close are counted as dropped")
        XCTAssertEqual(try Fixtures.readAll(dir.file("closed.trace")), Array(all[0..<4]))
    }
}
