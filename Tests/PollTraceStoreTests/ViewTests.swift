import XCTest
import PollTraceCore
@testable import PollTraceStore

/// The views give back exactly what the records say, however the rows are packed.
final class ViewTests: XCTestCase {
    func testTimelineAndDispatches_matchEveryRecord() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("views.trace")
        let sequence = SequenceCounter()
        let records = Fixtures.everyKind(sequence: sequence)
        try Fixtures.write(records, to: path, sequence: sequence)

        let timeline = try Fixtures.query(path, "SELECT seq, kind, poller, time_ns FROM timeline ORDER BY seq")
        XCTAssertEqual(timeline, records.map {
            [.integer(Int64($0.seq)), .text($0.kind.description), .integer(Int64($0.poller)), .integer(Int64(bitPattern: $0.timeNs))]
        }, "timeline: one row per record with its kind, poller and time")

        var expected: [[SQLiteValue]] = []
        for case .dispatch(let d) in records {
            expected.append([.integer(Int64(d.seq)), .integer(Int64(bitPattern: d.timeNs)), .integer(Int64(d.ranRegistrationID)),
                             .integer(Int64(d.batchSeq)), .integer(Int64(d.eventIndex)),
                             d.suppression.map { .text($0.description) } ?? .null, .integer(d.handlerThrew ? 1 : 0),
                             .integer(Int64(bitPattern: d.durationNs))])
        }
        let got = try Fixtures.query(path, """
            SELECT seq, time_ns, ran_registration_id, batch_seq, event_index, suppression, handler_threw, duration_ns
            FROM dispatches ORDER BY seq
            """)
        XCTAssertEqual(got, expected, "dispatches view must undo the relative packing exactly")
    }

    /// A dispatch stored relative to a batch that is not its poller's latest when the
    /// reader reaches it (the batch arrived late, in a later chunk): the reader must
    /// look the batch up rather than use the wrong one.
    func testDispatchForALateBatch_readsBackExactly() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("late.trace")
        let file = try RowLayoutFile(path: path, metadata: Fixtures.metadata(), options: TraceWriterOptions())
        func batch(_ seq: SequenceNumber, reg: UInt32) -> TraceRecord {
            .batch(BatchHarvested(seq: seq, timeNs: Fixtures.start + seq * 1000, poller: 1, batchNumber: seq, timeoutMs: 1, waitedNs: 1,
                                  events: [HarvestedEvent(fd: 9, mask: .readable, data: EpollData.pack(registrationID: reg, fd: 9))]))
        }
        let dispatch = TraceRecord.dispatch(Dispatch(seq: 7, timeNs: Fixtures.start + 3_500, poller: 1, source: .event, batchSeq: 3,
                                                     eventIndex: 0, ranRegistrationID: 30, deliveredMask: .readable, suppression: nil,
                                                     handlerThrew: false, durationNs: 5))
        var first = [batch(5, reg: 50)]
        var second = [batch(3, reg: 30), dispatch]
        _ = try file.write(&first, pollers: [])
        _ = try file.write(&second, pollers: [])
        try file.finish(statistics: TraceWriterStatistics())
        XCTAssertEqual(try Fixtures.readAll(path), [batch(3, reg: 30), batch(5, reg: 50), dispatch])
        try TraceFinalizer.finalize(source: path, destination: path)
        XCTAssertEqual(try Fixtures.readAll(path), [batch(3, reg: 30), batch(5, reg: 50), dispatch], "the same from the v7 tables")
        XCTAssertEqual(try Fixtures.query(path, "SELECT ran_registration_id, time_ns FROM dispatches"),
                       [[.integer(30), .integer(Int64(Fixtures.start + 3_500))]])
    }
}
