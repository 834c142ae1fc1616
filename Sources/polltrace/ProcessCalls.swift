import Foundation
import Glibc

/// The process and signal system calls `record` makes, each a thin wrapper.
enum ProcessCalls {
    /// The signals that stop a recording. `record` blocks them and takes them with
    /// `waitForSignal`, so no handler runs at an arbitrary point.
    static let stopSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    static func blockStopSignals() {
        var set = signalSet(stopSignals)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Starts `path` with `arguments` in this process's own process group (so a
    /// terminal's Ctrl-C reaches it, as it would any foreground command), with
    /// default dispositions and no blocked signals: nothing `polltrace` ignores or
    /// blocks is inherited.
    /// `stdoutToStderr`: the child's standard output goes to our standard error (so
    /// that ours carries only what we print, such as `--json`).
    static func spawn(_ path: String, _ arguments: [String], stdoutToStderr: Bool = false) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if stdoutToStderr { posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO) }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = signalSet([])
        var defaults = signalSet(stopSignals + [SIGPIPE])
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let code = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard code == 0 else {
            throw ImportOutput.fail("cannot run \(path): \(String(cString: strerror(code)))")
        }
        return pid
    }

    /// How a child ended, once it has; nil while it runs.
    enum Ending: Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        var description: String {
            switch self {
            case .exited(let status): "status \(status)"
            case .signalled(let signal): "signal \(signal) (\(String(cString: strsignal(signal))))"
            }
        }
    }

    static func reap(_ pid: pid_t) -> Ending? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == 0 { return nil }
            if result < 0 {
                if errno == EINTR { continue }
                return .exited(-1)  // not our child any more: treat as gone
            }
            // WIFEXITED / WEXITSTATUS / WTERMSIG, spelled out (they are macros).
            if status & 0x7F == 0 { return .exited((status >> 8) & 0xFF) }
            return .signalled(status & 0x7F)
        }
    }

    /// Waits up to `milliseconds` for one of the blocked stop signals. Returns the
    /// signal and whether a process sent it with kill(2) (`SI_USER`/`SI_QUEUE`),
    /// rather than the terminal to the whole foreground group.
    static func waitForSignal(milliseconds: Int) -> (signal: Int32, sentByKill: Bool)? {
        var set = signalSet(stopSignals)
        var info = siginfo_t()
        var timeout = timespec(tv_sec: milliseconds / 1000, tv_nsec: (milliseconds % 1000) * 1_000_000)
        let received = sigtimedwait(&set, &info, &timeout)
        guard received > 0 else { return nil }
        return (received, info.si_code == SI_USER || info.si_code == SI_QUEUE)
    }

    static func send(_ signal: Int32, to pid: pid_t) { _ = kill(pid, signal) }

    static func isAlive(_ pid: pid_t) -> Bool { kill(pid, 0) == 0 }

    /// The children of `parent`, from /proc (the traced program is strace's child).
    static func children(of parent: pid_t) -> [pid_t] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        var found: [pid_t] = []
        for entry in entries {
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "pid (comm) ": state, then ppid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 1, pid_t(fields[1]) == parent { found.append(pid) }
        }
        return found
    }

    private static func signalSet(_ signals: [Int32]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        return set
    }
}
