import Foundation
import Glibc
import PollTraceAnalysis
import PollTraceCore
import XCTest
@testable import PollTraceDaemon

/// The daemon under churn on several pollers, rotation by size, and the built
/// `polltraced` binary's signal handling.
final class DaemonLifecycleTests: XCTestCase {
    func testGuarded_twoPollersUnderChurn_noStaleDispatch_noLostEvent_noFDLeak() throws {
        let directory = temporaryTraceDirectory("churn")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let before = openFDCount()
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.pollers = 2
        configuration.trace = TraceSettings(directory: directory)
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
        var churn = ChurnScenario(controlPort: daemon.controlPort, seconds: 2, maxOperations: 3_000)
        churn.sideLoadPauseMicroseconds = 5_000
        let result = churn.run()
        try daemon.stop()
        XCTAssertGreaterThan(result.replacements, 0, "the churn should have replaced services")
        XCTAssertEqual(result.failures, 0, "no control call should fail under churn")
        let trace = try XCTUnwrap(daemon.recorder?.completedPaths.last)
        let analysis = try TraceAnalysis.analyze(path: trace)
        XCTAssertEqual(analysis.staleDispatchCount, 0, "guarded must not run a stale handler, on any poller")
        XCTAssertEqual(analysis.count(.lostEvent), 0, "guarded must not drop a live registration's event")
        XCTAssertEqual(analysis.count(.orphanEvent), 0, "every event must belong to a registration in the trace")
        XCTAssertEqual(analysis.inconsistencyCount, 0, "a two-poller trace must replay consistently (cross-poller fd reuse ordered by seq)")
        XCTAssertTrue(try FixVerification.verify(path: trace).passed)
        XCTAssertEqual(openFDCount(), before, "stop must close every fd the daemon opened")
    }

    func testRotationBySize_startsNewFiles_andKeepsOnlyRetained() throws {
        let directory = temporaryTraceDirectory("rotation")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.trace = TraceSettings(directory: directory, rotation: RotationPolicy(maxBytes: 1, retain: 2))
        let daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
        let client = try TestClient(port: daemon.controlPort)
        // Every file is over 1 byte once written, so the sweep rotates on each tick
        // that follows a flush; wait (bounded) for a few rotations.
        XCTAssertTrue(eventually(seconds: 10) {
            client.request("GET", "/api/stats")
            _ = client.readResponse()
            return daemon.recorder!.rotationCount >= 3
        }, "size rotation should have started new files")
        try daemon.stop()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sqlite") }
        XCTAssertEqual(files.count, 2, "retain 2 must leave two files after stop: \(files)")
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
