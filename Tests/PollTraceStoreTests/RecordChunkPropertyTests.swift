import XCTest
import PollTraceCore
@testable import PollTraceStore

/// A recording keeps each commit's records as bytes (`RecordChunkEncoder`). Random
/// schedules of every record kind (`BatchPackingPropertyTests.schedule`: several
/// pollers, extreme ids and values, times that go back) must read back exactly, in
/// seq order, however they are split into commits and chunks, and also when a
/// record reaches the writer after records with higher seqs were committed (a
/// poller takes its seq before it appends), so that chunks overlap.
final class RecordChunkPropertyTests: XCTestCase {
    /// Splits `records` into commits; some records are held back to a later commit,
    /// as a poller thread preempted between taking its seq and appending does.
    func lateCommits(_ records: [TraceRecord], _ random: inout SplitMix64) -> (commits: [[TraceRecord]], late: Int) {
        var commits: [[TraceRecord]] = [[]]
        var heldBack: [TraceRecord] = []
        var late = 0
        let splitChance = random.chance(0.5) ? 0.1 : 0.01
        for record in records {
            if random.chance(0.05) {
                heldBack.append(record)
                late += 1
                continue
            }
            commits[commits.count - 1].append(record)
            if random.chance(splitChance) {
                commits.append(heldBack)
                heldBack = []
            }
        }
        commits[commits.count - 1] += heldBack
        return (commits, late)
    }

    func testRandomSchedules_lateAndSplit_readBackInSeqOrder_andFinalizeToReplaysFindings() throws {
        let dir = TemporaryDirectory()
        let metadata = Fixtures.metadata(pollers: [1, 2, 3, 70].map {
            PollerInfo(poller: $0, backend: "epoll", policy: .guarded, epollFD: 3, label: "p\($0)")
        })
        var lateRecords = 0, overlappingChunks = 0, splitCommits = 0
        for seed: UInt64 in 1...60 {
            var random = SplitMix64(seed: seed)
            let records = BatchPackingPropertyTests.schedule(&random)
            let path = dir.file("chunks-\(seed).trace")
            let file = try TraceFile(path: path, metadata: metadata, options: TraceWriterOptions())
            // Small chunks in some schedules, so that one commit spans several rows.
            if random.chance(0.5) { file.chunkBytes = 64 + Int(random.next() % 400) }
            let (commits, late) = lateCommits(records, &random)
            lateRecords += late
            for var commit in commits where !commit.isEmpty {
                let (rows, _) = try file.write(&commit, pollers: [])
                if rows > 1 { splitCommits += 1 }
            }
            if case .integer(let n) = try Fixtures.query(path, """
                SELECT count(*) FROM record_chunks a WHERE EXISTS
                    (SELECT 1 FROM record_chunks b WHERE b.first_seq > a.first_seq AND b.first_seq < a.last_seq)
                """)[0][0] { overlappingChunks += Int(n) }
            var statistics = TraceWriterStatistics()
            statistics.recordsWritten = records.count
            try file.finish(statistics: statistics)
            let reader = try TraceReader(path: path)
            XCTAssertTrue(reader.hasRecordChunks, "seed \(seed): a recording keeps record chunks")
            XCTAssertEqual(try reader.recordCount(), records.count, "seed \(seed): every record counted")
            XCTAssertEqual(try Fixtures.readAll(path), records, "seed \(seed): every record, once, in seq order")

            let v7 = path + ".v7"
            try TraceFinalizer.finalize(source: path, destination: v7)
            XCTAssertEqual(try Fixtures.readAll(v7), records, "seed \(seed): the v7 tables give back every record")
            XCTAssertEqual(try Fixtures.verdictsInSQL(v7), Fixtures.replayCounts(records), "seed \(seed): findings equal replay's counts")
        }
        XCTAssertGreaterThan(lateRecords, 100, "the schedules should hold records back")
        XCTAssertGreaterThan(overlappingChunks, 10, "late records should make chunks overlap")
        XCTAssertGreaterThan(splitCommits, 10, "small chunk sizes should split commits")
    }

    /// Two records with one seq (no `SequenceCounter` gives that, but `record` is
    /// public): the writer refuses them in one commit and keeps what it committed
    /// before; across commits, the reader names them instead of returning both.
    func testDuplicateSeqs_refusedInACommit_namedAcrossCommits() throws {
        let dir = TemporaryDirectory()
        func closed(_ seq: SequenceNumber) -> TraceRecord { .closed(Closed(seq: seq, timeNs: Fixtures.start + seq, poller: 1, fd: 4)) }
        let path = dir.file("one-commit.trace")
        let file = try TraceFile(path: path, metadata: Fixtures.metadata(), options: TraceWriterOptions())
        var first = [closed(1), closed(2)]
        _ = try file.write(&first, pollers: [])
        var twice = [closed(3), closed(3)]
        XCTAssertThrowsError(try file.write(&twice, pollers: [])) {
            XCTAssertTrue("\($0)".contains("record 3 comes after record 3"), "\($0)")
        }
        XCTAssertEqual(try Fixtures.readAll(path), [closed(1), closed(2)], "the commit before the refused one stays")

        let across = dir.file("across.trace")
        let other = try TraceFile(path: across, metadata: Fixtures.metadata(), options: TraceWriterOptions())
        var a = [closed(5), closed(7)], b = [closed(3), closed(5)]
        _ = try other.write(&a, pollers: [])
        _ = try other.write(&b, pollers: [])
        XCTAssertThrowsError(try Fixtures.readAll(across)) {
            guard case TraceStoreError.corrupted(_, let detail) = $0 else { return XCTFail("\($0) is not corrupted") }
            XCTAssertTrue(detail.contains("record 5 is in two record chunks"), detail)
        }
    }

