import ArgumentParser
import CLinux
import EventPoller
import Foundation
import PollTraceCore
import PollTraceStore
import Synchronization

/// Echo ping-pong over loopback: the EventPoller's throughput with no recorder,
/// recording losslessly to SQLite, and with no recorder under strace.
///
/// Each run starts the echo server as a child process (this binary, `--serve`), so
/// the three ways differ only in what the server does: strace traces the server
/// process, exactly as a user would attach it, and the client load (in this
/// process) is the same every time. Ways are interleaved run by run, so drift in
/// the machine's load spreads over all three.
struct PollerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "poller",
        abstract: "Echo ping-pong throughput: no recorder vs recording to SQLite vs strace."
    )

    @Option(help: "Concurrent client connections.")
    var connections = 32

    @Option(help: "Round trips per connection.")
    var messages = 2_000

    @Option(help: "Bytes per message.")
    var messageBytes = 64

    @Option(help: "Runs of each way; the median is reported.")
    var runs = 3

    @Flag(help: "Skip the strace way.")
    var noStrace = false

    @Option(help: ArgumentHelp("Internal: serve echo in this process with this recorder.", visibility: .hidden))
    var serve: ServeMode?

    @Option(help: ArgumentHelp("Internal: the trace file for --serve record.", visibility: .hidden))
    var trace: String?

    enum ServeMode: String, ExpressibleByArgument, CaseIterable {
        case none, record, discard
    }

    enum Way: String, CaseIterable {
        case noRecorder = "no recorder"
        case recording = "recording (SQLite, lossless)"
        /// Not one of the three asked for: it splits recording's cost into the
        /// poller's own record sites and the store's SQLite work.
        case discarding = "recording, recorder discards"
        case strace = "no recorder, under strace"
    }

    func validate() throws {
        guard connections > 0, messages > 0, runs > 0 else { throw ValidationError("counts must be positive") }
        guard (1...65_536).contains(messageBytes) else { throw ValidationError("--message-bytes must be 1...65536") }
        guard connections <= 1_000, messages <= 1_000_000 else {
            throw ValidationError("the load is bounded: at most 1000 connections and 1000000 messages each")
        }
    }

    func run() throws {
        if let serve {
            try EchoServer.serve(mode: serve, tracePath: trace)
            return
        }
        var ways = Way.allCases
        if noStrace { ways.removeAll { $0 == .strace } }
        if ways.contains(.strace) && Self.findStrace() == nil {
            throw ValidationError("strace is not installed; install it or pass --no-strace")
        }
        print("machine: \(BenchMachine.describe())")
        print("command: polltrace-bench poller --connections \(connections) --messages \(messages) "
              + "--message-bytes \(messageBytes) --runs \(runs)\(noStrace ? " --no-strace" : "")")
        print("load: \(connections) connections x \(messages) round trips of \(messageBytes) bytes over 127.0.0.1\n")

        var results: [Way: [Double]] = [:]
        var cpu: [Way: [Double]] = [:]
        var loadCPU: [Way: [Double]] = [:]
        var loopThread: [Way: [Double]] = [:]
        var writerThread: [Way: [Double]] = [:]
        /// Each run's throughput of a way over the same run's no-recorder throughput:
        /// measured seconds apart, so the machine's load drifts less between them.
        var pairedRatios: [Way: [Double]] = [:]
        for run in 1...runs {
            // Rotate the order each run so no way always goes first.
            let order = (0..<ways.count).map { ways[($0 + run - 1) % ways.count] }
            var thisRun: [Way: Double] = [:]
            for way in order {
                let result = try measure(way)
                thisRun[way] = result.roundTripsPerSecond
                results[way, default: []].append(result.roundTripsPerSecond)
                cpu[way, default: []].append(result.serverCPUMicrosPerRoundTrip)
                if let load = result.loadCPUMicrosPerRoundTrip { loadCPU[way, default: []].append(load) }
                if let loop = result.loopThreadMicrosPerRoundTrip { loopThread[way, default: []].append(loop) }
                if let writer = result.writerThreadMicrosPerRoundTrip { writerThread[way, default: []].append(writer) }
                print("run \(run)  " + pad(way.rawValue)
                      + String(format: " %8.0f round trips/s  (%.2f s)  server CPU %.2f us/round trip",
                               result.roundTripsPerSecond, result.seconds, result.serverCPUMicrosPerRoundTrip)
                      + (result.loadCPUMicrosPerRoundTrip.map { String(format: " (load phase %.2f", $0) } ?? "")
                      + (result.loopThreadMicrosPerRoundTrip.map { String(format: ": loop thread %.3f", $0) } ?? "")
                      + (result.writerThreadMicrosPerRoundTrip.map { way == .recording ? String(format: ", writer thread %.3f", $0) : "" } ?? "")
                      + (result.loadCPUMicrosPerRoundTrip == nil ? "" : ")")
                      + result.note)
            }
            for way in ways { pairedRatios[way, default: []].append(thisRun[way]! / thisRun[.noRecorder]!) }
        }
        let baseline = median(results[.noRecorder] ?? [])
        let cpuBaseline = median(cpu[.noRecorder] ?? [])
        let loadCPUBaseline = median(loadCPU[.noRecorder] ?? [])
        print("\nmedian of \(runs) runs; ratios against no recorder (>1 is faster): of the medians | median of each run's own ratio")
        for way in ways {
            let value = median(results[way] ?? [])
            let cpuValue = median(cpu[way] ?? [])
            let loadValue = loadCPU[way].map(median)
            print("  " + pad(way.rawValue)
                  + String(format: " %8.0f round trips/s  ratio %.3fx | %.3fx   server CPU %.2f us/round trip  ratio %.3fx",
                           value, value / baseline, median(pairedRatios[way] ?? []), cpuValue, cpuBaseline / cpuValue)
                  + (loadValue.map { String(format: "   load phase %.2f us  ratio %.3fx", $0, loadCPUBaseline / $0) } ?? ""))
        }
        if let loops = loopThread[.noRecorder], let recordingLoops = loopThread[.recording],
           let writers = writerThread[.recording] {
            // Thread CPU hardly moves with the machine's load, so it shows what
            // recording costs when the throughput ratio is lost in the noise.
            print(String(format: "\nrecording's cost per round trip, by thread CPU (medians): loop thread %.3f us -> %.3f us (+%.3f), "
                         + "writer thread %.3f us; %.3fx of the no-recorder loop thread's CPU",
                         median(loops), median(recordingLoops), median(recordingLoops) - median(loops), median(writers),
                         median(loops) / (median(recordingLoops) + median(writers))))
        }
        let recordingRatio = median(pairedRatios[.recording] ?? [])
        let recordingCPURatio = cpuBaseline / median(cpu[.recording] ?? [])
        let recordingLoadRatio = loadCPUBaseline / median(loadCPU[.recording] ?? [])
        print(String(format: "\ngoal: recording >= 0.95x no recorder: throughput %@ (%.3fx, median per-run ratio); "
                     + "by server CPU during the load %@ (%.3fx); by whole-process server CPU, trace open and close included, %.3fx",
                     recordingRatio >= 0.95 ? "met" : "NOT met", recordingRatio,
                     recordingLoadRatio >= 0.95 ? "met" : "NOT met", recordingLoadRatio, recordingCPURatio))
        if let strace = pairedRatios[.strace] {
            print(String(format: "strace: %.3fx throughput, %.3fx server CPU", median(strace),
                         cpuBaseline / median(cpu[.strace] ?? [])))
        }
    }

    struct Measurement {
        var roundTripsPerSecond: Double
        var seconds: Double
        /// CPU the server side used (the server process with its writer thread, and
        /// strace for that way), per round trip. Unlike throughput, it hardly moves
        /// when other processes compete for the cores.
        var serverCPUMicrosPerRoundTrip: Double
        /// The server's own CPU from the moment it listens until every record of the
        /// load is committed: without starting the process, creating the trace and
        /// closing it (one-time costs, not throughput). Nil for strace.
        var loadCPUMicrosPerRoundTrip: Double?
        /// The loop thread's CPU alone (process start and the listener included, a
        /// few ms), and the trace writer thread's up to the last commit of the load:
        /// the two halves of what recording costs, steadier than throughput.
        var loopThreadMicrosPerRoundTrip: Double?
        var writerThreadMicrosPerRoundTrip: Double?
        var note: String
    }

    /// Starts a server child for `way`, drives the ping-pong against it, stops it.
    func measure(_ way: Way) throws -> Measurement {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("polltrace-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let tracePath = directory.appendingPathComponent("echo.trace").path
        let stracePath = directory.appendingPathComponent("echo.strace").path

        let server = Process()
        let selfPath = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        switch way {
        case .noRecorder:
            server.executableURL = URL(fileURLWithPath: selfPath)
            server.arguments = ["poller", "--serve", "none"]
        case .recording:
            server.executableURL = URL(fileURLWithPath: selfPath)
            server.arguments = ["poller", "--serve", "record", "--trace", tracePath]
        case .discarding:
            server.executableURL = URL(fileURLWithPath: selfPath)
            server.arguments = ["poller", "--serve", "discard"]
        case .strace:
            server.executableURL = URL(fileURLWithPath: Self.findStrace()!)
            server.arguments = ["-f", "--seccomp-bpf", "-e", "trace=epoll_wait,epoll_ctl,close", "-o", stracePath,
                                selfPath, "poller", "--serve", "none"]
        }
        let toServer = Pipe(), fromServer = Pipe()
        server.standardInput = toServer
        server.standardOutput = fromServer
        let cpuBefore = ProcessCPU.childrenSeconds()
        try server.run()
        var output = LineReader(handle: fromServer.fileHandleForReading)
        guard let portLine = output.nextLine(), portLine.hasPrefix("PORT "), let port = UInt16(portLine.dropFirst(5)) else {
            server.terminate()
            throw ValidationError("the echo server did not report its port (\(way.rawValue))")
        }
        let elapsed: Double
        do {
            elapsed = try EchoClients.run(port: port, connections: connections, messages: messages,
                                          messageBytes: messageBytes)
        } catch {
            server.terminate()
            throw error
        }
        // Closing the server's stdin tells it to stop, close its trace and report.
        try toServer.fileHandleForWriting.close()
        server.waitUntilExit()
        let report = output.rest()
        guard server.terminationStatus == 0 else {
            throw ValidationError("the echo server (\(way.rawValue)) exited with status \(server.terminationStatus)")
        }
        var note = ""
        var loadCPU: Double?
        var lines = report.split(separator: "\n").map(String.init)
        /// The words after `key` of the server's `KEY ...` line, removed from `lines`.
        func take(_ key: String) -> [Substring]? {
            guard let index = lines.firstIndex(where: { $0.hasPrefix(key + " ") }) else { return nil }
            return lines.remove(at: index).split(separator: " ").dropFirst().map { $0 }
        }
        let batches = take("BATCHES").flatMap { $0.first }.flatMap { Double($0) }
        var threadCPU: (loop: Double, writer: Double)?
        if let words = take("THREADCPU"), words.count == 2, let loop = Double(words[0]), let writer = Double(words[1]) {
            threadCPU = (loop, writer)
        }
        if let words = take("LOADCPU") {
            loadCPU = words.first.flatMap { Double($0) }
            if way == .recording, words.count >= 3, let close = Double(words[2]) { note += String(format: "  close %.0f ms CPU", close * 1000) }
        }
        if way == .recording || way == .discarding {
            let size = (try? FileManager.default.attributesOfItem(atPath: tracePath)[.size] as? Int) ?? 0
            note += "  \(lines.joined(separator: " ").trimmingCharacters(in: .whitespacesAndNewlines))"
                + (way == .recording ? ", \(size / 1_048_576) MiB" : "")
        } else if way == .strace {
            let lines = (try? String(contentsOfFile: stracePath, encoding: .utf8))?.split(separator: "\n").count ?? 0
            note = "  strace logged \(lines) lines"
        }
        let total = Double(connections * messages)
        if let batches, batches > 0 { note += String(format: "  %.1f events/wait", total / batches) }
        let serverCPU = ProcessCPU.childrenSeconds() - cpuBefore
        return Measurement(roundTripsPerSecond: total / elapsed, seconds: elapsed,
                           serverCPUMicrosPerRoundTrip: serverCPU * 1e6 / total,
                           loadCPUMicrosPerRoundTrip: way == .strace ? nil : loadCPU.map { $0 * 1e6 / total },
                           loopThreadMicrosPerRoundTrip: threadCPU.map { $0.loop * 1e6 / total },
                           writerThreadMicrosPerRoundTrip: threadCPU.map { $0.writer * 1e6 / total }, note: note)
    }

    static func findStrace() -> String? {
        ["/usr/bin/strace", "/bin/strace", "/usr/local/bin/strace"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    func pad(_ text: String) -> String {
        text + String(repeating: " ", count: max(0, 28 - text.count))
    }
}

/// The echo server: one guarded EventPoller on the main thread. It prints its port,
/// echoes until its stdin closes, then closes its trace and prints what it recorded.
fileprivate enum EchoServer {
    static func serve(mode: PollerBench.ServeMode, tracePath: String?) throws {
        var writer: TraceWriter?
        if mode == .record {
            guard let tracePath else { throw ValidationError("--serve record needs --trace PATH") }
            let metadata = TraceMetadata(pid: getpid(), program: "polltrace-bench poller", host: "localhost",
                                         startWallClockNs: UInt64(clinux_realtime_ns()),
                                         startMonotonicNs: UInt64(clinux_monotonic_ns()))
            writer = try TraceWriter(path: tracePath, metadata: metadata,
                                     options: TraceWriterOptions(mode: .lossless, overwrite: true))
        }
        let discarding = mode == .discard ? DiscardingRecorder() : nil
        let recorder: (any TraceRecorder)? = writer ?? discarding
        let poller = try EventPoller(id: 1, policy: .guarded, recorder: recorder, label: "echo")
        let listener = try poller.makeTCPListener()
        var buffer = [UInt8](repeating: 0, count: 65_536)
        try poller.register(fd: listener, interest: .readable, label: "echo-listener") { _, context in
            while let fd = try context.poller.accept(listenerFD: context.registration.fd) {
                try Linux.Socket.setNoDelay(fd)
                try context.poller.register(fd: fd, interest: .readable, label: "echo-connection") { _, context in
                    try echo(context, buffer: &buffer)
                }
            }
        }
        poller.adopt(fd: 0, origin: .reported)
        try poller.register(fd: 0, interest: .readable, label: "stdin") { _, context in context.poller.stop() }
        // Written straight to fd 1: stdout is a pipe, where print() would buffer it.
        let portLine = Array("PORT \(try Linux.Socket.localPort(listener))\n".utf8)
        let cpuAtStart = ProcessCPU.ownSeconds()  // after the trace file and its schema exist
        _ = try portLine.withUnsafeBytes { try Linux.FileDescriptor.write(fd: 1, from: $0) }
        try poller.run()
        if let writer {
            // The load's records are all committed before the CPU is read (sleeping
            // costs none); what close() adds after that, building the indexes and
            // checkpointing, is a one-time cost printed on its own.
            let recorded = writer.sequence.current
            while writer.statistics.highestSeqWritten < recorded && writer.statistics.lastError == nil { usleep(1_000) }
        }
        let cpuAtEnd = ProcessCPU.ownSeconds()
        // The loop ran on this thread; the writer's own thread reports its CPU.
        let loopCPU = ProcessCPU.threadSeconds()
        let writerCPU = Double(writer?.statistics.writerCPUNs ?? 0) / 1e9
        print("THREADCPU \(loopCPU) \(writerCPU)")
        print("BATCHES \(poller.harvestedBatchCount)")
        try poller.close()
        if let writer {
            try writer.close()
            print("LOADCPU \(cpuAtEnd - cpuAtStart) CLOSECPU \(ProcessCPU.ownSeconds() - cpuAtEnd)")
            print("\(writer.statistics.recordsWritten) records")
        } else {
            print("LOADCPU \(cpuAtEnd - cpuAtStart) CLOSECPU 0")
        }
        if let discarding { print("\(discarding.count) records") }
    }

    /// Reads what is there and writes it back; closes the connection at EOF.
    static func echo(_ context: HandlerContext, buffer: inout [UInt8]) throws {
        let fd = context.registration.fd
        let read = try buffer.withUnsafeMutableBytes { try Linux.FileDescriptor.read(fd: fd, into: $0) }
        guard case .processed(let count) = read else { return }
        if count == 0 {
            try context.poller.close(context.registration)
            return
        }
        try writeAll(fd: fd, buffer: buffer, count: count)
    }
}

/// Takes every record's sequence number like a real recorder and throws the record
/// away: what recording costs the poller itself, without the store.
fileprivate final class DiscardingRecorder: TraceRecorder, Sendable {
    let sequence = SequenceCounter()
    private let counter = Atomic<Int>(0)
    func pollerStarted(_ info: PollerInfo) {}
    func record(_ record: consuming TraceRecord) { counter.wrappingAdd(1, ordering: .relaxed) }
    var count: Int { counter.load(ordering: .relaxed) }
}

/// Writes `count` bytes, spinning on EAGAIN (bounded): the messages are small and
/// the peer reads promptly, so a full socket buffer means something is wrong.
private func writeAll(fd: Int32, buffer: [UInt8], count: Int) throws {
    var written = 0
    var spins = 0
    while written < count {
        let result = try buffer.withUnsafeBytes {
            try Linux.FileDescriptor.write(fd: fd, from: UnsafeRawBufferPointer(rebasing: $0[written..<count]))
        }
        switch result {
        case .processed(let n): written += n
        case .wouldBlock:
            spins += 1
            if spins > 1_000_000 { throw ValidationError("fd \(fd) stayed unwritable") }
        }
    }
}

/// The load: `connections` clients on one EventPoller (no recorder) in this process,
/// each sending a message and waiting for its echo, `messages` times.
fileprivate enum EchoClients {
    /// Returns the seconds from the first send to the last echo.
    static func run(port: UInt16, connections: Int, messages: Int, messageBytes: Int) throws -> Double {
        let poller = try EventPoller(id: 1, policy: .guarded, recorder: nil, label: "clients")
        defer { try? poller.close() }
        let message = [UInt8](repeating: 0x2a, count: messageBytes)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        var remaining = connections
        var sockets: [Int32] = []
        for _ in 0..<connections {
            let fd = try poller.connectTCP(port: port)
            sockets.append(fd)
            var received = 0
            var sent = 1
            try poller.register(fd: fd, interest: .readable, label: "client") { _, context in
                let read = try buffer.withUnsafeMutableBytes { try Linux.FileDescriptor.read(fd: fd, into: $0) }
                guard case .processed(let count) = read else { return }
                guard count > 0 else { throw ValidationError("the echo server closed a connection early") }
                received += count
                guard received == messageBytes else { return } // the rest of the echo is on its way
                received = 0
                if sent == messages {
                    try context.poller.close(context.registration)
                    remaining -= 1
                    if remaining == 0 { context.poller.stop() }
                } else {
                    sent += 1
                    try writeAll(fd: fd, buffer: message, count: messageBytes)
                }
            }
        }
        let start = clinux_monotonic_ns()
        for fd in sockets { try writeAll(fd: fd, buffer: message, count: messageBytes) }
        // Bounded in time: a stuck run fails instead of hanging the benchmark.
        let deadline = start + 300 * 1_000_000_000
        while remaining > 0 {
            try poller.runOnce(timeoutMs: 1_000)
            if clinux_monotonic_ns() > deadline { throw ValidationError("the ping-pong did not finish in 300 s") }
        }
        return Double(clinux_monotonic_ns() - start) / 1e9
    }
}

/// Reads a child's stdout line by line.
fileprivate struct LineReader {
    let handle: FileHandle
    var pending = Data()

    init(handle: FileHandle) { self.handle = handle }

    mutating func nextLine() -> String? {
        while true {
            if let newline = pending.firstIndex(of: 0x0a) {
                let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
                pending.removeSubrange(pending.startIndex...newline)
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            pending.append(chunk)
        }
    }

    mutating func rest() -> String {
        pending.append(handle.readDataToEndOfFile())
        return String(decoding: pending, as: UTF8.self)
    }
}
