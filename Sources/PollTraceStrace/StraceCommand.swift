import Foundation

/// The strace command line the importer needs, for `polltrace record` and the tests.
public enum StraceCommand {
    /// Only the calls the analysis uses: every fd call (`%desc`, `%network`), the
    /// epoll calls, and the process calls that decide who shares an fd table.
    public static let traceSet =
        "trace=%desc,%network,epoll_create,epoll_create1,epoll_ctl,epoll_wait,epoll_pwait,epoll_pwait2,"
        + "close,close_range,clone,clone3,fork,vfork,unshare,execve"

    /// `-f` follows threads and children (and is required by `--seccomp-bpf`); `-q`
    /// drops attach/detach chatter but keeps exit lines; `-ttt -T` time each call;
    /// `-yy` annotates every fd with its socket's addresses or its file's path, which
    /// become the registrations' handler labels; `-s 512` keeps epoll_wait arrays
    /// whole (strace cuts arrays at the string limit) without copying much payload
    /// into the log. `extra` goes before `-o`, so it can add options but not replace
    /// the log. `labels: false` drops `-yy`: strace looks every socket up over
    /// netlink for it, which made a socket-heavy test loop about 20 times slower.
    public static func arguments(output: String, seccompBPF: Bool, labels: Bool = true, extra: [String] = []) -> [String] {
        var args = ["-f", "-q", "-ttt", "-T"] + (labels ? ["-yy"] : []) + ["-s", "512", "-e", traceSet] + extra
            + ["-o", output]
        if seccompBPF { args.insert("--seccomp-bpf", at: 0) }
        return args
    }

    /// Where strace is, or nil.
    public static func locate() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/strace"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Whether this kernel lets strace filter with seccomp-bpf: tries it on `/bin/true`
    /// and looks for strace's warning that it fell back.
    public static func seccompBPFWorks(strace: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: strace)
        process.arguments = ["--seccomp-bpf", "-f", "-e", "trace=close", "-o", "/dev/null", "/bin/true"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return false }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return process.terminationStatus == 0 && !text.contains("seccomp")
    }
}