    /// A seq past Int64.max cannot be a chunk's key (SQLite integers are signed):
    /// the commit holding it is refused by name, and the commits before it stay,
    /// up to the largest seq a trace stores.
    func testSeqPastInt64Max_isRefused_andEarlierCommitsStay() throws {
        let dir = TemporaryDirectory()
        let top = UInt64(Int64.max)
        func closed(_ seq: SequenceNumber) -> TraceRecord { .closed(Closed(seq: seq, timeNs: Fixtures.start + 1, poller: 1, fd: 4)) }
        let path = dir.file("top.trace")
        let file = try TraceFile(path: path, metadata: Fixtures.metadata(), options: TraceWriterOptions())
        var last = [closed(top - 1), closed(top)]
        _ = try file.write(&last, pollers: [])
        var past = [closed(top + 1)]
        XCTAssertThrowsError(try file.write(&past, pollers: [])) {
            XCTAssertTrue("\($0)".contains("record \(top + 1): its seq is past \(Int64.max)"), "\($0)")
        }
        XCTAssertEqual(try Fixtures.readAll(path), [closed(top - 1), closed(top)])
    }

    /// The encoding alone, at the edges of every field.
    func testExtremeValues_roundTripThroughTheEncoding() throws {
        let t = UInt64.max - 5
        let records: [TraceRecord] = [
            .fdOpened(FDOpened(seq: 0, timeNs: 0, poller: .max, fd: .min, origin: .other)),
            .registered(Registered(seq: 1, timeNs: t, poller: 0, registrationID: .max, fd: .max, interest: IOEvents(rawValue: .max),
                                   data: .max, handlerLabel: "")),
            .batch(BatchHarvested(seq: 2, timeNs: 1, poller: 1, batchNumber: .max, timeoutMs: .min, waitedNs: .max,
                                  events: [HarvestedEvent(fd: -1, mask: [], data: 0), HarvestedEvent(fd: .max, mask: IOEvents(rawValue: .max), data: .max)])),
            .dispatch(Dispatch(seq: 3, timeNs: t, poller: 1, source: .task, batchSeq: 0, eventIndex: .max, ranRegistrationID: .max,
                               deliveredMask: IOEvents(rawValue: .max), suppression: .noHandler, handlerThrew: true, durationNs: .max)),
            .dispatch(Dispatch(seq: 4, timeNs: 0, poller: 1, source: .event, batchSeq: .max, eventIndex: 0, ranRegistrationID: 0,
                               deliveredMask: [], suppression: nil, handlerThrew: false, durationNs: 0)),
            .gap(Gap(seq: .max - 1, timeNs: t, firstLost: 5, lastLost: .max, lostCount: .max, fromTimeNs: .max, toTimeNs: 0)),
            .syscall(SyscallRecord(seq: .max, timeNs: 7, poller: 2, tid: .min, fd: -1, name: "ünïcode\u{0}name", result: .min,
                                   errno: .min, isDataCall: true, sourceLine: .max)),
        ]
        var strings: [String] = []
        let encoder = RecordChunkEncoder(start: 12345)
        for record in records {
            try encoder.append(record) { text in
                if let i = strings.firstIndex(of: text) { return Int64(i + 1) }
                strings.append(text)
                return Int64(strings.count)
            }
        }
        var decoder = RecordChunkDecoder(bytes: Array(encoder.bytes), firstSeq: encoder.firstSeq, start: 12345)
        var back: [TraceRecord] = []
        while let record = try decoder.next(string: { strings[Int($0) - 1] }) { back.append(record) }
        XCTAssertEqual(back, records)
        XCTAssertEqual(encoder.count, records.count)
        XCTAssertEqual(encoder.lastSeq, .max)
    }

    /// Damaged bytes never crash or hang the decoder: each random or cut chunk
    /// either decodes or throws `Malformed`.
    func testRandomBytes_decodeOrThrow_neverCrash() throws {
        var random = SplitMix64(seed: 99)
        let encoder = RecordChunkEncoder(start: 0)
        for record in BatchPackingPropertyTests.schedule(&random) { try encoder.append(record) { _ in 1 } }
        let valid = Array(encoder.bytes)
        var thrown = 0
        for round in 0..<3_000 {
            var bytes = valid
            switch round % 3 {
            case 0: bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count))))
            case 1: for _ in 0..<4 { bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next()) }
            default: bytes = (0..<Int(random.next() % 200)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            }
            var decoder = RecordChunkDecoder(bytes: bytes, firstSeq: 1, start: 0)
            do {
                while try decoder.next(string: { _ in "x" }) != nil {}
            } catch is RecordChunkDecoder.Malformed {
                thrown += 1
            } catch {
                XCTFail("round \(round): \(error) is not Malformed")
            }
        }
        XCTAssertGreaterThan(thrown, 1_000, "most damage should be caught")
    }
}
