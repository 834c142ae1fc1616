import XCTest
import PollTraceCore
@testable import PollTraceStore

/// Schema v3 packs a batch's events and the dispatches of its commit into one row,
/// and v4 a thread's syscalls several to a row. Random schedules (several pollers,
/// one past the 64 fast slots, dispatches that repeat, skip or follow their batch in
/// a later commit, timers and tasks, odd `epoll_data`, times before the batch,
/// extreme ids; syscalls of many threads that switch pollers, run past a row's
/// capacity, go back in time or in log lines) must read back exactly, through the
/// cursor and through the views, however the records are split into commits.
final class BatchPackingPropertyTests: XCTestCase {
    private static let pollers: [PollerID] = [1, 2, 3, 70]

    static func schedule(_ random: inout SplitMix64) -> [TraceRecord] {
        var records: [TraceRecord] = []
        var seq: SequenceNumber = 0
        var time = Fixtures.start
        func nextSeq() -> SequenceNumber { seq += 1 + (random.chance(0.1) ? random.next() % 5 : 0); return seq }
        func nextTime() -> UInt64 { time += random.next() % 5_000; return time }
        let rounds = 20 + Int(random.next() % 60)
        var batchNumber: [PollerID: UInt64] = [:]
        var registrationID: UInt32 = 0
        var live: [(UInt32, Int32)] = []
        var sourceLine: UInt32 = 1
        for _ in 0..<rounds {
            let poller = Self.pollers[Int(random.next() % UInt64(Self.pollers.count))]
            let count = Int(random.next() % 7)  // 0 = a timeout
            var events: [HarvestedEvent] = []
            for _ in 0..<count {
                let fd = Int32(random.next() % 40) + 3
                let high = random.chance(0.1) ? UInt32.max : UInt32(random.next() % 1000)
                let low = random.chance(0.2) ? UInt32(truncatingIfNeeded: random.next()) : UInt32(bitPattern: fd)
                events.append(HarvestedEvent(fd: fd, mask: IOEvents(rawValue: UInt32(truncatingIfNeeded: random.next()) & 0x201F),
                                             data: UInt64(high) << 32 | UInt64(low)))
            }
            batchNumber[poller, default: 0] += 1
            let batch = BatchHarvested(seq: nextSeq(), timeNs: nextTime(), poller: poller, batchNumber: batchNumber[poller]!,
                                       timeoutMs: random.chance(0.2) ? -1 : Int32(random.next() % 100), waitedNs: random.next() % 1_000_000,
                                       events: events)
            records.append(.batch(batch))
            for (index, event) in events.enumerated() {
                let times = random.chance(0.1) ? 0 : (random.chance(0.1) ? 2 : 1)  // skipped, repeated, or once
                for _ in 0..<times {
                    let ran = random.chance(0.7) ? UInt32(event.data >> 32) : UInt32(truncatingIfNeeded: random.next())
                    let dispatchTime = random.chance(0.05) ? batch.timeNs - 7 : nextTime()
                    records.append(.dispatch(Dispatch(seq: nextSeq(), timeNs: dispatchTime, poller: poller, source: .event,
                                                      batchSeq: batch.seq, eventIndex: UInt32(index), ranRegistrationID: ran,
                                                      deliveredMask: event.mask, suppression: random.chance(0.2) ? SuppressionReason.allCases[Int(random.next() % UInt64(SuppressionReason.allCases.count))] : nil,
                                                      handlerThrew: random.chance(0.1), durationNs: random.chance(0.02) ? UInt64.max : random.next() % 100_000)))
                    if random.chance(0.3) {
                        records.append(.closed(Closed(seq: nextSeq(), timeNs: nextTime(), poller: poller, fd: event.fd)))
                    }
                }
            }
            // fd lifecycles: an open right before its registration and an unregistration
            // right before its close pack into one row when adjacent (same poller and fd).
            if random.chance(0.4) {
                let fd = Int32(random.next() % 40) + 3
                registrationID += 1
                records.append(.fdOpened(FDOpened(seq: nextSeq(), timeNs: nextTime(), poller: poller, fd: fd,
                                                  origin: FDOrigin.allCases[Int(random.next() % UInt64(FDOrigin.allCases.count))])))
                // As an import records accept4, setsockopt, ADD: syscalls between the
                // open and its registration (v4 still packs the pair, `h`).
                if random.chance(0.5) {
                    for _ in 0..<Int(random.next() % 9) {
                        records.append(.syscall(SyscallRecord(seq: nextSeq(), timeNs: nextTime(), poller: poller, tid: 5, fd: fd,
                                                              name: "setsockopt", result: 0, errno: 0, isDataCall: false,
                                                              sourceLine: 9)))
                    }
                }
                // Another poller's records between them, as a multi-poller daemon
                // interleaves them: a batch (another table: v5 still packs the pair)
                // or an fd record (the pair must stay two rows).
                let other = Self.pollers.first { $0 != poller }!
                if random.chance(0.3) {
                    batchNumber[other, default: 0] += 1
                    records.append(.batch(BatchHarvested(seq: nextSeq(), timeNs: nextTime(), poller: other, batchNumber: batchNumber[other]!,
                                                         timeoutMs: 5, waitedNs: 10, events: [])))
                }
                if random.chance(0.1) {
                    records.append(.closed(Closed(seq: nextSeq(), timeNs: nextTime(), poller: other, fd: 77)))
                }
                let registeredFD = random.chance(0.1) ? fd + 1 : fd
                records.append(.registered(Registered(seq: nextSeq(), timeNs: random.chance(0.05) ? time - 3 : nextTime(), poller: poller,
                                                      registrationID: registrationID, fd: registeredFD, interest: .readable,
                                                      data: EpollData.pack(registrationID: registrationID, fd: registeredFD),
                                                      handlerLabel: "h\(registrationID % 3)")))
                live.append((registrationID, registeredFD))
            }
            if !live.isEmpty && random.chance(0.35) {
                let (id, fd) = live.remove(at: Int(random.next() % UInt64(live.count)))
                records.append(.unregistered(Unregistered(seq: nextSeq(), timeNs: nextTime(), poller: poller, registrationID: id, fd: fd)))
                records.append(.closed(Closed(seq: nextSeq(), timeNs: nextTime(), poller: random.chance(0.1) ? poller &+ 1 : poller, fd: fd)))
            }
            if random.chance(0.5) {
                // Imported syscalls: mostly a few threads, sometimes one of many (more
                // than a commit keeps rows open for), sometimes a run longer than a row.
                let longRun = random.chance(0.05)
                let calls = longRun ? SyscallPacking.maxCallsPerRow + Int(random.next() % 80) : Int(random.next() % 8)
                for _ in 0..<calls {
                    let tid: Int32 = longRun ? 7 : (random.chance(0.1) ? 100 + Int32(random.next() % 50) : Int32(random.next() % 4))
                    let callPoller = longRun || random.chance(0.8) ? poller : Self.pollers[Int(random.next() % UInt64(Self.pollers.count))]
                    sourceLine = random.chance(0.05) ? sourceLine - min(sourceLine, 30) : sourceLine + 1 + UInt32(random.next() % 3)
                    let result: Int64 = random.chance(0.2) ? -1 : (random.chance(0.02) ? .max : Int64(random.next() % 70_000))
                    records.append(.syscall(SyscallRecord(seq: nextSeq(), timeNs: random.chance(0.05) ? time - 11 : nextTime(), poller: callPoller,
                                                          tid: random.chance(0.01) ? .min : tid, fd: random.chance(0.05) ? -1 : Int32(random.next() % 40),
                                                          name: ["read", "write", "accept4", "setsockopt", "+++exit"][Int(random.next() % 5)],
                                                          result: result, errno: result < 0 ? 11 : 0, isDataCall: random.chance(0.6),
                                                          sourceLine: sourceLine)))
                }
            }
            if random.chance(0.2) {
                records.append(.dispatch(Dispatch(seq: nextSeq(), timeNs: nextTime(), poller: poller, source: random.chance(0.5) ? .timer : .task,
                                                  batchSeq: 0, eventIndex: 0, ranRegistrationID: UInt32(random.next() % 50),
                                                  deliveredMask: [], suppression: nil, handlerThrew: false, durationNs: 10)))
            }
        }
        return records
    }

