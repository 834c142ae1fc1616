import Foundation

/// Whether this machine lets the eBPF recorder run, and if not, why and what to do.
public enum EBPFAvailability {
    public struct Unavailable: Error, CustomStringConvertible {
        public var reason: String
        public var remedy: String
        public var description: String {
            "eBPF recording is unavailable: \(reason)" + (remedy.isEmpty ? "" : "; \(remedy)")
        }
    }

    public static let btf = "/sys/kernel/btf/vmlinux"
    static let libbpfHeader = "/usr/include/bpf/bpf_helpers.h"
    /// The loader's name: an executable product of this package, installed beside `polltrace`.
    public static let loaderName = "polltrace-ebpf"

    /// The loader: `POLLTRACE_EBPF_LOADER`, else beside the running executable, else on PATH.
    public static func locateLoader() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["POLLTRACE_EBPF_LOADER"], !path.isEmpty {
            return FileManager.default.isExecutableFile(atPath: path) ? path : nil
        }
        var dirs: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            dirs.append((exe as NSString).deletingLastPathComponent)
        }
        dirs += (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map(String.init)
        return dirs.map { "\($0)/\(loaderName)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// The clang the loader will run: `POLLTRACE_BPF_CLANG`, else `clang` on PATH.
    static func locateClang() -> String? {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["POLLTRACE_BPF_CLANG"], !path.isEmpty { return path }
        return (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/clang" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Checks each requirement in the order a user fixes them, then has the loader
    /// compile and load its program (the kernel may still refuse it); returns the
    /// loader's path. Syscall tracepoints are attached through BTF (`tp_btf`), so
    /// tracefs need not be mounted.
    public static func check() throws -> String {
        guard geteuid() == 0 else {
            throw Unavailable(reason: "not running as root (loading BPF programs needs CAP_BPF and CAP_PERFMON)",
                              remedy: "run as root (sudo), or record with --backend strace")
        }
        guard FileManager.default.fileExists(atPath: btf) else {
            throw Unavailable(reason: "the kernel has no BTF at \(btf)",
                              remedy: "use a kernel built with CONFIG_DEBUG_INFO_BTF, or record with --backend strace")
        }
        guard let loader = locateLoader() else {
            throw Unavailable(reason: "\(loaderName) (the eBPF loader built with polltrace) is neither beside polltrace nor on PATH",
                              remedy: "install it beside polltrace (swift build builds both; it needs libbpf-dev), or set POLLTRACE_EBPF_LOADER, or record with --backend strace")
        }
        guard locateClang() != nil else {
            throw Unavailable(reason: "clang is not installed (it compiles the BPF program where it runs)",
                              remedy: "install it (Debian: apt-get install clang), or set POLLTRACE_BPF_CLANG, or record with --backend strace")
        }
        guard FileManager.default.fileExists(atPath: libbpfHeader) else {
            throw Unavailable(reason: "libbpf's headers are not installed (\(libbpfHeader))",
                              remedy: "install them (Debian: apt-get install libbpf-dev), or record with --backend strace")
        }
        let (status, errors) = run(loader, ["--check"])
        guard status == 0 else {
            let detail = errors.split(separator: "\n").first.map { $0.replacingOccurrences(of: "polltrace-ebpf: ", with: "") }
            // The loader's message names the cause and what to do.
            throw Unavailable(reason: detail ?? "\(loaderName) --check failed with status \(status)", remedy: "")
        }
        return loader
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
