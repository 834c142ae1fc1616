import XCTest
import PollTraceCore
@testable import PollTraceStore

/// `drop` mode never makes the recording thread wait, and says exactly what it lost.
private func closed(_ seq: SequenceNumber, poller: PollerID = 1) -> TraceRecord {
    .closed(Closed(seq: seq, timeNs: Fixtures.start + seq * 10, poller: poller, fd: 3))
}

final class DropModeTests: XCTestCase {

    /// The buffer on its own, with no writer thread: the interleaving is exact.
    func testFullBuffer_dropsAndTheNextSwapAddsOneExactGap() {
        let sequence = SequenceCounter()
        let buffer = RecordBuffer(mode: .drop, capacity: 4, sequence: sequence)
        for _ in 1...10 { buffer.append(closed(sequence.next())) }
        let chunk = buffer.take(spare: [], waitUntilMonotonicNs: 0)
        XCTAssertEqual(chunk.records.prefix(4).map(\.seq), [1, 2, 3, 4], "the first four fit")
        XCTAssertEqual(chunk.records.count, 5, "four kept records and one gap")
        guard case .gap(let gap)? = chunk.records.last else { return XCTFail("the swap should end with a gap record") }
        XCTAssertEqual(gap.firstLost, 5)
        XCTAssertEqual(gap.lastLost, 10)
        XCTAssertEqual(gap.lostCount, 6)
        XCTAssertEqual(gap.fromTimeNs, Fixtures.start + 50, "from = when the first lost record was made")
        XCTAssertEqual(gap.toTimeNs, Fixtures.start + 100)
        XCTAssertEqual(gap.seq, 11, "the gap takes its own number, after every lost one")
        XCTAssertEqual(buffer.refused, 6)

        // Room again: nothing more is lost, and no second gap appears.
        buffer.append(closed(sequence.next()))
        let next = buffer.take(spare: [], waitUntilMonotonicNs: 0)
        XCTAssertEqual(next.records.map(\.seq), [12])
    }

    func testLosslessBuffer_neverDrops_theRecorderWaitsForTheSwap() throws {
        let sequence = SequenceCounter()
        let buffer = RecordBuffer(mode: .lossless, capacity: 2, sequence: sequence)
        buffer.append(closed(sequence.next()))
        buffer.append(closed(sequence.next()))
        let third = Thread { buffer.append(closed(sequence.next())) }
        third.start()
        // The third append must wait until a take makes room; take until it arrives
        // (bounded: 2 s of 1 ms takes).
        var seen: [SequenceNumber] = []
        let deadline = Date().addingTimeInterval(2)
        while seen.count < 3 && Date() < deadline {
            seen += buffer.take(spare: [], waitUntilMonotonicNs: MonotonicClock.nowNs() + 1_000_000).records.map(\.seq)
        }
        XCTAssertEqual(seen, [1, 2, 3], "lossless: every record arrives, in order")
        XCTAssertEqual(buffer.refused, 0)
    }

    /// Each poller's records go to a shard of their own; one swap takes them all, and
    /// a full shard drops (with its own gap) without touching the others.
    func testShards_fillAndDropOnTheirOwn_oneSwapTakesThemAll() {
        let sequence = SequenceCounter()
        let buffer = RecordBuffer(mode: .drop, capacity: 2, sequence: sequence)
        for _ in 1...3 { buffer.append(closed(sequence.next(), poller: 1)) }  // 1, 2 kept; 3 lost
        buffer.append(closed(sequence.next(), poller: 2))                     // 4 kept
        buffer.append(closed(sequence.next(), poller: 9))                     // 5: poller 9 shares poller 1's shard: lost
        let chunk = buffer.take(spare: [], waitUntilMonotonicNs: 0)
        let kept = chunk.records.filter { if case .gap = $0 { false } else { true } }.map(\.seq)
        XCTAssertEqual(kept.sorted(), [1, 2, 4], "each shard keeps what fits")
        let gaps = chunk.records.compactMap { if case .gap(let gap) = $0 { gap } else { nil } }
        XCTAssertEqual(gaps.map { [$0.firstLost, $0.lastLost, $0.lostCount] }, [[3, 5, 2]], "one gap, for the full shard only")
        XCTAssertEqual(buffer.refused, 2)
        XCTAssertTrue(buffer.take(spare: [], waitUntilMonotonicNs: 0).records.isEmpty, "the swap took everything")
    }

