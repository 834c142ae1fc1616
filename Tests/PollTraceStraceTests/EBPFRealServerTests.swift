import Foundation
import PollTraceStrace
import Synchronization
import XCTest

/// redis-server recorded by the eBPF recorder under the same bounded short-connection
/// churn on 127.0.0.1 as `RealServerTests` runs under strace: zero findings.
final class EBPFRealServerTests: XCTestCase {
    func testRedisUnderShortConnectionChurn_givesZeroFindings() throws {
        let redis = try RealServerTests.installed(["/usr/bin/redis-server", "/usr/sbin/redis-server"], package: "redis-server")
        let recorder = try EBPFFixtures.recorder()
        let dir = try StraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try Loopback.freePort()
        let log = dir.appendingPathComponent("redis.ebpf.strace").path
        let command = [redis, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                       "--daemonize", "no", "--dir", dir.path, "--loglevel", "warning"]

        let result = Mutex<Result<EBPFRecorder.Outcome, Error>?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let outcome = Result { try recorder.record(.command(command), log: log, workDirectory: dir.path) }
            result.withLock { $0 = outcome }
            done.signal()
        }
        // The recorder starts redis once its probes are attached (the loader compiles its program first).
        try Loopback.waitForListener(port: port, timeout: 120)
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: RealServerTests.workers) { worker in
            for i in 0..<RealServerTests.connectionsPerWorker {
                let silent = (i + worker) % 5 == 0  // connect and hang up without a request
                if (try? Loopback.roundTrip(port: port, request: silent ? nil : "PING\r\n", expect: silent ? nil : "+PONG")) == nil {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        _ = try? Loopback.roundTrip(port: port, request: "SHUTDOWN NOSAVE\r\n", expect: nil)
        XCTAssertEqual(done.wait(timeout: .now() + 60), .success, "redis stopped and the recording ended")
        XCTAssertEqual(failures.withLock { $0 }, 0, "every request got its reply")

        let outcome = try XCTUnwrap(result.withLock { $0 }).get()
        XCTAssertEqual(outcome.translation.lostEvents, 0, "no events lost at this load")
        let report = try StraceImport.analyze(path: log)
        print("redis-server under churn, eBPF (\(RealServerTests.connections) connections):\n" + report.renderText())
        XCTAssertEqual(report.findings.count, 0, "ordinary churn is not a hazard:\n\(report.renderText())")
        XCTAssertGreaterThanOrEqual(report.statistics.events, RealServerTests.connections,
                                    "the trace shows at least one event per connection (its accept)")
        XCTAssertEqual(report.diagnostics?.total, 0, "the log reads cleanly: \(report.diagnostics?.summary ?? [])")
    }
}
