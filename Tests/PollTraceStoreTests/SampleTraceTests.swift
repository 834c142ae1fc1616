import XCTest
import PollTraceCore
@testable import PollTraceStore

/// The sample traces committed in traces/ (made by `polltrace demo` with the
/// EventPoller on real sockets, in schema v5, and upgraded to v7) and the same
/// demo's traces from schemas v2 (before any row packing), v3 (packed batches and fd
/// pairs), v4 and v5 (Tests/TraceFixtures, made by each version's own
/// `polltrace demo --seconds 0.1`) read back completely, the reader agrees with each
/// file's own dispatches, and `upgrade` turns each old file into a v7 trace with the
/// same records and replay's findings. The recordings of a killed daemon in the v6
/// recording form (Tests/TraceFixtures/recording-*.v6.sqlite) are read and finalized
/// the same way.
final class SampleTraceTests: XCTestCase {
    func testCommittedSampleTraces_readCompletely_andAgreeWithTheirViews() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        // Only the committed samples: traces/ also collects whatever the demo and the
        // daemon leave there, including files cut short by a killed run.
        let files: [(path: String, schemaVersion: Int)] = [
            ("traces/demo-guarded.sqlite", 7), ("traces/demo-naive.sqlite", 7),
            ("Tests/TraceFixtures/demo-guarded.v5.sqlite", 5), ("Tests/TraceFixtures/demo-naive.v5.sqlite", 5),
            ("Tests/TraceFixtures/demo-guarded.v2.sqlite", 2), ("Tests/TraceFixtures/demo-naive.v2.sqlite", 2),
            ("Tests/TraceFixtures/demo-guarded.v3.sqlite", 3), ("Tests/TraceFixtures/demo-naive.v3.sqlite", 3),
            ("Tests/TraceFixtures/demo-guarded.v4.sqlite", 4), ("Tests/TraceFixtures/demo-naive.v4.sqlite", 4),
        ]
        for (name, schemaVersion) in files {
            let path = repository.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(name) is committed and must be there")
            let reader = try TraceReader(path: path)
            XCTAssertEqual(reader.metadata.schemaVersion, schemaVersion, "\(name): written by another schema than expected")
            var cursor = try reader.records()
            var all: [TraceRecord] = []
            var count = 0
            var previous: SequenceNumber = 0
            var dispatches: [[SQLiteValue]] = []
            while let record = try cursor.next() {
                XCTAssertGreaterThan(record.seq, previous, "\(name): records out of order at \(record.seq)")
                previous = record.seq
                count += 1
                all.append(record)
                if case .dispatch(let d) = record {
                    dispatches.append([.integer(Int64(d.seq)), .integer(Int64(bitPattern: d.timeNs)), .integer(Int64(d.ranRegistrationID))])
                }
            }
            XCTAssertEqual(count, try reader.recordCount(), "\(name): every record should be streamed")
            XCTAssertGreaterThan(count, 0, "\(name) should not be empty")
            let statement = try reader.connection.makeStatement(sql: "SELECT seq, time_ns, ran_registration_id FROM dispatches ORDER BY seq")
            var viewRows: [[SQLiteValue]] = []
            while try statement.step() { viewRows.append((0..<3).map { statement.value($0) }) }
            XCTAssertEqual(dispatches, viewRows, "\(name): the reader and the file's dispatches view disagree")
            guard schemaVersion < 7 else { continue }
            try assertFinalizeKeepsRecordsAndFindings(name: name, path: path, records: all)
        }
    }

    /// Recordings left by a killed writer in the recording form's v6 row layout (made
    /// by `TraceWriter` as of commit e40130a, before that layout was replaced): a real
    /// `polltraced` on the real EventPoller under `polltrace-load seed`, killed with
    /// SIGKILL, so `meta` has no `closed_cleanly`. How they were made is in
    /// Tests/TraceFixtures/README.md. Each is read completely, in seq order, as not
    /// closed, and `finalize` turns it into a v7 trace with the same records and
    /// replay's findings; the naive one holds the seed's bug (misrouted dispatches)
    /// and the guarded one only suppressions. A recording form has no views, so the
    /// dispatches-view comparison of the test above does not apply.
    /// Killed recordings of both layouts a recording has had: packed rows (`v6`) and
    /// record chunks (`chunks`), so that later builds keep reading today's too.
    func testKilledRecordings_ofEitherLayout_readCompletely_andFinalizeToReplaysFindings() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        for layout in ["v6", "chunks"] { for policy in ["naive", "guarded"] {
            let name = "Tests/TraceFixtures/recording-\(policy).\(layout).sqlite"
            let path = repository.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.fileExists(atPath: path), "\(name) is committed and must be there")
            for sidecar in ["-wal", "-shm"] {
                XCTAssertFalse(FileManager.default.fileExists(atPath: path + sidecar), "\(name) must be self-contained, without \(sidecar)")
            }
            let reader = try TraceReader(path: path)
            XCTAssertEqual(reader.metadata.schemaVersion, 6, "\(name): a recording form carries version 6")
            XCTAssertFalse(reader.isPlain, "\(name): a recording form, not the v7 tables")
            XCTAssertFalse(reader.closedCleanly, "\(name): its writer was killed, so it was not closed")
            XCTAssertEqual(reader.hasRecordChunks, layout == "chunks", "\(name): the layout its name says")
            var cursor = try reader.records()
            var all: [TraceRecord] = []
            var previous: SequenceNumber = 0
            while let record = try cursor.next() {
                XCTAssertGreaterThan(record.seq, previous, "\(name): records out of order at \(record.seq)")
                previous = record.seq
                all.append(record)
            }
            XCTAssertEqual(all.count, try reader.recordCount(), "\(name): every record should be streamed")
            XCTAssertGreaterThan(all.count, 0, "\(name) should not be empty")
            var batchesWithSeveralEvents = 0, dispatches = 0, registrations = 0, unregistrations = 0, closes = 0
            for record in all {
                switch record {
                case .batch(let b) where b.events.count > 1: batchesWithSeveralEvents += 1
                case .dispatch: dispatches += 1
                case .registered: registrations += 1
                case .unregistered: unregistrations += 1
                case .closed: closes += 1
                default: break
                }
            }
            XCTAssertGreaterThan(batchesWithSeveralEvents, 0, "\(name): batches with several events are what the packing packs")
            XCTAssertGreaterThan(dispatches, 0, "\(name): dispatches")
            XCTAssertGreaterThan(registrations, 0, "\(name): registrations")
            XCTAssertGreaterThan(unregistrations, 0, "\(name): unregistrations")
            XCTAssertGreaterThan(closes, 0, "\(name): closes")

            let found = try assertFinalizeKeepsRecordsAndFindings(name: name, path: path, records: all)
            if policy == "naive" {
                XCTAssertGreaterThan(found[FindingKind.misrouted.rawValue] ?? 0, 0, "\(name): the naive recording holds the seed's bug")
            } else {
                XCTAssertNil(found[FindingKind.misrouted.rawValue], "\(name): the guard runs no handler for a stale event")
                XCTAssertGreaterThan(found[FindingKind.justifiedSuppression.rawValue] ?? 0, 0,
                                     "\(name): the guarded recording holds stale events the guard suppressed")
            }
        } }
    }

    /// Finalizes `path` into a temporary v7 trace and checks that it holds `records`
    /// unchanged and that its findings (and correct dispatches) are replay's counts;
    /// returns those counts by kind.
    @discardableResult
    private func assertFinalizeKeepsRecordsAndFindings(name: String, path: String, records all: [TraceRecord]) throws -> [String: UInt64] {
        let dir = TemporaryDirectory()
        let upgraded = dir.file("upgraded.sqlite")
        try TraceFinalizer.finalize(source: path, destination: upgraded)
        let v7 = try TraceReader(path: upgraded)
        XCTAssertTrue(v7.isPlain, "\(name): upgrade makes a v7 trace")
        var upgradedCursor = try v7.records()
        var upgradedRecords: [TraceRecord] = []
        while let record = try upgradedCursor.next() { upgradedRecords.append(record) }
        XCTAssertEqual(upgradedRecords, all, "\(name): upgrade keeps every record as it was")
        let found = try Fixtures.verdictsInSQL(upgraded)
        XCTAssertEqual(found, Fixtures.replayCounts(all), "\(name): the upgraded trace's findings are replay's")
        return found
    }
}
