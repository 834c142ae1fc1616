import ArgumentParser
import Foundation
import PollTraceStrace

struct Record: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a program (or attach to a pid) under eBPF or strace and import what it did as a trace.",
        discussion: """
        Records only the calls the analysis uses (fd, socket, epoll and process calls). \
        By default (--backend auto) a BPF program in the kernel records them, near the \
        program's own speed, where this machine allows it (root, BPF, BTF, clang and \
        libbpf-dev); elsewhere strace does, with --seccomp-bpf where the kernel allows \
        it, and a note says why. Examples:

          polltrace record -o redis.trace -- redis-server --port 6390
          polltrace record -o loop.trace --pid 1234 --seconds 10

        Exit codes: 0 no findings, 1 findings, 2 bad input, or the recorder failed or \
        (--backend ebpf) is unavailable.
        """)

    @Option(name: .shortAndLong, help: "The trace file to write.")
    var output: String

    @Option(help: "Attach to this running process (all its threads) instead of starting a command.")
    var pid: Int32?

    @Option(help: "With --pid: detach after this many seconds (default: until interrupted).")
    var seconds: Double?

    @Option(help: "Keep the recorder's strace-format log at this path (default: a temporary file, removed after import).")
    var log: String?

    @Option(help: "The recorder: ebpf (in the kernel, near full speed; root, BPF and BTF), strace, or auto (ebpf where this machine allows it, else strace with a note saying why).")
    var backend: RecordBackend = .auto

    @Flag(help: "Do not use --seccomp-bpf even where the kernel allows it.")
    var noSeccomp = false

    @Flag(help: "Do not pass -yy (socket addresses and paths as handler labels): its lookups can slow a socket-heavy program many times.")
    var noLabels = false

    @Flag(help: "Replace the trace file if it exists.")
    var force = false

    @Flag(help: "Print the findings as JSON instead of text (the program's standard output then goes to standard error).")
    var json = false

    @Option(name: .customLong("strace-arg"), parsing: .unconditionalSingleValue,
            help: "Pass one more option to strace (repeat for several), e.g. --strace-arg=-e --strace-arg=signal=none.")
    var straceArguments: [String] = []

    @Argument(parsing: .postTerminator, help: "The command to run, after --.")
    var command: [String] = []

    func validate() throws {
        if pid == nil && command.isEmpty { throw ValidationError("give a command after -- or --pid PID") }
        if pid != nil && !command.isEmpty { throw ValidationError("give either a command or --pid, not both") }
        if let seconds, seconds <= 0 { throw ValidationError("--seconds must be positive") }
        if seconds != nil && pid == nil { throw ValidationError("--seconds applies to --pid only") }
        if backend == .ebpf && asksForStrace {
            throw ValidationError("--no-seccomp, --no-labels and --strace-arg apply to --backend strace")
        }
    }

    /// An option only strace has: with `--backend auto`, it chooses strace.
    var asksForStrace: Bool { noSeccomp || noLabels || !straceArguments.isEmpty }

    func run() throws {
        if try EBPFRecording.runIfChosen(self) { return }
        guard let strace = StraceCommand.locate() else {
            throw ImportOutput.fail("strace is not installed (Debian: apt-get install strace)")
        }
        let logPath = log ?? FileManager.default.temporaryDirectory
            .appendingPathComponent("polltrace-record-\(getpid()).strace").path
        defer { if log == nil { try? FileManager.default.removeItem(atPath: logPath) } }

        var useSeccomp = false
        if pid == nil && !noSeccomp {
            useSeccomp = StraceCommand.seccompBPFWorks(strace: strace)
            if !useSeccomp {
                Console.err("note: this kernel does not let strace filter with --seccomp-bpf; recording without it (slower)\n")
            }
        }
        var arguments = StraceCommand.arguments(output: logPath, seccompBPF: useSeccomp, labels: !noLabels,
                                                extra: straceArguments)
        if let pid { arguments += ["-p", String(pid)] } else { arguments += ["--"] + command }

        // Ctrl-C, SIGTERM and SIGHUP stop the recording and still import the log
        // (see StraceRun for who gets which signal). With --json, standard output is
        // polltrace's alone: the program (and strace) write theirs to standard error.
        let run = try StraceRun.start(strace: strace, arguments: arguments, attached: pid != nil, stdoutToStderr: json)
        let (ending, stop) = run.wait(deadline: seconds.map { Date().addingTimeInterval($0) })
        // strace re-raises the SIGINT that made it detach, so a signal ending is normal
        // here; what matters is whether it wrote a log.
        guard FileManager.default.fileExists(atPath: logPath) else {
            throw ImportOutput.fail("strace failed (\(ending)); no log at \(logPath)")
        }
        if case .signal(let signal) = stop {
            Console.err("note: recording stopped by \(String(cString: strsignal(signal))); importing what strace captured\n")
        }
        if pid == nil, ending != .exited(0) {
            Console.err("note: the traced command ended with \(ending)\n")
        }
        try ImportOutput.importAndReport(log: logPath, trace: output, force: force, json: json)
    }
}
