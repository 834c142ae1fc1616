import PollTraceCore
@testable import PollTraceStore
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// A reader that opens a trace while a writer holds it locked (a daemon closing a
/// rotated trace takes the file for its checkpoint and its switch out of WAL
/// mode) must wait for the lock, not fail with "database is locked".
final class ReaderBusyWaitTests: XCTestCase {
    func testAReadersConnection_hasABusyTimeout() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("any.trace")
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(), options: TraceWriterOptions(finalization: TraceFinalizer.Verdicts.none))
        try writer.close()
        XCTAssertEqual(try TraceReader(path: path).connection.scalarInt(sql: "PRAGMA busy_timeout"),
                       Int64(SQLiteConnection.readerBusyTimeoutMs))
    }

    func testAReader_waitsForAWritersLock_andThenReadsEveryRecord() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("locked.trace")
        let writer = try TraceWriter(path: path, metadata: Fixtures.metadata(), options: TraceWriterOptions(finalization: TraceFinalizer.Verdicts.none))
        let records: [TraceRecord] = (0..<50).map { i in
            .closed(Closed(seq: writer.sequence.next(), timeNs: Fixtures.start + UInt64(i), poller: 1, fd: Int32(3 + i)))
        }
        writer.record(contentsOf: records)
        try writer.close()

        let lock = try SQLiteConnection(path: path, readOnly: false)
        try lock.execute(sql: "BEGIN EXCLUSIVE")
        let starting = Handoff<Void>()
        let outcome = Handoff<Result<[TraceRecord], any Error>>()
        let thread = try NamedThread(name: "busy-reader") {
            starting.put(())
            outcome.put(Result { try Fixtures.readAll(path) })
        }
        starting.take()
        // Gives the reader time to reach the lock (without the wait it would fail
        // there at once); if it is slower than this, the test above still holds.
        usleep(300_000)
        try lock.execute(sql: "COMMIT")
        let read = outcome.take()
        thread.join()
        XCTAssertEqual(try read.get(), records, "the reader waited for the lock and read the whole trace")
    }
}