    /// Many records under one lock (an import's hand-over): those that fit are kept,
    /// in order, and the rest are lost into one exact gap, as one by one.
    func testBulkAppendToAFullDropBuffer_keepsWhatFitsAndGapsTheRest() {
        let sequence = SequenceCounter()
        let buffer = RecordBuffer(mode: .drop, capacity: 4, sequence: sequence)
        buffer.append(closed(sequence.next()))
        buffer.append(contentsOf: (1...6).map { _ in closed(sequence.next()) })
        let chunk = buffer.take(spare: [], waitUntilMonotonicNs: 0)
        XCTAssertEqual(chunk.records.prefix(4).map(\.seq), [1, 2, 3, 4], "the first four fit, in order")
        guard chunk.records.count == 5, case .gap(let gap) = chunk.records[4] else {
            return XCTFail("four kept records and one gap expected, got \(chunk.records.map(\.seq))")
        }
        XCTAssertEqual([gap.firstLost, gap.lastLost, gap.lostCount], [5, 7, 3], "records 5...7 did not fit")
        XCTAssertEqual(buffer.refused, 3)
    }

    /// A bulk append larger than the whole buffer waits for swaps in lossless mode
    /// and loses nothing.
    func testBulkAppendLargerThanALosslessBuffer_waitsAndKeepsEverything() throws {
        let sequence = SequenceCounter()
        let buffer = RecordBuffer(mode: .lossless, capacity: 3, sequence: sequence)
        let records = (1...10).map { _ in closed(sequence.next()) }
        let producer = Thread { buffer.append(contentsOf: records) }
        producer.start()
        var seen: [SequenceNumber] = []
        let deadline = Date().addingTimeInterval(2)
        while seen.count < 10 && Date() < deadline {
            seen += buffer.take(spare: [], waitUntilMonotonicNs: MonotonicClock.nowNs() + 1_000_000).records.map(\.seq)
        }
        XCTAssertEqual(seen, Array(1...10), "lossless: every record of the bulk append arrives, in order")
        XCTAssertEqual(buffer.refused, 0)
    }

    /// End to end with the writer thread and four recording threads, two of them
    /// sharing a poller id (so a shard) and two on shards of their own: whatever
    /// the schedule, kept records plus the gaps' counts account for every record,
    /// and every lost number lies inside a gap written after it.
    func testDropModeUnderLoad_keptPlusLostAccountsForEveryRecord() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("drop.trace")
        let sequence = SequenceCounter()
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(),
                                     options: TraceWriterOptions(mode: .drop, bufferCapacity: 16, flushInterval: .milliseconds(1)),
                                     sequence: sequence)
        let threads = 4, perThread = 20_000
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            let poller = PollerID([1, 1, 2, 11][thread])
            for _ in 0..<perThread { writer.record(closed(sequence.next(), poller: poller)) }
        }
        try writer.close()
        let stats = writer.statistics
        let total = threads * perThread
        let back = try Fixtures.readAll(path)
        var kept = Set<SequenceNumber>()
        var gaps: [Gap] = []
        for record in back {
            if case .gap(let gap) = record { gaps.append(gap) } else { kept.insert(record.seq) }
        }
        let lost = gaps.reduce(0) { $0 + Int($1.lostCount) }
        print("drop mode under load: kept \(kept.count), lost \(lost) in \(gaps.count) gaps")
        XCTAssertEqual(kept.count + lost, total, "kept + lost must be every record offered")
        XCTAssertEqual(stats.recordsDropped, lost, "statistics must agree with the gap records")
        XCTAssertEqual(stats.gapsRecorded, gaps.count)
        // Each lost number is in exactly the gaps' ranges and not among the kept ones.
        let lostSeqs = Set(1...UInt64(total) + 0).subtracting(kept).subtracting(gaps.map(\.seq))
        for seq in lostSeqs {
            XCTAssertTrue(gaps.contains { $0.firstLost <= seq && seq <= $0.lastLost && $0.seq > seq },
                          "lost record \(seq) is not covered by a later gap")
        }
        for gap in gaps {
            XCTAssertGreaterThan(gap.seq, gap.lastLost, "a gap's own seq must follow what it lost")
        }
    }
}
