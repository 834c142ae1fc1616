import Foundation

/// Records a process with the eBPF loader (`polltrace-ebpf`, a libbpf program with
/// a ring buffer, filtering in the kernel) and writes what it saw as an strace log
/// (`EBPFLogTranslator`), ready for `StraceTraceImport`.
///
/// A command is started held at a FIFO read (`sh -c 'read < FIFO; exec …'`) so that
/// its pid is known and the probes are attached before its first own call; the
/// recorder releases it once the loader has printed `READY`.
public struct EBPFRecorder: Sendable {
    public enum Target: Sendable {
        case command([String])
        case pid(Int32, seconds: Double?)
    }

    public struct Outcome: Sendable {
        public var translation: EBPFLogTranslator.Outcome
        /// The command's exit status (nil with `--pid`).
        public var commandStatus: Int32?
        /// The stop signal that ended the recording, if one did.
        public var stoppedBy: Int32?
        /// The loader's stderr (its summary, or a failure message).
        public var loaderErrors: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public var loader: String
    /// How long the loader may take to compile and attach (slow on a loaded machine).
    public var attachTimeout: Double = 120
    /// The ring buffer's size in MiB, a power of two. Its records are 88 bytes
    /// (a wait's, 856) and the loader drains it every 20 ms.
    public var ringMiB = 16

    public init(loader: String) { self.loader = loader }

    /// Runs `target` under the loader; writes the strace-format log to `log`.
    /// `workDirectory` holds the raw output and the FIFO while recording. With
    /// `stdoutToStderr` the command's standard output goes to standard error (so
    /// that `--json` output is the document alone). `stop` is polled while the
    /// program runs: a signal it returns ends the recording (see below).
    public func record(_ target: Target, log: String, workDirectory: String, stdoutToStderr: Bool = false,
                       stop: () -> Int32? = { nil }) throws -> Outcome {
        let raw = "\(workDirectory)/polltrace-ebpf-\(getpid()).raw"
        let ready = "\(workDirectory)/polltrace-ebpf-\(getpid()).out"
        let fifo = "\(workDirectory)/polltrace-ebpf-\(getpid()).go"
        defer {
            for path in [raw, ready, fifo] { try? FileManager.default.removeItem(atPath: path) }
        }

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
        tracer.executableURL = URL(fileURLWithPath: loader)
        tracer.arguments = ["--ring-mb", String(ringMiB), String(pid), raw]
        _ = FileManager.default.createFile(atPath: ready, contents: nil)
        tracer.standardOutput = FileHandle(forWritingAtPath: ready)
        tracer.standardError = FileHandle(forWritingAtPath: errorsFile)
        func errors() -> String { (try? String(contentsOfFile: errorsFile, encoding: .utf8)) ?? "" }
        func release() {
            // Opening the FIFO for writing wakes the held `read` (or lets it fail).
            let fd = open(fifo, O_WRONLY | O_NONBLOCK)
            if fd >= 0 { _ = write(fd, "go\n", 3); close(fd) }
        }
        do { try tracer.run() } catch {
            child?.terminate(); release()
            throw Failure(description: "cannot run \(loader): \(error)")
        }

        let deadline = Date().addingTimeInterval(attachTimeout)
        while !Self.fileContains(ready, "READY") {
            if !tracer.isRunning || Date() > deadline {
                if tracer.isRunning { tracer.interrupt() }
                tracer.waitUntilExit()
                child?.terminate(); release(); child?.waitUntilExit()
                let how = tracer.terminationReason == .uncaughtSignal ? "signal" : "status"
                throw Failure(description: "the eBPF loader did not start (\(how) \(tracer.terminationStatus)): \(Self.meaningful(errors()))")
            }
            usleep(20_000)
        }

        var commandStatus: Int32?
        var stoppedBy: Int32?
        if let child {
            release()
            // A stop signal is passed on to the program, then SIGTERM after half a
            // second and SIGKILL after one for a program that ignores it.
            var stoppedAt: Date?
            var escalations = 0
            while child.isRunning {
                if stoppedBy == nil, let signal = stop() {
                    stoppedBy = signal
                    stoppedAt = Date()
                    kill(pid, signal)
                } else if let at = stoppedAt, Date().timeIntervalSince(at) >= 0.5 * Double(escalations + 1) {
                    escalations += 1
                    kill(pid, escalations == 1 ? SIGTERM : SIGKILL)
                }
                usleep(20_000)
            }
            commandStatus = child.terminationStatus
        } else if case .pid(_, let seconds) = target {
            // The program keeps running; only the recording stops.
            let end = seconds.map { Date().addingTimeInterval($0) }
            while tracer.isRunning && kill(pid, 0) == 0 && (end.map { Date() < $0 } ?? true) {
                if let signal = stop() { stoppedBy = signal; break }
                usleep(50_000)
            }
        }
        if tracer.isRunning { tracer.interrupt() }
        tracer.waitUntilExit()
        guard tracer.terminationReason == .exit, tracer.terminationStatus == 0 else {
            throw Failure(description: "the eBPF loader failed (status \(tracer.terminationStatus)): \(Self.meaningful(errors()))")
        }
        let translation = try EBPFLogTranslator.translate(raw: raw, log: log,
                                                          epochOffsetNs: EBPFLogTranslator.currentEpochOffsetNs())
        return Outcome(translation: translation, commandStatus: commandStatus, stoppedBy: stoppedBy, loaderErrors: errors())
    }

    static func fileContains(_ path: String, _ text: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? handle.close() }
        let head = (try? handle.read(upToCount: 4096)) ?? Data()
        return String(decoding: head, as: UTF8.self).contains(text)
    }

    /// The loader's first lines of error.
    static func meaningful(_ errors: String) -> String {
        let lines = errors.split(separator: "\n")
        return lines.isEmpty ? "no message" : lines.prefix(5).joined(separator: " / ")
    }
}
