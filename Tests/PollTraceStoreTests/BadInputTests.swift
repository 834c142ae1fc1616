import XCTest
import CSQLite
import PollTraceCore
@testable import PollTraceStore

/// Every way of handing the reader the wrong file gets its own error, naming the
/// file, and never a crash.
final class BadInputTests: XCTestCase {
    private func assertOpenFails(_ path: String, file: StaticString = #filePath, line: UInt = #line,
                                 _ check: (TraceStoreError) -> Bool) {
        do {
            let reader = try TraceReader(path: path)
            // Some damage only shows when the pages are read.
            var cursor = try reader.records()
            while try cursor.next() != nil {}
            XCTFail("\(path) should not read as a trace", file: file, line: line)
        } catch let error as TraceStoreError {
            XCTAssertTrue(check(error), "wrong error for \(path): \(error)", file: file, line: line)
            XCTAssertTrue(error.description.contains(path), "the message should name the file: \(error)", file: file, line: line)
        } catch {
            XCTFail("expected a TraceStoreError, got \(error)", file: file, line: line)
        }
    }

    /// Writes `records`, checks the layout the damage assumes (`precondition`, which
    /// must return 1), applies each damage to a fresh copy, and expects `corrupted`
    /// naming `subject`: something no writer produces must be named, never read as
    /// a different trace.
    private func assertEachDamageIsCorrupted(_ records: [TraceRecord], layout: (sql: String, why: String),
                                             damages: [(what: String, sql: String)], naming subject: String,
                                             file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = TemporaryDirectory()
        for (what, damage) in damages {
            let path = dir.file("damaged-\(what.replacingOccurrences(of: " ", with: "-")).trace")
            try Fixtures.writeRowLayout(records, to: path)
            XCTAssertEqual(try SQLiteConnection(path: path, readOnly: true).scalarInt(sql: layout.sql), 1, layout.why,
                           file: file, line: line)
            try sqlite(path, damage)
            assertOpenFails(path, file: file, line: line) {
                if case .corrupted(_, let detail) = $0 { detail.contains(subject) } else { false }
            }
        }
    }

    private func makeTrace(_ path: String, records: Int = 3_000) throws {
        let sequence = SequenceCounter()
        var list: [TraceRecord] = []
        for i in 0..<records {
            list.append(.closed(Closed(seq: sequence.next(), timeNs: Fixtures.start + UInt64(i), poller: 1, fd: Int32(i % 100))))
        }
        try Fixtures.write(list, to: path, sequence: sequence)
    }

    private func sqlite(_ path: String, _ sql: String) throws {
        let db = try SQLiteConnection(path: path, readOnly: false)
        try db.execute(sql: sql)
    }

    func testMissingFile_isFileNotFound() {
        let dir = TemporaryDirectory()
        assertOpenFails(dir.file("nope.trace")) { if case .fileNotFound = $0 { true } else { false } }
    }

