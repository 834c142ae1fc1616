import Foundation

/// Records a process with bpftrace (`EBPFScript`) and writes what it saw as an
/// strace log (`EBPFLogTranslator`), ready for `StraceTraceImport`.
///
/// A command is started held at a FIFO read (`sh -c 'read < FIFO; exec …'`) so that
/// its pid is known and the probes are attached before its first own call; the
/// recorder releases it once bpftrace has printed `READY` from `BEGIN`.
public struct EBPFRecorder: Sendable {
    public enum Target: Sendable {
        case command([String])
        case pid(Int32, seconds: Double?)
    }

    public struct Outcome: Sendable {
        public var translation: EBPFLogTranslator.Outcome
        /// The command's exit status (nil with `--pid`).
        public var commandStatus: Int32?
        /// bpftrace's stderr, for a failure message.
        public var bpftraceErrors: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public var bpftrace: String
    /// How long bpftrace may take to compile and attach (it is slow on a loaded machine).
    public var attachTimeout: Double = 120

    public init(bpftrace: String) { self.bpftrace = bpftrace }

    /// Pages of each CPU's perf buffer (bpftrace's default, 64, overflowed under
    /// pipelined redis-benchmark PING; 1024 pages, 4 MiB a CPU, did not).
    public static let perfBufferPages = 1024

    /// Runs `target` under bpftrace; writes the strace-format log to `log`.
    /// `workDirectory` holds the raw output and the FIFO while recording. With
    /// `stdoutToStderr` the command's standard output goes to standard error (so
    /// that `--json` output is the document alone).
    public func record(_ target: Target, log: String, workDirectory: String, stdoutToStderr: Bool = false) throws -> Outcome {
        let raw = "\(workDirectory)/polltrace-ebpf-\(getpid()).raw"
        let scriptPath = "\(workDirectory)/polltrace-ebpf-\(getpid()).bt"
        let fifo = "\(workDirectory)/polltrace-ebpf-\(getpid()).go"
        defer {
            for path in [raw, scriptPath, fifo] { try? FileManager.default.removeItem(atPath: path) }
        }
        try EBPFScript.program.write(toFile: scriptPath, atomically: true, encoding: .utf8)

        var child: Process?
        let pid: Int32
        switch target {
        case .pid(let p, _):
            pid = p
        case .command(let command):
            try? FileManager.default.removeItem(atPath: fifo)
            guard mkfifo(fifo, 0o600) == 0 else { throw Failure(description: "cannot make a FIFO at \(fifo)") }
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "read -r _ < \"$0\" && exec \"$@\"", fifo] + command
            if stdoutToStderr { process.standardOutput = FileHandle.standardError }
            do { try process.run() } catch { throw Failure(description: "cannot start \(command[0]): \(error)") }
            child = process
            pid = process.processIdentifier
        }

        let errorsFile = "\(raw).err"
        _ = FileManager.default.createFile(atPath: errorsFile, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: errorsFile) }
        let tracer = Process()
        tracer.executableURL = URL(fileURLWithPath: bpftrace)
        // Line-buffered stdout straight into the file: bpftrace's `-o` file is block
        // buffered, so `READY` would not show until exit.
        tracer.arguments = ["-B", "line", scriptPath, String(pid)]
        _ = FileManager.default.createFile(atPath: raw, contents: nil)
        tracer.standardOutput = FileHandle(forWritingAtPath: raw)
        var environment = ProcessInfo.processInfo.environment
        environment["BPFTRACE_PERF_RB_PAGES"] = String(Self.perfBufferPages)
        tracer.environment = environment
        tracer.standardError = FileHandle(forWritingAtPath: errorsFile)
        func errors() -> String { (try? String(contentsOfFile: errorsFile, encoding: .utf8)) ?? "" }
        func release() {
            // Opening the FIFO for writing wakes the held `read` (or lets it fail).
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { _ = write(fd, "go\n", 3); close(fd) }
        }
        do { try tracer.run() } catch {
            child?.terminate(); release()
            throw Failure(description: "cannot run \(bpftrace): \(error)")
        }

        let deadline = Date().addingTimeInterval(attachTimeout)
        while !Self.fileContains(raw, "READY") {
            if !tracer.isRunning || Date() > deadline {
                if tracer.isRunning { tracer.interrupt() }
                tracer.waitUntilExit()
                child?.terminate(); release(); child?.waitUntilExit()
                let how = tracer.terminationReason == .uncaughtSignal ? "signal" : "status"
                throw Failure(description: "bpftrace did not start (\(how) \(tracer.terminationStatus)): \(Self.meaningful(errors()))")
            }
            usleep(20_000)
        }

        var commandStatus: Int32?
        if let child {
            release()
            child.waitUntilExit()
            commandStatus = child.terminationStatus
        } else if case .pid(_, let seconds) = target {
            let end = seconds.map { Date().addingTimeInterval($0) }
            while tracer.isRunning && kill(pid, 0) == 0 && (end.map { Date() < $0 } ?? true) { usleep(50_000) }
        }
        if tracer.isRunning { tracer.interrupt() }
        tracer.waitUntilExit()
        let translation = try EBPFLogTranslator.translate(raw: raw, log: log,
                                                          epochOffsetNs: EBPFLogTranslator.currentEpochOffsetNs())
        return Outcome(translation: translation, commandStatus: commandStatus, bpftraceErrors: errors())
    }

    static func fileContains(_ path: String, _ text: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        return String(decoding: head, as: UTF8.self).contains(text)
    }

    /// bpftrace's errors without its memlock warning (harmless with a BPF memcg).
    static func meaningful(_ errors: String) -> String {
        let lines = errors.split(separator: "\n").filter { !$0.contains("RLIMIT_MEMLOCK") }
        return lines.isEmpty ? "no message" : lines.prefix(5).joined(separator: " / ")
    }
}
