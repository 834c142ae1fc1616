import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import XCTest

/// The oracle test: random schedules run through the real `Dispatcher`, recorded,
/// analyzed; the findings must equal the generator's own ground truth exactly.
final class SchedulePropertyTests: XCTestCase {
    static let policySets: [[SimulatedPolicy]] = [
        [.real(.naive)], [.real(.snapshot)], [.real(.guarded)], [.lossyGuard],
        [.real(.naive), .real(.guarded)], [.real(.snapshot), .real(.naive), .real(.guarded)],
    ]

    /// Runs one seeded schedule, records it with `recorder`, and returns the truth.
    static func generate(seed: UInt64, policies: [SimulatedPolicy], steps: Int, recorder: TraceRecorder) -> (GroundTruth, [PollerInfo]) {
        var process = SimulatedProcess(recorder: recorder, seed: seed, policies: policies, spinThreshold: spinThreshold)
        // Every third seed also closes fds behind the loop's back while a dup keeps them.
        process.makeZombies = seed % 3 == 0
        process.run(steps: steps)
        return (process.truth, process.pollerInfos)
    }
    static let spinThreshold = 3

    func check(seed: UInt64, policies: [SimulatedPolicy], records: [TraceRecord], truth: GroundTruth, pollers: [PollerInfo],
               file: StaticString = #filePath, line: UInt = #line) {
        let metadata = TraceMetadata(pid: 1, program: "generated", host: "test", startWallClockNs: 0, startMonotonicNs: 0, pollers: pollers)
        let options = ReplayOptions(spinThreshold: Self.spinThreshold, maxDetailed: nil)
        let report = TraceAnalysis.analyze(records: records, metadata: metadata, options: options)
        let context = "seed \(seed), policies \(policies)"
        XCTAssertEqual(truth.unstated, [], "\(context): dispatches VerdictRules.table states no verdict for", file: file, line: line)
        XCTAssertEqual(report.inconsistencyCount, 0, "\(context): a generated trace must be consistent: \(report.inconsistencies.prefix(3))", file: file, line: line)
        let found = report.findings.map { "\($0.kind)@\($0.seq)" }
        let expected = truth.findings.map { "\($0.kind)@\($0.seq)" }
        XCTAssertEqual(found, expected, "\(context): findings differ from ground truth (false positives: \(Set(found).subtracting(expected).sorted()), misses: \(Set(expected).subtracting(found).sorted()))", file: file, line: line)
        XCTAssertEqual(report.count(.correct), truth.correct, "\(context): correct count", file: file, line: line)
        // A finding's details must name the records that made it, not just its kind
        // and seq: the text and JSON reports print them.
        for f in report.findings {
            if let ran = f.ran, let d = f.dispatch {
                XCTAssertEqual(ran.registrationID, d.ranRegistrationID,
                               "\(context): \(f.kind)@\(f.seq) names #\(ran.registrationID) as the handler that ran", file: file, line: line)
            }
            if let harvested = f.harvestedFor {
                XCTAssertEqual(harvested.fd, f.event.fd,
                               "\(context): \(f.kind)@\(f.seq) was harvested for a registration of fd \(harvested.fd)", file: file, line: line)
            }
            if f.kind == .spin {
                XCTAssertEqual(f.ran, f.harvestedFor, "\(context): spin@\(f.seq) ran another registration than its event's", file: file, line: line)
            }
        }

        let verification = FixVerification.verify(records: records, metadata: metadata, options: options)
        XCTAssertEqual(verification.passed, truth.guardedProblems == 0,
                       "\(context): verify must fail exactly when a loop running the guarded code made a problem (\(truth.guardedProblems)): \(verification.failures.prefix(3))",
                       file: file, line: line)
        if verification.divergentDispatches == 0 {
            XCTAssertEqual(verification.staleSuppressed, report.staleDispatchCount,
                           "\(context): every stale dispatch is suppressed in replay", file: file, line: line)
        }
    }

