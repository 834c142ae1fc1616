import XCTest
import PollTraceCore
@testable import PollTraceStore

/// The sample traces committed in traces/ (made by `polltrace demo` with the
/// EventPoller on real sockets, in schema v5, and upgraded to v7) and the same
/// demo's traces from schemas v2 (before any row packing), v3 (packed batches and fd
/// pairs), v4 and v5 (Tests/TraceFixtures, made by each version's own
/// `polltrace demo --seconds 0.1`) read back completely, the reader agrees with each
/// file's own dispatches, and `upgrade` turns each old file into a v7 trace with the
/// same records and replay's findings.
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

            let dir = TemporaryDirectory()
            let upgraded = dir.file("upgraded.sqlite")
            try TraceFinalizer.finalize(source: path, destination: upgraded)
            let v7 = try TraceReader(path: upgraded)
            XCTAssertTrue(v7.isPlain, "\(name): upgrade makes a v7 trace")
            var upgradedCursor = try v7.records()
            var upgradedRecords: [TraceRecord] = []
            while let record = try upgradedCursor.next() { upgradedRecords.append(record) }
            XCTAssertEqual(upgradedRecords, all, "\(name): upgrade keeps every record as it was")
            var replayer = Replayer(options: ReplayOptions(maxDetailed: nil))
            for record in all { replayer.consume(record) }
            replayer.finish()
            let byKind = try v7.connection.makeStatement(sql: "SELECT kind, count(*) FROM findings GROUP BY kind")
            var found: [String: UInt64] = [:]
            while try byKind.step() { found[byKind.text(0)] = UInt64(byKind.int64(1)) }
            found["correct"] = UInt64(try v7.connection.scalarInt(sql: "SELECT count(*) FROM dispatches WHERE verdict = 'correct'") ?? 0)
            XCTAssertEqual(found, Dictionary(uniqueKeysWithValues: replayer.counts.map { ($0.key.rawValue, $0.value) }),
                           "\(name): the upgraded trace's findings are replay's")
        }
    }
}
