import Foundation
import Glibc
import PollTraceAnalysis
import PollTraceCore
import PollTraceStore
import XCTest
@testable import PollTraceDaemon

/// The daemon under churn on several pollers, rotation by size, and the built
/// `polltraced` binary's signal handling.
final class DaemonLifecycleTests: XCTestCase {
    func testGuarded_twoPollersUnderChurn_noStaleDispatch_noLostEvent_noFDLeak() throws {
        let directory = temporaryTraceDirectory("churn")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = openFDs()
        let (daemon, result) = try churnTwoPollers(tracingInto: directory, seconds: 2, maxOperations: 3_000)
        XCTAssertGreaterThan(result.replacements, 0, "the churn should have replaced services")
        XCTAssertEqual(result.failures, 0, "no control call should fail under churn")
        let trace = try XCTUnwrap(daemon.recorder?.completedPaths.last)
        let analysis = try TraceAnalysis.analyze(path: trace)
        XCTAssertEqual(analysis.staleDispatchCount, 0, "guarded must not run a stale handler, on any poller")
        XCTAssertEqual(analysis.count(.lostEvent), 0, "guarded must not drop a live registration's event")
        XCTAssertEqual(analysis.count(.orphanEvent), 0, "every event must belong to a registration in the trace")
        XCTAssertEqual(analysis.inconsistencyCount, 0, "a two-poller trace must replay consistently (cross-poller fd reuse ordered by seq)")
        XCTAssertTrue(try FixVerification.verify(path: trace).passed)
        XCTAssertEqual(try fdsLeftOpen(inTrace: trace), [], "every fd the daemon opened must be closed in its trace")
        XCTAssertEqual(extraOpenFDs(since: before), [:], "stop must close every fd the daemon opened (fd: what it is)")
    }

    func testRotationBySize_startsNewFiles_andKeepsOnlyRetained() throws {
        let directory = temporaryTraceDirectory("rotation")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.trace = TraceSettings(directory: directory, rotation: RotationPolicy(maxBytes: 1, retain: 2))
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
        // Every file is over 1 byte once written, so the sweep rotates on each tick
        // that follows a flush; wait (bounded) for a few rotations.
        XCTAssertTrue(try rotations(3, of: daemon, requests: [("GET", "/api/stats")]),
                      "size rotation should have started new files")
        try daemon.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sqlite") }
        XCTAssertEqual(files.count, 2, "retain 2 must leave two files after stop: \(files)")
    }

    /// Rotation by age, while the control API is busy: every file must open as a
    /// trace and analyze, and together they must hold every sequence number once.
    /// A record numbered before a rotation may land in the next file, but none may
    /// be lost or written twice.
    func testRotationByAge_startsNewFiles_andNoRecordIsLostOrRepeatedAcrossThem() throws {
        let directory = temporaryTraceDirectory("age-rotation")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.pollers = 2
        configuration.trace = TraceSettings(directory: directory, rotation: RotationPolicy(maxAgeSeconds: 0.2))
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
        XCTAssertTrue(try rotations(3, of: daemon, requests: [("POST", "/api/rtp/open"), ("GET", "/api/rtp")]),
                      "age rotation should have started new files")
        try daemon.stop()

        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sqlite") }.sorted()
        XCTAssertGreaterThanOrEqual(files.count, 4, "three rotations make four files: \(files)")
        var seqs: [UInt64] = []
        for file in files {
            let path = directory + "/" + file
            var cursor = try TraceReader(path: path).records()
            while let record = try cursor.next() { seqs.append(record.seq) }
            let analysis = try TraceAnalysis.analyze(path: path)
            XCTAssertEqual(analysis.staleDispatchCount, 0, "\(file): guarded must not run a stale handler")
        }
        seqs.sort()
        XCTAssertEqual(seqs, Array(1...UInt64(seqs.count)), "the files together must hold 1...\(seqs.count), each once")
    }

