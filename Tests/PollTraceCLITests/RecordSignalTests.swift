import Foundation
import XCTest

/// `polltrace record` stopped by real signals: it must stop the recording, import
/// what strace captured, and stop the program (or, with --pid, detach and leave it
/// running), never leave strace and the program running behind it.
final class RecordSignalTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/strace") else {
            throw XCTSkip("strace is not installed (Debian: apt-get install strace)")
        }
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-record-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    private func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// A shell loop that writes its pid to `pidFile` and runs `sleep` (fd calls for
    /// strace to see) until killed; `ignoring` signals it ignores.
    private func loopScript(pidFile: String, ignoring: String? = nil) -> String {
        (ignoring.map { "trap '' \($0); " } ?? "") + "echo $$ > \(pidFile); while :; do sleep 0.1; done"
    }

    func testRecord_SIGTERM_stopsTheProgram_andImportsWhatWasCaptured() throws {
        try stopsTheProgram(signal: SIGTERM, ignoring: nil)
    }

    func testRecord_SIGHUP_stopsTheProgram_andImportsWhatWasCaptured() throws {
        try stopsTheProgram(signal: SIGHUP, ignoring: nil)
    }

    /// A program that ignores SIGINT and SIGTERM is still stopped (SIGKILL after the
    /// polite signals).
    func testRecord_SIGINT_stopsAProgramThatIgnoresSignals() throws {
        try stopsTheProgram(signal: SIGINT, ignoring: "INT TERM")
    }

    private func stopsTheProgram(signal: Int32, ignoring: String?) throws {
        let pidFile = path("program.pid")
        let trace = path("recorded.trace")
        let log = path("strace.log")
        let record = try start(["record", "--backend", "strace", "-o", trace, "--log", log, "--", "/bin/sh", "-c", loopScript(pidFile: pidFile, ignoring: ignoring)])
        let program = try waitForPid(in: pidFile, while: record)
        try waitForLog(log, toMention: "close(", while: record)

        kill(record.process.processIdentifier, signal)
        let result = try finish(record)
        XCTAssertEqual(result.reason, .exit, "polltrace must not die of the signal")
        XCTAssertTrue([0, 1].contains(result.status), "record imports and reports (0 or 1), got \(result.status):\n\(result.stderr)")
        XCTAssertTrue(result.stderr.contains("recording stopped by"), result.stderr)
        XCTAssertTrue(waitUntilGone(program), "the program (pid \(program)) must be stopped")
        XCTAssertFalse(isTraced(program), "strace must be gone")
        XCTAssertTrue(FileManager.default.fileExists(atPath: trace), "the trace of what was captured must exist")
        let analyzed = try CLI.run(["analyze", trace])
        XCTAssertNotEqual(analyzed.status, 2, "the recorded trace must analyze:\n\(analyzed.stderr)")
    }

    func testRecordWithPid_SIGTERM_detaches_andLeavesTheProgramRunning() throws {
        let pidFile = path("program.pid")
        let program = Process()
        program.executableURL = URL(fileURLWithPath: "/bin/sh")
        program.arguments = ["-c", loopScript(pidFile: pidFile)]
        try program.run()
        defer { program.terminate(); program.waitUntilExit() }
        let pid = program.processIdentifier

        let trace = path("attached.trace")
        let log = path("attached.log")
        let record = try start(["record", "--backend", "strace", "-o", trace, "--log", log, "--pid", String(pid)])
        try waitForLog(log, toMention: "close(", while: record)
        kill(record.process.processIdentifier, SIGTERM)
        let result = try finish(record)
        XCTAssertEqual(result.reason, .exit, "polltrace must not die of the signal")
        XCTAssertTrue([0, 1].contains(result.status), "got \(result.status):\n\(result.stderr)")
        XCTAssertTrue(program.isRunning, "with --pid the program keeps running")
        XCTAssertTrue(eventually { !self.isTraced(pid) }, "strace must have detached from pid \(pid)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: trace))
    }

    /// Ctrl-C on a terminal signals the whole foreground process group: polltrace,
    /// strace and the program. The recording must end and be imported.
    func testRecord_SIGINTToTheWholeProcessGroup_likeCtrlC_endsTheRecording() throws {
        let pidFile = path("program.pid")
        let trace = path("group.trace")
        let log = path("group.log")
        let record = try start(["record", "--backend", "strace", "-o", trace, "--log", log, "--", "/bin/sh", "-c", loopScript(pidFile: pidFile)])
        let program = try waitForPid(in: pidFile, while: record)
        try waitForLog(log, toMention: "close(", while: record)
        let group = getpgid(record.process.processIdentifier)
        guard group == record.process.processIdentifier else {
            kill(record.process.processIdentifier, SIGKILL)
            throw XCTSkip("polltrace does not lead its own process group here; cannot signal it like a terminal")
        }
        XCTAssertEqual(getpgid(program), group, "the program must be in polltrace's process group, where a terminal's ^C reaches it")
        kill(-group, SIGINT)
        let result = try finish(record)
        XCTAssertEqual(result.reason, .exit)
        XCTAssertTrue([0, 1].contains(result.status), "got \(result.status):\n\(result.stderr)")
        XCTAssertTrue(waitUntilGone(program), "the program must be stopped")
        XCTAssertTrue(FileManager.default.fileExists(atPath: trace))
    }

    // MARK: helpers

    private struct Running {
        let process: Process
        let stderr: Pipe
    }

    private func start(_ arguments: [String]) throws -> Running {
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = arguments
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return Running(process: process, stderr: err)
    }

    /// Waits for polltrace to exit; kills it (and fails) if it hangs past 60 s.
    private func finish(_ running: Running) throws -> (reason: Process.TerminationReason, status: Int32, stderr: String) {
        let pid = running.process.processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        let data = running.stderr.fileHandleForReading.readDataToEndOfFile()
        running.process.waitUntilExit()
        watchdog.cancel()
        return (running.process.terminationReason, running.process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func waitForPid(in file: String, while running: Running) throws -> pid_t {
        var pid: pid_t?
        let ready = eventually(seconds: 30) {
            pid = (try? String(contentsOfFile: file, encoding: .utf8)).flatMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            return pid != nil || !running.process.isRunning
        }
        guard ready, let pid else {
            let stderr = String(decoding: running.stderr.fileHandleForReading.availableData, as: UTF8.self)
            throw XCTSkip("the traced program did not start under strace (ptrace refused here?): \(stderr)")
        }
        return pid
    }

    private func waitForLog(_ log: String, toMention text: String, while running: Running) throws {
        let ready = eventually(seconds: 30) {
            ((try? String(contentsOfFile: log, encoding: .utf8))?.contains(text) ?? false) || !running.process.isRunning
        }
        XCTAssertTrue(ready && running.process.isRunning, "strace must be logging the program before the signal")
    }

    private func waitUntilGone(_ pid: pid_t) -> Bool {
        eventually(seconds: 10) { kill(pid, 0) != 0 || self.isZombie(pid) }
    }

    private func isZombie(_ pid: pid_t) -> Bool {
        ((try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? "").contains("State:\tZ")
    }

    private func isTraced(_ pid: pid_t) -> Bool {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("TracerPid:") }) else { return false }
        return line.split(separator: "\t").last.map { $0.trimmingCharacters(in: .whitespaces) != "0" } ?? false
    }

    private func eventually(seconds: Double = 10, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }
}