    func testRandomSchedules_findingsEqualGroundTruth_inMemory() {
        var totals: [String: Int] = [:]
        var rowsUsed: [Int: Int] = [:]
        for seed in UInt64(1)...150 {
            for policies in Self.policySets {
                let collector = RecordCollector()
                let (truth, pollers) = Self.generate(seed: seed, policies: policies, steps: 300, recorder: collector)
                for f in truth.findings { totals[f.kind.rawValue, default: 0] += 1 }
                rowsUsed.merge(truth.rowsUsed, uniquingKeysWith: +)
                check(seed: seed, policies: policies, records: collector.records, truth: truth, pollers: pollers)
            }
        }
        // The generator must actually exercise every kind it can produce.
        for kind in ["misrouted", "dead_registration", "justified_suppression", "lost_event", "orphan_event", "spin"] {
            XCTAssertGreaterThan(totals[kind, default: 0], 0, "the generator never produced \(kind): the property test would prove nothing about it")
        }
        print("schedule property totals: \(totals.sorted { $0.key < $1.key })")
        // And every row of the verdict table it can make, or the table states a rule
        // nothing checks. It cannot make these: a live registration is its fd's
        // current entry in every loop's table, so no policy runs another for its
        // event; and only the guarded policy suppresses as "not interested", only
        // for the live registration the event was harvested for.
        let unreachable: Set<String> = [
            "live/ranOtherLive", "live/ranOtherEnded", "ended/suppressedNothingWanted", "orphan/suppressedNothingWanted",
        ]
        for (row, rule) in VerdictRules.table.enumerated() {
            let used = rowsUsed[row, default: 0]
            print("verdict rule (\(rule.harvested), \(rule.loopDid)) -> \(rule.verdict): \(used) dispatches")
            if unreachable.contains("\(rule.harvested)/\(rule.loopDid.name)") {
                XCTAssertEqual(used, 0, "the generator made (\(rule.harvested), \(rule.loopDid)): take it off the unreachable list")
            } else {
                XCTAssertGreaterThan(used, 0, "the generator never made (\(rule.harvested), \(rule.loopDid)): its rule goes unchecked")
            }
        }
    }

    func testVerdictTable_statesEachCaseOnce() {
        var seen: Set<String> = []
        for rule in VerdictRules.table {
            XCTAssertTrue(seen.insert("\(rule.harvested)/\(rule.loopDid)").inserted,
                          "(\(rule.harvested), \(rule.loopDid)) has two rows: the table contradicts itself or repeats")
        }
    }
}

extension SchedulePropertyTests {
    /// The same property, end to end: each schedule is recorded by the real trace
    /// writer into an SQLite file, and the analyzer reads that file.
    func testRandomSchedules_recordedToRealTraceFiles_findingsEqualGroundTruth() throws {
        for seed in UInt64(1000)...1099 {
            for policies in Self.policySets {
                let path = TraceFiles.temporaryPath("schedule-\(seed)")
                defer { TraceFiles.remove(path) }
                let metadata = TraceFiles.metadata(pollers: [])
                let writer = try TraceWriter(path: path, metadata: metadata, options: TraceWriterOptions(overwrite: true))
                let (truth, pollers) = Self.generate(seed: seed, policies: policies, steps: 300, recorder: writer)
                try writer.close()

                let options = ReplayOptions(spinThreshold: Self.spinThreshold, maxDetailed: nil)
                let report = try TraceAnalysis.analyze(path: path, options: options)
                let context = "seed \(seed), policies \(policies)"
                XCTAssertEqual(report.metadata?.pollers.map(\.policy), pollers.map(\.policy), "\(context): the file names each poller's policy")
                XCTAssertEqual(report.inconsistencyCount, 0, "\(context): \(report.inconsistencies.prefix(3))")
                let found = report.findings.map { "\($0.kind)@\($0.seq)" }
                let expected = truth.findings.map { "\($0.kind)@\($0.seq)" }
                XCTAssertEqual(found, expected, "\(context): findings from the file differ from ground truth (false positives: \(Set(found).subtracting(expected).sorted()), misses: \(Set(expected).subtracting(found).sorted()))")
                XCTAssertEqual(report.count(.correct), truth.correct, "\(context): correct count")
                let verification = try FixVerification.verify(path: path, options: options)
                XCTAssertEqual(verification.passed, truth.guardedProblems == 0,
                               "\(context): verify from the file (\(truth.guardedProblems) problems by guarded loops): \(verification.failures.prefix(3))")
            }
        }
    }
}
