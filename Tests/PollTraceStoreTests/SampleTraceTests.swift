import XCTest
import PollTraceCore
@testable import PollTraceStore

/// The sample traces committed in traces/ (made by `polltrace demo` with the
/// EventPoller on real sockets, in schema v5, so they are also the v5 fixtures)
/// and the same demo's traces from schemas v2 (before any row packing), v3 (packed
/// batches and fd pairs) and v4 (Tests/TraceFixtures, made by each version's own
/// `polltrace demo --seconds 0.1`) read back completely, and the reader agrees with
/// each file's own views. Files in the current schema are what every other store
/// test writes.
final class SampleTraceTests: XCTestCase {
    func testCommittedSampleTraces_readCompletely_andAgreeWithTheirViews() throws {
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        // Only the committed samples: traces/ also collects whatever the demo and the
        // daemon leave there, including files cut short by a killed run.
        let files: [(path: String, schemaVersion: Int)] = [
            ("traces/demo-guarded.sqlite", 5), ("traces/demo-naive.sqlite", 5),
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
            var count = 0
            var previous: SequenceNumber = 0
            var dispatches: [[SQLiteValue]] = []
            while let record = try cursor.next() {
                XCTAssertGreaterThan(record.seq, previous, "\(name): records out of order at \(record.seq)")
                previous = record.seq
                count += 1
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
        }
    }
}