    /// Splits `records` into commits at random points (a commit can end between a
    /// batch and its dispatches), often or (so that syscall rows can fill up) rarely.
    func commits(_ records: [TraceRecord], _ random: inout SplitMix64) -> [[TraceRecord]] {
        var out: [[TraceRecord]] = [[]]
        let splitChance = random.chance(0.5) ? 0.08 : 0.005
        for record in records {
            if random.chance(splitChance) { out.append([]) }
            out[out.count - 1].append(record)
        }
        return out
    }

    func testRandomSchedules_readBackExactly_throughCursorAndV7Tables() throws {
        let dir = TemporaryDirectory()
        let metadata = Fixtures.metadata(pollers: Self.pollers.map {
            PollerInfo(poller: $0, backend: "epoll", policy: .guarded, epollFD: 3, label: "p\($0)")
        })
        var packedSomewhere = 0, unpackedEventDispatches = 0, packedPairs = 0, unpackedFDRows = 0
        var packedCalls = 0, lonelyCalls = 0, fullRows = 0, pairsAcrossCalls = 0
        var shortDispatches = 0, fullDispatches = 0, pairsAcrossOtherTables = 0, packedEnds = 0, endsInOwnRows = 0
        var findingKinds: Set<String> = []
        for seed: UInt64 in 1...40 {
            var random = SplitMix64(seed: seed)
            let records = Self.schedule(&random)
            let path = dir.file("packing-\(seed).trace")
            let file = try RowLayoutFile(path: path, metadata: metadata, options: TraceWriterOptions())
            for var chunk in commits(records, &random) where !chunk.isEmpty { _ = try file.write(&chunk, pollers: []) }
            try file.finish(statistics: TraceWriterStatistics())
            packedSomewhere += Int(try Fixtures.query(path, "SELECT coalesce(sum(f), 0) FROM records WHERE tag & 15 = 6")[0][0].integerValue ?? 0)
            unpackedEventDispatches += Int(try Fixtures.query(path, "SELECT count(*) FROM records WHERE tag & 15 = 7 AND f & 3 = 1")[0][0].integerValue ?? 0)
            let lengths = "SELECT count(*) FROM records b, json_each(b.e) j WHERE b.tag & 15 = 6 AND json_array_length(j.value)"
            shortDispatches += Int(try Fixtures.query(path, lengths + " = 6")[0][0].integerValue ?? 0)
            fullDispatches += Int(try Fixtures.query(path, lengths + " >= 9")[0][0].integerValue ?? 0)

            packedPairs += Int(try Fixtures.query(path, "SELECT count(*) FROM fd_records WHERE (tag & 15 = 2 AND g IS NOT NULL) OR (tag & 15 = 5 AND b IS NOT NULL)")[0][0].integerValue ?? 0)
            unpackedFDRows += Int(try Fixtures.query(path, "SELECT count(*) FROM fd_records WHERE tag & 15 IN (1, 4)")[0][0].integerValue ?? 0)
            packedEnds += Int(try Fixtures.query(path, "SELECT count(*) FROM fd_records WHERE tag & 15 = 2 AND i IS NOT NULL")[0][0].integerValue ?? 0)
            endsInOwnRows += Int(try Fixtures.query(path, "SELECT count(*) FROM fd_records WHERE tag & 15 = 5 AND b IS NOT NULL")[0][0].integerValue ?? 0)
            pairsAcrossCalls += Int(try Fixtures.query(path, "SELECT count(*) FROM fd_records WHERE h IS NOT NULL")[0][0].integerValue ?? 0)
            pairsAcrossOtherTables += Int(try Fixtures.query(path, """
                SELECT count(*) FROM fd_records r WHERE r.h IS NOT NULL
                AND EXISTS (SELECT 1 FROM records b WHERE b.seq > r.seq - r.h AND b.seq < r.seq)
                """)[0][0].integerValue ?? 0)
            packedCalls += Int(try Fixtures.query(path, "SELECT coalesce(sum(json_array_length(more)), 0) FROM syscall_rows")[0][0].integerValue ?? 0)
            lonelyCalls += Int(try Fixtures.query(path, "SELECT count(*) FROM syscall_rows WHERE more IS NULL")[0][0].integerValue ?? 0)
            fullRows += Int(try Fixtures.query(path, "SELECT count(*) FROM syscall_rows WHERE json_array_length(more) = \(SyscallPacking.maxCallsPerRow - 1)")[0][0].integerValue ?? 0)
            XCTAssertEqual(try Fixtures.readAll(path), records, "seed \(seed): the cursor must give back every record, in seq order")
            // The v7 trace made from it: the same records through TraceReader and through SQL.
            let v7 = path + ".v7"
            try TraceFinalizer.finalize(source: path, destination: v7)
            XCTAssertEqual(try TraceReader(path: v7).isPlain, true, "seed \(seed): finalize makes a v7 trace")
            XCTAssertEqual(try Fixtures.readAll(v7), records, "seed \(seed): the v7 tables give back every record, in seq order")
            // The verdicts in SQL are analyze's: replay the same records and compare.
            let inSQL = try Fixtures.verdictsInSQL(v7)
            XCTAssertEqual(inSQL, Fixtures.replayCounts(records), "seed \(seed): findings and dispatch verdicts must equal replay's counts")
            findingKinds.formUnion(inSQL.keys)
            let expectedCalls: [[SQLiteValue]] = records.compactMap {
                guard case .syscall(let c) = $0 else { return nil }
                return [.integer(Int64(c.seq)), .integer(Int64(c.poller)), .integer(Int64(bitPattern: c.timeNs)), .integer(Int64(c.tid)),
                        .integer(Int64(c.fd)), .text(c.name), .integer(c.result), .integer(Int64(c.errno)), .integer(c.isDataCall ? 1 : 0),
                        .integer(Int64(c.sourceLine))]
            }
            XCTAssertEqual(try Fixtures.query(v7, """
                SELECT seq, poller, time_ns, tid, fd, name, result, errno, is_data_call, source_line FROM syscalls ORDER BY seq
                """), expectedCalls, "seed \(seed): syscalls gives packed and first-of-row calls alike")
            XCTAssertEqual(try Fixtures.query(v7, "SELECT seq FROM (\(TraceReader.everyRecordSeqSQL)) ORDER BY seq"),
                           records.map { [.integer(Int64($0.seq))] }, "seed \(seed): everyRecordSeqSQL names every record once")
            var opens: [[SQLiteValue]] = [], unregistrations: [[SQLiteValue]] = [], closes: [[SQLiteValue]] = []
            var firstUnregistration: [UInt32: UInt64] = [:], registrationIDs: [UInt32] = []
            var registrations: [Registered] = []
            for record in records {
                switch record {
                case .fdOpened(let o):
                    opens.append([Int64(o.seq), Int64(o.poller), Int64(o.fd), Int64(o.origin.rawValue), Int64(bitPattern: o.timeNs)].map(SQLiteValue.integer))
                case .closed(let c):
                    closes.append([Int64(c.seq), Int64(c.poller), Int64(c.fd), Int64(bitPattern: c.timeNs)].map(SQLiteValue.integer))
                case .unregistered(let u):
                    unregistrations.append([Int64(u.seq), Int64(u.poller), Int64(u.fd), Int64(u.registrationID), Int64(bitPattern: u.timeNs)].map(SQLiteValue.integer))
                    if firstUnregistration[u.registrationID] == nil { firstUnregistration[u.registrationID] = u.seq }
                case .registered(let r):
                    registrationIDs.append(r.registrationID)
                    registrations.append(r)
                default: break
                }
            }
            XCTAssertEqual(try Fixtures.query(v7, "SELECT seq, poller, fd, time_ns FROM fd_closes ORDER BY seq"), closes,
                           "seed \(seed): fd_closes gives closes in their own rows and packed into registrations alike")
            // A registration's close: the first close of its fd after it, on any poller (the view's definition).
            let closedSeqs: [[SQLiteValue]] = registrations.sorted { $0.registrationID < $1.registrationID }.map { r in
                let closed = records.first { if case .closed(let c) = $0 { c.fd == r.fd && c.seq > r.seq } else { false } }
                return [.integer(Int64(r.registrationID)), closed.map { .integer(Int64($0.seq)) } ?? .null]
            }
            XCTAssertEqual(try Fixtures.query(v7, "SELECT registration_id, closed_seq FROM registrations ORDER BY registration_id"), closedSeqs,
                           "seed \(seed): registrations.closed_seq finds closes in their own rows and packed ones")
            XCTAssertEqual(try Fixtures.query(v7, "SELECT seq, poller, fd, origin_code, time_ns FROM fd_opens ORDER BY seq"), opens,
                           "seed \(seed): fd_opens gives packed and own-row opens alike")
            XCTAssertEqual(try Fixtures.query(v7, "SELECT seq, poller, fd, registration_id, time_ns FROM unregistrations ORDER BY seq"), unregistrations,
                           "seed \(seed): unregistrations gives packed and own-row ones alike")
            XCTAssertEqual(try Fixtures.query(v7, "SELECT registration_id, unregistered_seq FROM registrations ORDER BY registration_id"),
                           registrationIDs.sorted().map { [.integer(Int64($0)), firstUnregistration[$0].map { .integer(Int64($0)) } ?? .null] },
                           "seed \(seed): registrations.unregistered_seq finds packed unregistrations")
            XCTAssertEqual(try TraceReader(path: path).recordCount(), records.count, "seed \(seed): recordCount counts packed dispatches")
            XCTAssertEqual(try TraceReader(path: v7).recordCount(), records.count, "seed \(seed): recordCount of the v7 trace")

            let expectedTimeline = records.map { [Int64($0.seq), Int64($0.kind.rawValue), Int64(bitPattern: $0.timeNs)].map(SQLiteValue.integer) }
            XCTAssertEqual(try Fixtures.query(v7, "SELECT seq, kind_code, time_ns FROM timeline ORDER BY seq"), expectedTimeline,
                           "seed \(seed): timeline has one row per record, packed dispatches included")

            var batches: [SequenceNumber: BatchHarvested] = [:]
            var expectedEvents: [[SQLiteValue]] = []
            var expectedDispatches: [[SQLiteValue]] = []
            for record in records {
                switch record {
                case .batch(let b):
                    batches[b.seq] = b
                    for (i, e) in b.events.enumerated() {
                        expectedEvents.append([Int64(b.seq), Int64(i), Int64(e.fd), Int64(e.mask.rawValue), Int64(bitPattern: e.data)].map(SQLiteValue.integer))
                    }
                case .dispatch(let d):
                    let event = d.source == .event ? batches[d.batchSeq]?.events[Int(d.eventIndex)] : nil
                    expectedDispatches.append([
                        .integer(Int64(d.seq)), .integer(Int64(bitPattern: d.timeNs)), .text(["", "event", "timer", "task"][Int(d.source.rawValue)]),
                        .integer(Int64(d.batchSeq)), .integer(Int64(d.eventIndex)), event.map { .integer(Int64($0.fd)) } ?? .null,
                        event.map { .integer(Int64(bitPattern: $0.data)) } ?? .null, .integer(Int64(d.ranRegistrationID)),
                        .integer(Int64(d.deliveredMask.rawValue)), d.suppression.map { .text($0.description) } ?? .null,
                        .integer(d.handlerThrew ? 1 : 0), .integer(Int64(bitPattern: d.durationNs)),
                    ])
                default: break
                }
            }
            XCTAssertEqual(try Fixtures.query(v7, "SELECT batch_seq, event_index, fd, mask, data FROM batch_events ORDER BY batch_seq, event_index"),
                           expectedEvents, "seed \(seed): batch_events unpacks every event")
            XCTAssertEqual(try Fixtures.query(v7, """
                SELECT seq, time_ns, source, batch_seq, event_index, fd, harvested_data, ran_registration_id, delivered_mask,
                       suppression, handler_threw, duration_ns FROM dispatches ORDER BY seq
                """), expectedDispatches, "seed \(seed): dispatches gives packed and own-row dispatches alike")
        }
        XCTAssertGreaterThan(findingKinds.count, 3, "the schedules should give several kinds of finding: \(findingKinds)")
        XCTAssertGreaterThan(packedSomewhere, 0, "the schedules should pack dispatches into batch rows")
        XCTAssertGreaterThan(shortDispatches, 0, "the schedules should pack plain dispatches in the short form (v5)")
        XCTAssertGreaterThan(fullDispatches, 0, "the schedules should also pack dispatches that need every field")
        XCTAssertGreaterThan(packedCalls, 0, "the schedules should pack syscalls after the first of a row")
        XCTAssertGreaterThan(pairsAcrossCalls, 0, "the schedules should pack fd opens into registrations across syscalls")
        XCTAssertGreaterThan(pairsAcrossOtherTables, 0, "the schedules should pack fd opens into registrations across another poller's batches (v5)")
        XCTAssertGreaterThan(lonelyCalls, 0, "the schedules should also leave syscalls alone in their row")
        XCTAssertGreaterThan(fullRows, 0, "the schedules should fill some syscall rows to capacity")
        XCTAssertGreaterThan(packedPairs, 0, "the schedules should pack fd records in pairs")
        XCTAssertGreaterThan(packedEnds, 0, "the schedules should pack unregistrations and closes into their registrations' rows (v6)")
        XCTAssertGreaterThan(endsInOwnRows, 0, "the schedules should also leave some ends in a row of their own (another commit, another poller)")
        XCTAssertGreaterThan(unpackedFDRows, 0, "the schedules should also leave fd records that cannot pair in rows of their own")
        XCTAssertGreaterThan(unpackedEventDispatches, 0, "the schedules should also leave event dispatches in rows of their own")
    }