    /// `--trace-form recording`: the daemon's finished file keeps the compact form
    /// (no v7 tables, so nothing is built at the end), analyze reads it as it is, SQL
    /// is refused with the command that makes the tables, and `finalize` turns it into
    /// a v7 trace with the same replay and the same findings in SQL.
    func testRecordingForm_isKeptAsIs_analyzes_andFinalizesToTheSameFindings() throws {
        let directory = temporaryTraceDirectory("recording-form")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (daemon, result) = try churnTwoPollers(tracingInto: directory, seconds: 2, maxOperations: 3_000,
                                                   dispatch: .naive, fileForm: .recording)
        XCTAssertGreaterThan(result.replacements, 0, "the churn should have replaced services")
        let trace = try XCTUnwrap(daemon.recorder?.completedPaths.last)
        let reader = try TraceReader(path: trace)
        XCTAssertFalse(reader.isPlain, "--trace-form recording must not make the v7 tables")
        XCTAssertTrue(reader.hasRecordChunks)
        XCTAssertTrue(reader.closedCleanly, "the daemon stopped normally, so the kept file must say it was closed")

        let kept = try TraceAnalysis.analyze(path: trace)
        XCTAssertGreaterThan(kept.recordCount, 100, "the churn should have been recorded")
        XCTAssertEqual(kept.inconsistencyCount, 0)
        XCTAssertThrowsError(try TraceQuery.run(path: trace, sql: "SELECT count(*) FROM dispatches", header: { _ in }, row: { _ in })) { error in
            let message = String(describing: error)
            XCTAssertTrue(message.contains("recording form") && message.contains("polltrace finalize \(trace) -o"), message)
        }

        let finalized = directory + "/finalized.sqlite"
        let summary = try TraceFinalizer.finalize(source: trace, destination: finalized)
        XCTAssertEqual(summary.records, kept.recordCount, "finalize must keep every record")
        let tables = try TraceAnalysis.analyze(path: finalized)
        XCTAssertEqual(tables.counts, kept.counts, "the v7 copy must replay to the same verdicts")
        var inSQL: [String: UInt64] = [:]
        try TraceQuery.run(path: finalized, sql: "SELECT kind, count(*) FROM findings GROUP BY kind", header: { _ in }) { row in
            if case .text(let kind) = row[0], case .integer(let count) = row[1] { inSQL[kind] = UInt64(count) }
        }
        for kind in FindingKind.allCases where kind.isProblem {
            XCTAssertEqual(inSQL[kind.rawValue] ?? 0, kept.count(kind), "findings in SQL for \(kind.rawValue)")
        }
    }

    /// A traced two-poller daemon under the churn scenario (side load paced), stopped
    /// when the churn ends, so its trace is complete.
    private func churnTwoPollers(tracingInto directory: String, seconds: Double, maxOperations: Int,
                                 dispatch: DispatchPolicy = .guarded,
                                 fileForm: TraceSettings.FileForm = .tables) throws -> (PollTraceDaemon, ChurnScenario.Result) {
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.pollers = 2
        configuration.dispatch = dispatch
        configuration.trace = TraceSettings(directory: directory, fileForm: fileForm)
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
        var churn = ChurnScenario(controlPort: daemon.controlPort, seconds: seconds, maxOperations: maxOperations)
        churn.sideLoadPauseMicroseconds = 5_000
        let result = churn.run()
        try daemon.stop()
        return (daemon, result)
    }

    /// Sends `requests` over and over (each a trace record or more) until the daemon
    /// has rotated `count` times; false after 10 s.
    private func rotations(_ count: Int, of daemon: PollTraceDaemon, requests: [(String, String)]) throws -> Bool {
        let client = try TestClient(port: daemon.controlPort)
        return eventually(seconds: 10) {
            for (method, path) in requests {
                client.request(method, path)
                _ = client.readResponse()
            }
            return daemon.recorder!.rotationCount >= count
        }
    }

