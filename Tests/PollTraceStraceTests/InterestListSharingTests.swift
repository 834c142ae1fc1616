import Foundation
import PollTraceCore
import PollTraceStrace
import XCTest

/// During an import the analysis reads the interest lists the importer keeps; the
/// analysis of a stored trace keeps its own from the records it reads. Both must
/// give the same findings and statistics for any log: registrations that end when
/// the last fd of their file closes, orphans kept alive by a dup, MODs that change
/// the data word, pointer words taken again by other fds, epoll fds closed and made
/// again, a thread that shares the table and a forked child that copies it.
final class InterestListSharingTests: XCTestCase {
    /// The report of the analysis that read the importer's lists, and that of an
    /// analyzer fed the same records afterwards, keeping its own lists.
    func analyseBothWays(_ log: String) -> (shared: ForeignReport, own: ForeignReport) {
        let collector = OriginCollector()
        let shared = ForeignHazardAnalyzer()
        let outcome = StraceImport.run(text: log, sequence: SequenceCounter(), consumers: [collector, shared])
        shared.finish()
        let own = ForeignHazardAnalyzer()
        for poller in collector.pollers { own.pollerStarted(poller) }
        for (record, origin) in collector.records { own.consume(record, origin: origin) }
        own.finish()
        return (ForeignReport(findings: shared.findings, statistics: shared.stats, diagnostics: outcome.diagnostics),
                ForeignReport(findings: own.findings, statistics: own.stats, diagnostics: outcome.diagnostics))
    }

    func testCommittedLogs_sameReportWithTheImportersListsAndWithItsOwn() throws {
        let logs = StraceFixtures.directory.appendingPathComponent("logs")
        let names = try FileManager.default.contentsOfDirectory(atPath: logs.path).sorted().filter { $0.hasSuffix(".strace") }
        XCTAssertFalse(names.isEmpty, "the committed excerpts are missing")
        var findings = 0
        for name in names {
            let (shared, own) = analyseBothWays(try String(contentsOf: logs.appendingPathComponent(name), encoding: .utf8))
            XCTAssertEqual(shared.renderJSON(), own.renderJSON(), name)
            findings += shared.findings.count
        }
        XCTAssertGreaterThan(findings, 0, "the seed excerpts each hold a finding")
    }

    func testRandomChurn_sameReportWithTheImportersListsAndWithItsOwn() throws {
        let seed = ProcessInfo.processInfo.environment["POLLTRACE_FUZZ_SEED"].flatMap(UInt64.init)
            ?? UInt64.random(in: 0...UInt64.max)
        print("InterestListSharingTests seed: \(seed) (replay with POLLTRACE_FUZZ_SEED=\(seed))")
        var random = SplitMix64(seed: seed)
        var findings: [ForeignFinding.Kind: Int] = [:]
        for round in 0..<40 {
            let log = Self.churnLog(lines: 400, using: &random)
            let (shared, own) = analyseBothWays(log)
            XCTAssertEqual(shared.renderJSON(), own.renderJSON(), "seed \(seed) round \(round):\n\(log)")
            for finding in shared.findings { findings[finding.kind, default: 0] += 1 }
        }
        // The logs must reach the interesting states, or the comparison proves little.
        XCTAssertGreaterThan(findings[.reuseWithinBatch, default: 0] + findings[.likelyStaleDispatch, default: 0], 0,
                             "seed \(seed): no reuse within a batch in 40 logs")
        XCTAssertGreaterThan(findings[.orphanEvent, default: 0], 0, "seed \(seed): no orphan event in 40 logs")
    }

    /// A process (tid 700) with a thread (701) and a forked child (710), two epoll fds
    /// at first, fds 5-12, data words that are the fd or one of four pooled pointers,
    /// and calls drawn at random; each wait returns words registered at some point.
    static func churnLog(lines: Int, using random: inout SplitMix64) -> String {
        var log = """
        700 epoll_create1(EPOLL_CLOEXEC) = 3
        700 epoll_create1(EPOLL_CLOEXEC) = 4
        700 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0}, 88) = 701
        700 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f5e4a1e9a10) = 710

        """
        let pointers: [UInt64] = [0x5555_0000_1000, 0x5555_0000_1040, 0x5555_0000_1080, 0x5555_0000_10c0]
        var words: [UInt64] = Array(5...12).map(UInt64.init) + pointers
        func event(_ word: UInt64) -> String {
            let mask = ["EPOLLIN", "EPOLLOUT", "EPOLLIN|EPOLLHUP"].randomElement(using: &random)!
            return "{events=\(mask), data={u32=\(UInt32(truncatingIfNeeded: word)), u64=\(word)}}"
        }
        for _ in 0..<lines {
            let tid = [700, 700, 701, 710].randomElement(using: &random)!
            let epfd = Int.random(in: 3...4, using: &random)
            let fd = Int.random(in: 5...12, using: &random)
            let word = Bool.random(using: &random) ? UInt64(fd) : pointers.randomElement(using: &random)!
            switch Int.random(in: 0..<16, using: &random) {
            case 0, 1: log += "\(tid) socket(AF_INET, SOCK_STREAM|SOCK_NONBLOCK, IPPROTO_TCP) = \(fd)\n"
            case 2: log += "\(tid) accept4(5, NULL, NULL, SOCK_NONBLOCK) = \(fd)\n"
            case 3, 4:
                log += "\(tid) epoll_ctl(\(epfd), EPOLL_CTL_ADD, \(fd), \(event(word))) = 0\n"
                words.append(word)
            case 5: log += "\(tid) epoll_ctl(\(epfd), EPOLL_CTL_MOD, \(fd), \(event(word))) = 0\n"
            case 6: log += "\(tid) epoll_ctl(\(epfd), EPOLL_CTL_DEL, \(fd), NULL) = 0\n"
            case 7, 8: log += "\(tid) close(\(fd)) = 0\n"
            case 9: log += "\(tid) dup(\(fd)) = \(Int.random(in: 5...12, using: &random))\n"
            case 10:
                // Rarely, an epoll fd goes away and comes back as a new instance.
                if Int.random(in: 0..<8, using: &random) == 0 {
                    log += "\(tid) close(\(epfd)) = 0\n\(tid) epoll_create1(0) = \(epfd)\n"
                } else {
                    log += "\(tid) write(\(fd), \"x\", 1) = 1\n"
                }
            case 11, 12, 13:
                let count = Int.random(in: 1...3, using: &random)
                let events = (0..<count).map { _ in event(words.randomElement(using: &random)!) }
                log += "\(tid) epoll_wait(\(epfd), [\(events.joined(separator: ", "))], 16, -1) = \(count)\n"
            default: log += "\(tid) read(\(fd), \"x\", 1) = 1\n"
            }
        }
        return log
    }
}
