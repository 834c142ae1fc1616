import Foundation
import PollTraceStrace
import XCTest

/// The strace path's C fixtures recorded with both backends: the eBPF recorder must
/// find what strace finds.
final class EBPFBackendTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try StraceFixtures.temporaryDirectory() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    private func assertSameFindings(_ name: String, defines: [String] = [], arguments: [String] = [],
                                    expected: [ForeignFinding.Kind], dataIsPointer: Bool = false,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let program = try StraceFixtures.compile(name, defines: defines, into: dir)
        let viaStrace = try StraceImport.analyze(path: StraceFixtures.record(program, arguments: arguments, in: dir))
        let (log, outcome) = try EBPFFixtures.record(program, arguments: arguments, in: dir)
        let viaEBPF = try StraceImport.analyze(path: log)

        XCTAssertEqual(viaStrace.findings.map(\.kind), expected, viaStrace.renderText(), file: file, line: line)
        XCTAssertEqual(EBPFFixtures.signature(viaEBPF, data: !dataIsPointer),
                       EBPFFixtures.signature(viaStrace, data: !dataIsPointer),
                       "eBPF:\n\(viaEBPF.renderText())\nstrace:\n\(viaStrace.renderText())", file: file, line: line)
        XCTAssertEqual(viaEBPF.statistics.batches, viaStrace.statistics.batches, "the same waits", file: file, line: line)
        XCTAssertEqual(viaEBPF.statistics.events, viaStrace.statistics.events, "the same events", file: file, line: line)
        XCTAssertEqual(viaEBPF.statistics.eventsHandled, viaStrace.statistics.eventsHandled,
                       "the kernel's data-call filter keeps every call that handles an event", file: file, line: line)
        XCTAssertEqual(outcome.translation.lostEvents, 0, file: file, line: line)
        XCTAssertEqual(viaEBPF.diagnostics?.total, 0, "\(viaEBPF.diagnostics?.summary ?? [])", file: file, line: line)
    }

    func testSeedLoop_naive_sameFindingsAsStrace() throws {
        try assertSameFindings("seed_loop", expected: [.likelyStaleDispatch])
    }

    func testSeedLoop_guarded_sameFindingsAsStrace() throws {
        try assertSameFindings("seed_loop", defines: ["GUARDED"], expected: [.reuseWithinBatch])
    }

    func testThreadedLoop_sameFindingsAsStrace() throws {
        try assertSameFindings("threaded_loop", expected: [.likelyStaleDispatch])
    }

    /// The stale event reaches a different fd number through its data word (a pointer
    /// the loop gave the pipe): the kernel's filter must pass the read on the fd that
    /// took the word, which had no event in the batch.
    func testPointerLoop_sameFindingsAsStrace() throws {
        try assertSameFindings("pointer_loop", arguments: [dir.appendingPathComponent("pointer.truth").path],
                               expected: [.likelyStaleDispatch], dataIsPointer: true)
    }

    func testDupOrphan_sameFindingsAsStrace() throws {
        try assertSameFindings("dup_orphan", expected: [.orphanEvent])
    }

    /// A forked child on its parent's epoll fd: the fork must reach the log (the
    /// child is followed in the kernel) and be read as strace's is.
    func testForkSharedEpoll_sameFindingsAsStrace() throws {
        try assertSameFindings("fork_shared_epoll", expected: [])
    }
}
