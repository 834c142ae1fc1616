import Foundation
import PollTraceStrace
#if canImport(Glibc)
import Glibc
#endif

/// What recording costs the traced program: redis-benchmark PING throughput against
/// redis-server untraced (the baseline), under strace with `polltrace record`'s
/// flags and `--seccomp-bpf`, and under the same flags without it.
enum StraceCost {
    static func measure(runs: Int, requests: Int) throws {
        say("\nstrace's own cost (redis-benchmark PING_INLINE, 50 clients, \(requests) requests):")
        guard let strace = StraceCommand.locate(),
              let server = which("redis-server"), let benchmark = which("redis-benchmark") else {
            say("  skipped: needs strace, redis-server and redis-benchmark (Debian: strace redis-server redis-tools)")
            return
        }
        let seccomp = StraceCommand.seccompBPFWorks(strace: strace)
        var variants: [(String, [String]?)] = [("untraced", nil)]
        if seccomp { variants.append(("strace --seccomp-bpf", [strace] + StraceCommand.arguments(output: "/dev/null", seccompBPF: true))) }
        else { say("  note: this kernel does not allow --seccomp-bpf") }
        variants.append(("strace (ptrace only)", [strace] + StraceCommand.arguments(output: "/dev/null", seccompBPF: false)))
        for keepAlive in [true, false] {
            say(keepAlive ? "  keep-alive connections:" : "  a new connection per request (churn, -k 0):")
            var baseline: Double?
            for (name, prefix) in variants {
                var rates: [Double] = []
                for run in 1...runs {
                    let rate = try oneRun(server: server, benchmark: benchmark, prefix: prefix, requests: keepAlive ? requests : requests / 5,
                                          keepAlive: keepAlive)
                    rates.append(rate)
                    say(String(format: "    %-22@ run %d: %.0f requests/s", name as NSString, run, rate))
                }
                let median = rates.sorted()[rates.count / 2]
                if baseline == nil { baseline = median }
                say(String(format: "    %-22@ median: %.0f requests/s, %.2f of untraced", name as NSString, median,
                             median / (baseline ?? median)))
            }
        }
    }

    static func which(_ name: String) -> String? {
        ["/usr/bin/", "/usr/sbin/", "/usr/local/bin/"].map { $0 + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    private static func oneRun(server: String, benchmark: String, prefix: [String]?, requests: Int, keepAlive: Bool) throws -> Double {
        let port = 16_000 + Int(getpid() % 2000) + Int.random(in: 0..<1000)
        let dir = FileManager.default.temporaryDirectory.path
        let redis = Process()
        let serverArgs = [server, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                          "--dir", dir, "--loglevel", "warning"]
        let command = (prefix ?? []) + serverArgs
        redis.executableURL = URL(fileURLWithPath: command[0])
        redis.arguments = Array(command.dropFirst())
        redis.standardOutput = FileHandle.nullDevice
        redis.standardError = FileHandle.nullDevice
        try redis.run()
        defer {
            // strace ignores SIGINT and SIGTERM while it runs a command, so stop the
            // server itself: ask it to shut down, and kill it (the tracee) if it won't.
            _ = send(port: UInt16(port), "SHUTDOWN NOSAVE\r\n")
            var deadline = Date().addingTimeInterval(10)
            while redis.isRunning && Date() < deadline { usleep(20_000) }
            if redis.isRunning {
                for child in Tracee.children(of: redis.processIdentifier) { kill(child, SIGKILL) }
                kill(redis.processIdentifier, SIGKILL)
                deadline = Date().addingTimeInterval(10)
                while redis.isRunning && Date() < deadline { usleep(20_000) }
            }
        }
        // Wait (bounded) until it listens. (redis-benchmark -n 1 can spin forever, so
        // a plain connect is the probe.)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !accepts(port: UInt16(port)) { usleep(50_000) }
        let result = run(benchmark, ["-p", String(port), "-n", String(requests), "-c", "50", "-k", keepAlive ? "1" : "0",
                                     "-t", "ping_inline", "--csv"], timeout: 120)
        // CSV: "test","rps",...  then "PING_INLINE","71428.57",...
        for line in result.output.split(separator: "\n") where line.hasPrefix("\"PING_INLINE\"") {
            let fields = line.split(separator: ",").map { $0.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
            if fields.count > 1, let rate = Double(fields[1]) { return rate }
        }
        throw CocoaError(.featureUnsupported, userInfo: [NSLocalizedDescriptionKey: "redis-benchmark printed no rate: \(result.output)"])
    }

    /// Connects and sends `text`; true if it was sent.
    private static func send(port: UInt16, _ text: String) -> Bool {
        guard let fd = connected(port: port) else { return false }
        defer { close(fd) }
        let bytes = Array(text.utf8)
        return write(fd, bytes, bytes.count) == bytes.count
    }

    private static func accepts(port: UInt16) -> Bool {
        guard let fd = connected(port: port) else { return false }
        close(fd)
        return true
    }

    private static func connected(port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        if !ok { close(fd); return nil }
        return fd
    }

    /// Runs a command, killing it after `timeout` seconds so a benchmark cannot hang.
    private static func run(_ executable: String, _ arguments: [String], timeout: TimeInterval) -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return (-1, "") }
        let watchdog = DispatchWorkItem { if process.isRunning { process.terminate() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
