import CLinux
import EventPoller
import Foundation
import PollTraceCore
import PollTraceStore
import XCTest

/// The poller recording to a real SQLite trace through the store's `TraceWriter`,
/// read back with `TraceReader`.
final class TraceFileRecordingTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("eventpoller-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testSeed_recordedToASQLiteTrace_readsBackAsExactlyTheExpectedRecords() throws {
        for policy in DispatchPolicy.allCases {
            let path = directory.appendingPathComponent("seed-\(policy).trace").path
            let writer = try TraceWriter(path: path, metadata: Self.metadata(), options: TraceWriterOptions(mode: .lossless))
            let run = try SeedScenario.reproduce(policy: policy, recorder: writer, readBack: {
                try writer.close()
                return try Self.readAll(path)
            })
            let last: (RegistrationID, IOEvents, SuppressionReason?) = switch policy {
            case .naive: (run.newListener?.registrationID ?? 0, .writable, nil)
            case .snapshot: (run.udp.registrationID, .writable, nil)
            case .guarded: (0, [], .registrationReplaced)
            }
            XCTAssertEqual(run.records, SeedScenario.expectedRecords(run, lastDispatch: last),
                           "\(policy): the file must hold the seed's records exactly")
            let reader = try TraceReader(path: path)
            XCTAssertTrue(reader.closedCleanly)
            XCTAssertEqual(reader.metadata.pollers.map(\.policy), [policy], "the trace names the poller's policy")
            XCTAssertEqual(reader.metadata.pollers.map(\.backend), ["epoll"])
            XCTAssertEqual(writer.statistics.recordsDropped, 0, "lossless recording drops nothing")
        }
    }

    /// Four loops and four posting threads record through one lossless writer with
    /// a small buffer (so recording threads do wait for the writer); the file must
    /// hold every sequence number handed out, once.
    func testManyPollersRecordingLossless_toOneFile_haveUniqueGapFreeSequenceNumbers() throws {
        let path = directory.appendingPathComponent("stress.trace").path
        let writer = try TraceWriter(path: path, metadata: Self.metadata(),
                                     options: TraceWriterOptions(mode: .lossless, bufferCapacity: 256))
        let handled = try SequenceStressTests.churn(recorder: writer, pollers: 4, posters: 4, tasksPerPoster: 250)
        XCTAssertEqual(handled, 1_000, "every registered eventfd should have been dispatched once")
        try writer.close()

        let seqs = try Self.readAll(path).map(\.seq)
        XCTAssertEqual(writer.statistics.recordsDropped, 0)
        XCTAssertEqual(writer.statistics.gapsRecorded, 0)
        XCTAssertEqual(seqs.count, Int(writer.sequence.current),
                       "every sequence number handed out must be in the file exactly once")
        XCTAssertEqual(seqs, Array(1...writer.sequence.current), "sequence numbers in the file must be unique and gap-free")
    }

    static func metadata() -> TraceMetadata {
        TraceMetadata(pid: getpid(), program: "EventPollerTests", host: "localhost",
                      startWallClockNs: UInt64(clinux_realtime_ns()), startMonotonicNs: UInt64(clinux_monotonic_ns()))
    }

    static func readAll(_ path: String) throws -> [TraceRecord] {
        var cursor = try TraceReader(path: path).records()
        var records: [TraceRecord] = []
        while let record = try cursor.next() { records.append(record) }
        return records
    }
}