    /// The writer that builds the v7 tables as records come (an import's,
    /// `PlainTraceWriter`) must give the same tables, row for row, as the recording
    /// form finalized at close.
    func testRandomSchedules_tablesWrittenDirectly_equalTheFinalizedRecordingForm() throws {
        let dir = TemporaryDirectory()
        let metadata = Fixtures.metadata(pollers: Self.pollers.map {
            PollerInfo(poller: $0, backend: "epoll", policy: .guarded, epollFD: 3, label: "p\($0)")
        })
        var rowsCompared = 0
        for seed: UInt64 in 1...25 {
            var random = SplitMix64(seed: seed)
            let records = Self.schedule(&random)
            let verdicts: TraceFinalizer.Verdicts = seed % 2 == 0 ? .replay : .none
            let finalized = dir.file("finalized-\(seed).trace"), direct = dir.file("direct-\(seed).trace")
            let recorder = try TraceWriter(path: finalized, metadata: metadata,
                                           options: TraceWriterOptions(mode: .lossless, bufferCapacity: 64, finalization: verdicts),
                                           sequence: SequenceCounter(startingAfter: records.last?.seq ?? 0))
            for chunk in commits(records, &random) where !chunk.isEmpty { recorder.record(contentsOf: chunk) }
            try recorder.close()
            let writer = try PlainTraceWriter(path: direct, metadata: metadata, verdicts: verdicts,
                                              rowsPerLot: 1 + Int(random.next() % 200))
            try writer.append(contentsOf: records)
            try writer.close()
            XCTAssertFalse(FileManager.default.fileExists(atPath: direct + ".writing"), "seed \(seed): no temporary file is left")
            XCTAssertEqual(try Fixtures.readAll(direct), records, "seed \(seed): the direct tables give back every record")
            for table in PlainSchema.requiredTables where table != "meta" {
                let sql = "SELECT * FROM \(table) ORDER BY 1, 2, 3"
                let expected = try Fixtures.query(finalized, sql)
                XCTAssertEqual(try Fixtures.query(direct, sql), expected, "seed \(seed): table \(table)")
                rowsCompared += expected.count
            }
            let sameMeta = "SELECT key, value FROM meta WHERE key NOT IN ('converted_from_version', 'writer_mode', 'records_written', 'records_dropped', 'gaps_recorded') ORDER BY key"
            XCTAssertEqual(try Fixtures.query(direct, sameMeta), try Fixtures.query(finalized, sameMeta), "seed \(seed): meta")
        }
        XCTAssertGreaterThan(rowsCompared, 10_000, "the schedules should compare many rows")
    }
}

private extension SQLiteValue {
    var integerValue: Int64? { if case .integer(let v) = self { v } else { nil } }
}