    func testPolltraced_badFlags_exitNonZero_namingTheProblem() throws {
        let binary = try builtBinary("polltraced")
        for (arguments, expected) in [(["--address", "not-an-address"], "--address"), (["--pollers", "0"], "--pollers"),
                                      (["--dispatch", "fast"], "fast"), (["--trace-mode", "sometimes"], "sometimes"),
                                      (["--rotate-mib", "0"], "--rotate-mib must be positive"),
                                      (["--rotate-seconds=-1"], "--rotate-seconds must be positive"),
                                      (["--retain=-1"], "--retain must be 0 or more")] {
            let (status, output) = try run(binary, arguments)
            XCTAssertNotEqual(status, 0, "polltraced \(arguments) must fail")
            XCTAssertTrue(output.contains(expected), "the error for \(arguments) must name \(expected): \(output)")
        }

        // A port that is taken: one clear line and exit 1, no crash.
        let directory = temporaryTraceDirectory("taken")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.trace = nil
        let holder = try PollTraceDaemon(configuration: configuration)
        try holder.setUp()
        defer { try? holder.stop() }
        let (status, output) = try run(binary, ["--port", "\(holder.controlPort)", "--trace-dir", directory])
        XCTAssertEqual(status, 1, "a taken port must exit 1: \(output)")
        XCTAssertTrue(output.contains("cannot listen on 127.0.0.1:\(holder.controlPort)"), output)
        XCTAssertFalse(output.contains("crashed"), output)
    }

