import Foundation

/// Whether this machine lets the eBPF recorder run, and if not, why and what to do.
public enum EBPFAvailability {
    public struct Unavailable: Error, CustomStringConvertible {
        public var reason: String
        public var remedy: String
        public var description: String { "eBPF recording is unavailable: \(reason); \(remedy)" }
    }

    public static let tracefs = "/sys/kernel/tracing"
    public static let btf = "/sys/kernel/btf/vmlinux"

    /// Where bpftrace is, or nil.
    public static func locateBpftrace() -> String? {
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(dir)/bpftrace"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Checks each requirement in the order a user fixes them, mounting tracefs if
    /// it is not mounted; returns bpftrace's path.
    public static func check() throws -> String {
        guard geteuid() == 0 else {
            throw Unavailable(reason: "not running as root (loading BPF programs needs CAP_BPF and CAP_PERFMON)",
                              remedy: "run as root (sudo), or record with --backend strace")
        }
        guard let bpftrace = locateBpftrace() else {
            throw Unavailable(reason: "bpftrace is not installed",
                              remedy: "install it (Debian: apt-get install bpftrace), or record with --backend strace")
        }
        guard FileManager.default.fileExists(atPath: btf) else {
            throw Unavailable(reason: "the kernel has no BTF at \(btf)",
                              remedy: "use a kernel built with CONFIG_DEBUG_INFO_BTF, or record with --backend strace")
        }
        try mountTracefsIfNeeded()
        try probe(bpftrace)
        return bpftrace
    }

    /// The syscall tracepoints live in tracefs; mounts it when it is missing.
    public static func mountTracefsIfNeeded() throws {
        let events = "\(tracefs)/events/raw_syscalls"
        if FileManager.default.fileExists(atPath: events) { return }
        let status = run("/bin/mount", ["-t", "tracefs", "nodev", tracefs]).status
        guard status == 0, FileManager.default.fileExists(atPath: events) else {
            throw Unavailable(reason: "tracefs is not mounted at \(tracefs) and mounting it failed",
                              remedy: "mount it (mount -t tracefs nodev \(tracefs)), or record with --backend strace")
        }
    }

    /// Loads a trivial program: the kernel may still refuse BPF (lockdown, seccomp, a
    /// container without CAP_BPF).
    static func probe(_ bpftrace: String) throws {
        let (status, errors) = run(bpftrace, ["-e", "tracepoint:raw_syscalls:sys_enter /pid == 0/ { } BEGIN { exit(); }"])
        guard status == 0 else {
            let detail = errors.split(separator: "\n").filter { !$0.contains("RLIMIT_MEMLOCK") }.prefix(3).joined(separator: " / ")
            throw Unavailable(reason: "the kernel refused a BPF program (\(detail.isEmpty ? "bpftrace exit \(status)" : detail))",
                              remedy: "check that BPF is not locked down (kernel.unprivileged_bpf_disabled, lockdown, container capabilities), or record with --backend strace")
        }
    }

    static func run(_ executable: String, _ arguments: [String]) -> (status: Int32, errors: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "\(error)") }
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }
}