    func testEmptyFile_isEmptyFile() {
        let dir = TemporaryDirectory()
        let path = dir.file("empty.trace")
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data()))
        assertOpenFails(path) { if case .emptyFile = $0 { true } else { false } }
    }

    func testTextFile_isNotSQLite() {
        let dir = TemporaryDirectory()
        let path = dir.file("notes.trace")
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("epoll_wait(4, [{EPOLLIN, {u32=5}}], 64, -1) = 1\n".utf8)))
        assertOpenFails(path) { if case .notSQLite = $0 { true } else { false } }
    }

    func testDirectory_isNamedAsOne_withTheTraceFilesInIt() throws {
        let dir = TemporaryDirectory()
        assertOpenFails(dir.path) { $0 == .directory(path: dir.path, traces: []) }
        XCTAssertTrue(TraceStoreError.directory(path: dir.path, traces: []).description.contains("holds no .sqlite or .trace files"))

        // Two traces (the newer one named in the message) and a file that is not one.
        let older = dir.file("a.sqlite"), newer = dir.file("b.trace")
        for path in [older, newer, dir.file("notes.txt")] { XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("x".utf8))) }
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: older)
        let error = TraceStoreError.directory(path: dir.path, traces: [newer, older])
        assertOpenFails(dir.path) { $0 == error }
        XCTAssertTrue(error.description.contains("a directory, not a trace file; it holds 2 trace files, the newest \(newer)"), error.description)
    }

    func testTruncatedTrace_isCorrupted() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("truncated.trace")
        try makeTrace(path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        let page = PlainSchema.pageSize
        XCTAssertGreaterThan(size, 4 * page, "the fixture should span several pages")
        // Cut on a page boundary (the header's page count catches it) ...
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: UInt64(size / 2 / page * page))
        try handle.close()
        assertOpenFails(path) { if case .corrupted = $0 { true } else { false } }
        // ... and in the middle of a page.
        let handle2 = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle2.truncate(atOffset: UInt64(page + 1000))
        try handle2.close()
        assertOpenFails(path) { if case .corrupted = $0 { true } else { false } }
        // Shorter than the 100-byte header.
        let handle3 = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle3.truncate(atOffset: 50)
        try handle3.close()
        assertOpenFails(path) { if case .corrupted = $0 { true } else { false } }
    }

    func testGarbageInsideTheFile_isCorrupted() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("garbage.trace")
        try makeTrace(path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        // Overwrite every page after the first with a fixed junk pattern: the B-tree
        // page headers become invalid, which SQLite reports as SQLITE_CORRUPT.
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let pageSize = PlainSchema.pageSize
        for page in 1..<(size / pageSize) {
            try handle.seek(toOffset: UInt64(page * pageSize))
            try handle.write(contentsOf: Data((0..<pageSize).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }))
        }
        try handle.close()
        assertOpenFails(path) { if case .corrupted = $0 { true } else { false } }
    }

    func testSQLiteDatabaseThatIsNotATrace_isNotATrace() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("other.db")
        try sqlite(path, "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT); INSERT INTO customers VALUES (1, 'x');")
        assertOpenFails(path) {
            if case .notATrace(_, let detail) = $0 { detail.contains("customers") } else { false }
        }
    }

    func testTraceFromANewerSchema_isNewerSchema() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("future.trace")
        try makeTrace(path, records: 10)
        let current = TraceMetadata.currentSchemaVersion, newer = current + 1
        try sqlite(path, "PRAGMA user_version = \(newer); UPDATE meta SET value = \(newer) WHERE key = 'schema_version';")
        assertOpenFails(path) {
            if case .newerSchema(_, let found, let supported) = $0 { found == newer && supported == current } else { false }
        }
    }

    func testTraceWithoutMetaTable_isMissingMetadata() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("nometa.trace")
        try makeTrace(path, records: 10)
        try sqlite(path, "DROP TABLE meta;")
        assertOpenFails(path) { if case .missingMetadata = $0 { true } else { false } }
    }

    func testTraceWithoutStartTime_isMissingMetadata_namingTheKey() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("nostart.trace")
        try makeTrace(path, records: 10)
        try sqlite(path, "DELETE FROM meta WHERE key = 'start_monotonic_ns';")
        assertOpenFails(path) {
            if case .missingMetadata(_, let what) = $0 { what.contains("start_monotonic_ns") } else { false }
        }
    }

    /// The damage below is to the recording form, which a trace keeps when its writer
    /// never closed it: its row layout (recordings of builds before record chunks,
    /// `Fixtures.writeRowLayout`), then its record chunks.
    static let recordingForm = TraceWriterOptions(finalization: nil)

    func testBatchWhosePackedEventsAreDamaged_isCorrupted() throws {
        let batch = TraceRecord.batch(BatchHarvested(seq: 1, timeNs: Fixtures.start, poller: 1, batchNumber: 1, timeoutMs: 0,
                                                     waitedNs: 0, events: [HarvestedEvent(fd: 4, mask: .readable, data: 4)]))
        let dispatch = TraceRecord.dispatch(Dispatch(seq: 2, timeNs: Fixtures.start + 10, poller: 1, source: .event, batchSeq: 1,
                                                     eventIndex: 0, ranRegistrationID: 0, deliveredMask: .readable,
                                                     suppression: nil, handlerThrew: false, durationNs: 5))
        let damages: [(what: String, sql: String)] = [
            ("truncated JSON", "UPDATE records SET e = '[[4,1,0' WHERE tag & 15 = 6"),
            ("not JSON", "UPDATE records SET e = 'hello' WHERE tag & 15 = 6"),
            ("fewer events than event_count", "UPDATE records SET d = 2 WHERE tag & 15 = 6"),
            ("an event with 5 numbers", "UPDATE records SET e = '[[4,1,0,1,2]]' WHERE tag & 15 = 6"),
            ("fd out of range", "UPDATE records SET e = '[[4294967296,1,0,1,10,0,1,1,5]]' WHERE tag & 15 = 6"),
            ("packed count disagrees", "UPDATE records SET f = 2 WHERE tag & 15 = 6"),
            ("unknown suppression", "UPDATE records SET e = '[[4,1,0,1,10,0,1,29,5]]' WHERE tag & 15 = 6"),
            ("a timer source packed", "UPDATE records SET e = '[[4,1,0,1,10,0,1,2,5]]' WHERE tag & 15 = 6"),
            ("a seq offset of 0", "UPDATE records SET e = '[[4,1,0,0,10,0,1,1,5]]' WHERE tag & 15 = 6"),
            ("an event with 7 numbers", "UPDATE records SET e = '[[4,1,0,1,10,0,5]]' WHERE tag & 15 = 6"),
            ("a short dispatch with a seq offset of 0", "UPDATE records SET e = '[[4,1,0,0,10,5]]' WHERE tag & 15 = 6"),
            // The short form exists from v5 on; a v4 file never has one.
            ("a short dispatch in a v4 file", """
                UPDATE records SET e = '[[4,1,0,1,10,5]]' WHERE tag & 15 = 6;
                UPDATE meta SET value = 4 WHERE key = 'schema_version'; PRAGMA user_version = 4;
                """),
        ]
        try assertEachDamageIsCorrupted([batch, dispatch],
                                        layout: ("SELECT f FROM records WHERE tag & 15 = 6", "the fixture's dispatch should be packed into its batch's row"),
                                        damages: damages, naming: "batch 1")
    }

    func testSyscallRowWhosePackedCallsAreDamaged_isCorrupted() throws {
        let calls = (1...3).map { n in
            TraceRecord.syscall(SyscallRecord(seq: UInt64(n), timeNs: Fixtures.start + UInt64(n), poller: 1, tid: 9, fd: 5,
                                              name: "read", result: 10, errno: 0, isDataCall: true, sourceLine: UInt32(n)))
        }
        let damages: [(what: String, sql: String)] = [
            ("truncated JSON", "UPDATE syscall_rows SET more = '[[1,1,5,1' WHERE seq = 1"),
            ("not JSON", "UPDATE syscall_rows SET more = 'hello' WHERE seq = 1"),
            ("an integer instead of text", "UPDATE syscall_rows SET more = 7 WHERE seq = 1"),
            ("a call with 7 numbers", "UPDATE syscall_rows SET more = '[[1,1,5,1,10,0,1]]' WHERE seq = 1"),
            ("a seq offset of 0", "UPDATE syscall_rows SET more = '[[0,1,5,1,10,0,1,1]]' WHERE seq = 1"),
            ("calls out of seq order", "UPDATE syscall_rows SET more = '[[2,1,5,1,10,0,1,1],[1,2,5,1,10,0,1,2]]' WHERE seq = 1"),
            ("fd out of range", "UPDATE syscall_rows SET more = '[[1,1,4294967296,1,10,0,1,1]]' WHERE seq = 1"),
            ("is_data neither 0 nor 1", "UPDATE syscall_rows SET more = '[[1,1,5,1,10,0,2,1]]' WHERE seq = 1"),
            ("a line before line 0", "UPDATE syscall_rows SET more = '[[1,1,5,1,10,0,1,-5]]' WHERE seq = 1"),
            ("an unknown name", "UPDATE syscall_rows SET more = '[[1,1,5,99,10,0,1,1]]' WHERE seq = 1"),
        ]
        try assertEachDamageIsCorrupted(calls, layout: ("SELECT count(*) FROM syscall_rows", "the fixture's three calls should share one row"),
                                        damages: damages, naming: "syscall 1")
    }

    func testFDOpenPackedAcrossCallsWithABadDistance_isCorrupted() throws {
        let dir = TemporaryDirectory()
        let records: [TraceRecord] = [
            .fdOpened(FDOpened(seq: 1, timeNs: Fixtures.start, poller: 1, fd: 7, origin: .accept)),
            .syscall(SyscallRecord(seq: 2, timeNs: Fixtures.start + 1, poller: 1, tid: 9, fd: 7, name: "setsockopt",
                                   result: 0, errno: 0, isDataCall: false, sourceLine: 2)),
            .registered(Registered(seq: 3, timeNs: Fixtures.start + 2, poller: 1, registrationID: 1, fd: 7, interest: .readable,
                                   data: 7, handlerLabel: "")),
        ]
        let good = dir.file("good.trace")
        try Fixtures.writeRowLayout(records, to: good)
        XCTAssertEqual(try Fixtures.readAll(good), records, "the open should come back before the call between")
        XCTAssertEqual(try SQLiteConnection(path: good, readOnly: true).scalarInt(sql: "SELECT h FROM fd_records WHERE seq = 3"), 2,
                       "the open should be packed into the registration's row, 2 back")
        try assertEachDamageIsCorrupted(records, layout: ("SELECT count(*) FROM fd_records", "one fd row for the pair"),
                                        damages: [("zero", "0"), ("past the limit", "50"), ("past the start", "3")].map {
                                            ($0.0, "UPDATE fd_records SET h = \($0.1) WHERE seq = 3")
                                        }, naming: "record 3")
    }

    /// A recording's record chunks, damaged in each way a chunk can be: every one is
    /// `corrupted`, naming the chunk or the record, never read as other records.
    func testDamagedRecordChunks_areCorrupted() throws {
        let records = Fixtures.everyKind(sequence: SequenceCounter())
        let dir = TemporaryDirectory()
        let good = dir.file("good.trace")
        try Fixtures.write(records, to: good, options: Self.recordingForm)
        XCTAssertEqual(try Fixtures.readAll(good), records, "the undamaged recording reads back")
        XCTAssertEqual(try SQLiteConnection(path: good, readOnly: true).scalarInt(sql: "SELECT count(*) FROM record_chunks"), 1,
                       "the fixture's records should be one chunk")
        let damages: [(what: String, sql: String, naming: String)] = [
            ("cut short", "UPDATE record_chunks SET bytes = substr(bytes, 1, length(bytes) - 1)", "ends inside a record"),
            ("an unknown kind", "UPDATE record_chunks SET bytes = X'0B' || substr(bytes, 2)", "unknown record kind 11"),
            ("a count that disagrees", "UPDATE record_chunks SET record_count = record_count + 1", "not \(records.count + 1)"),
            ("a first seq that disagrees", "UPDATE record_chunks SET first_seq = first_seq + 100", "ends at record"),
            ("a last seq that disagrees", "UPDATE record_chunks SET last_seq = last_seq - 1", "ends at record"),
            ("an empty chunk", "UPDATE record_chunks SET bytes = X''", "is empty"),
            ("a missing string", "DELETE FROM strings", "missing from the strings table"),
            ("a number past 64 bits", "UPDATE record_chunks SET bytes = X'01FFFFFFFFFFFFFFFFFFFF01'", "longer than 64 bits"),
            ("a negative count", "UPDATE record_chunks SET record_count = -5", "not -5"),
            // A gap (kind 8) whose first lost seq (9) is after its last (1).
            ("an inverted gap", "UPDATE record_chunks SET bytes = X'0800000901050000', record_count = 1, last_seq = first_seq",
             "first lost seq 9 is after its last 1"),
        ]
        for (what, damage, subject) in damages {
            let path = dir.file("damaged-\(what.replacingOccurrences(of: " ", with: "-")).trace")
            try FileManager.default.copyItem(atPath: good, toPath: path)
            try sqlite(path, damage)
            XCTAssertGreaterThanOrEqual(try TraceReader(path: path).recordCount(), 0, "\(what): a count for a progress bar is never negative")
            do {
                _ = try Fixtures.readAll(path)
                XCTFail("\(what): a damaged chunk must not read")
            } catch let error as TraceStoreError {
                guard case .corrupted(_, let detail) = error else { return XCTFail("\(what): \(error) is not corrupted") }
                XCTAssertTrue(detail.contains(subject), "\(what): '\(detail)' should name \(subject)")
            }
        }
    }

    /// A recording with neither layout's records table (damage, or a later build's
    /// layout) is named as such, with the tables it has.
    func testRecordingWithNeitherLayout_isCorrupted_namingItsTables() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("neither.trace")
        try Fixtures.write(Fixtures.everyKind(sequence: SequenceCounter()), to: path, options: Self.recordingForm)
        try sqlite(path, "ALTER TABLE record_chunks RENAME TO record_pages")
        assertOpenFails(path) {
            if case .corrupted(_, let detail) = $0 {
                detail.contains("neither record_chunks nor records") && detail.contains("record_pages")
            } else { false }
        }
    }

    func testReader_neverChangesTheFile() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("ro.trace")
        try makeTrace(path, records: 100)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let reader = try TraceReader(path: path)
        XCTAssertEqual(try Fixtures.readAll(path).count, 100)
        XCTAssertThrowsError(try reader.connection.execute(sql: "DELETE FROM fd_closes"), "a reader's connection must be read-only")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before, "reading must not change a byte")
        XCTAssertFalse(FileManager.default.fileExists(atPath: path + "-wal"), "reading a closed trace must not create a WAL")
    }
}