    /// Every flag docs/daemon.md's table names is one `polltraced` takes: a flag
    /// spelled one way in the docs and another by the parser (`--rotate-mib` was
    /// `--rotate-mi-b`) fails a user who copies it.
    func testPolltraced_takesEveryFlagItsDocsName() throws {
        let binary = try builtBinary("polltraced")
        let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let docs = try String(contentsOf: repository.appendingPathComponent("docs/daemon.md"), encoding: .utf8)
        let table = docs.components(separatedBy: "## Flags").dropFirst().first?.components(separatedBy: "\n## ").first ?? ""
        let flags = table.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `--") else { return nil }
            return line.dropFirst(3).prefix { $0 != " " && $0 != "`" }.description
        }
        XCTAssertGreaterThanOrEqual(flags.count, 10, "docs/daemon.md's flag table was not found: \(flags)")
        let (status, help) = try run(binary, ["--help"])
        XCTAssertEqual(status, 0)
        for flag in flags {
            XCTAssertTrue(help.contains("\(flag) ") || help.contains("\(flag)\n"),
                          "docs/daemon.md names \(flag), which `polltraced --help` does not list")
        }
    }

    /// The stats endpoint counts verdicts as records pass, a loop iteration's
    /// records at a time (`DaemonStats.observe(contentsOf:)`): its totals must be
    /// exactly what the trace holds.
    func testStatsVerdictCounts_equalTheTracesOwn_underChurnOnTwoPollers() throws {
        let directory = temporaryTraceDirectory("verdicts")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (daemon, _) = try churnTwoPollers(tracingInto: directory, seconds: 1, maxOperations: 2_000)
        let stats = daemon.stats.snapshot
        let trace = try XCTUnwrap(daemon.recorder?.completedPaths.last)

        var records = 0, batches = 0, ran = 0
        var suppressed: [SuppressionReason: Int] = [:]
        var cursor = try TraceReader(path: trace).records()
        while let record = try cursor.next() {
            records += 1
            switch record {
            case .batch: batches += 1
            case .dispatch(let dispatch) where dispatch.source == .event:
                if let reason = dispatch.suppression { suppressed[reason, default: 0] += 1 } else { ran += 1 }
            default: break
            }
        }
        XCTAssertGreaterThan(suppressed.values.reduce(0, +), 0, "guarded under churn should suppress some stale events")
        XCTAssertEqual(stats.recordsSeen, records)
        XCTAssertEqual(stats.batches, batches)
        XCTAssertEqual(stats.dispatchesRan, ran)
        for reason in SuppressionReason.allCases {
            XCTAssertEqual(stats.suppressed[reason] ?? 0, suppressed[reason] ?? 0, "\(reason)")
        }
    }

    func testPolltraceLoad_stormAgainstTheDaemon_printsAResultLine_andLeavesNoService() throws {
        let binary = try builtBinary("polltrace-load")
        let directory = temporaryTraceDirectory("load")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.trace = TraceSettings(directory: directory)
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
        defer { try? daemon.stop() }
        let (status, output) = try run(binary, ["storm", "--touch", "--control-port", "\(daemon.controlPort)",
                                                "--duration", "1", "--count", "200"])
        XCTAssertEqual(status, 0, output)
        let result = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("result mode=storm") }, output)
        let fields = Dictionary(uniqueKeysWithValues: result.split(separator: " ").dropFirst().compactMap { field -> (String, String)? in
            let parts = field.split(separator: "=", maxSplits: 1)
            return parts.count == 2 ? (String(parts[0]), String(parts[1])) : nil
        })
        XCTAssertEqual(fields["errors"], "0", output)
        XCTAssertLessThanOrEqual(Int(fields["ops"] ?? "") ?? .max, 200, "the storm must stop at --count")
        XCTAssertEqual(daemon.stats.snapshot.servicesCurrent, 0, "every service the storm opened must be closed")
        XCTAssertEqual(daemon.stats.snapshot.servicesOpened, Int(fields["ops"] ?? "-1"))
    }

    func testPolltraceDemo_reproducesUnderNaive_andTheFixHoldsUnderGuarded() throws {
        let binary = try builtBinary("polltrace")
        let directory = temporaryTraceDirectory("demo")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (status, output) = try run(binary, ["demo", "--seconds", "1", "--trace-dir", directory])
        XCTAssertEqual(status, 0, "the demo exits 0 only when naive showed the bug and guarded held: \(output)")
        XCTAssertTrue(output.contains("the fix held"), output)
        XCTAssertFalse(output.contains("did NOT show"), output)
        let traces = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sqlite") }
        XCTAssertEqual(Set(traces.map { $0.hasPrefix("demo-naive") ? "naive" : $0.hasPrefix("demo-guarded") ? "guarded" : $0 }),
                       ["naive", "guarded"], "the demo must leave one trace per policy: \(traces)")
        // It ends with the naive trace's HTML report, beside the trace, and its path.
        let reportLine = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("report of the naive trace: ") }, output)
        let reportPath = String(reportLine.dropFirst("report of the naive trace: ".count).split(separator: " ")[0])
        XCTAssertTrue(reportPath.hasPrefix(directory + "/demo-naive") && reportPath.hasSuffix(".html"), reportPath)
        let html = try String(contentsOfFile: reportPath, encoding: .utf8)
        // Problems are drawn first; a justified suppression (a naive loop that found no
        // handler) may come before them and is then not drawn, so the first figure's
        // number depends on the interleaving.
        XCTAssertTrue(html.hasPrefix("<!DOCTYPE html>") && html.contains("<figure class=\"finding stale\" id=\"finding-")
                      && html.contains("<svg class=\"seq\""),
                      "the report draws the naive trace's first stale dispatch: \(html.prefix(3000))")
    }

    func testPolltraced_onSIGTERMandSIGINT_finishesTheTraceAndExitsZero() throws {
        let binary = Bundle.main.bundleURL.deletingLastPathComponent().appendingPathComponent("polltraced").path
        let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let built = FileManager.default.isExecutableFile(atPath: binary) ? binary
            : testsDirectory.appendingPathComponent(".build/debug/polltraced").path
        try XCTSkipUnless(FileManager.default.isExecutableFile(atPath: built), "polltraced is not built next to the tests (\(built))")
        for signal in [SIGTERM, SIGINT] {
            let directory = temporaryTraceDirectory("signal")
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: built)
            process.arguments = ["--port", "0", "--trace-dir", directory]
            let errors = Pipe()
            process.standardError = errors
            try process.run()
            // The daemon logs its port once listening; read stderr until it does.
            var log = ""
            var port: UInt16?
            let handle = errors.fileHandleForReading
            while port == nil {
                let data = handle.availableData
                if data.isEmpty { break }
                log += String(decoding: data, as: UTF8.self)
                if let range = log.range(of: #"port=(\d+)"#, options: .regularExpression) {
                    port = UInt16(log[range].dropFirst(5))
                }
            }
            let controlPort = try XCTUnwrap(port, "polltraced did not log its port: \(log)")
            let client = try TestClient(port: controlPort)
            client.request("POST", "/api/rtp/open")
            XCTAssertEqual(client.readResponse()?.status, 201)
            kill(process.processIdentifier, signal)
            process.waitUntilExit()
            XCTAssertEqual(process.terminationStatus, 0, "polltraced must exit 0 on signal \(signal)")
            let traces = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sqlite") }
            XCTAssertEqual(traces.count, 1)
            let analysis = try TraceAnalysis.analyze(path: directory + "/" + traces[0])
            XCTAssertGreaterThan(analysis.recordCount, 0, "the trace must hold the records flushed at shutdown")
            XCTAssertEqual(analysis.inconsistencyCount, 0)
        }
    }
}
