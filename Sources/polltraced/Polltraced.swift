import ArgumentParser
import Foundation
import Logging
import PollTraceCore
import PollTraceDaemon
import PollTraceStore
import ServiceLifecycle

/// The tracing daemon: a control API that opens and closes RTP-style services on an
/// epoll loop, recording the loop to traces/.
@main
struct Polltraced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "polltraced",
        abstract: "Run a media-server-shaped service on EventPoller and record its event loop to a trace.",
        discussion: """
        Control API (JSON over HTTP/1.1): POST /api/rtp/open, POST /api/rtp/close, \
        GET /api/rtp, GET /api/stats, POST /api/trace/rotate; GET /metrics in the \
        Prometheus text format. See docs/daemon.md and docs/fleet.md. \
        SIGINT, SIGTERM and SIGHUP finish the trace and exit 0.
        """
    )

    @Option(help: "Address of the control API and services. Loopback unless you ask for another explicitly.")
    var address = "127.0.0.1"

    @Option(help: "Control API port (0 picks a free one and logs it).")
    var port: UInt16 = 8086

    @Option(help: "Event loop threads.")
    var pollers = 1

    @Option(help: "Dispatch policy: naive reproduces the seed bug, snapshot is select-style, guarded is the fix.")
    var dispatch: DispatchPolicy = .guarded

    @Option(help: "lossless waits for the trace writer; drop never waits and records gaps; off records nothing.")
    var traceMode: TraceModeArgument = .lossless

    @Option(help: ArgumentHelp(
        "What a finished trace file holds: tables (the v7 tables, ready for SQL) or recording (the compact form).",
        discussion: """
            tables is about 100 bytes a record: the writer makes the v7 tables, with the \
            replay's verdicts and findings, when it finishes a file (on rotation, on a \
            background thread). recording is about 18 bytes a record and costs nothing \
            at the end: analyze, verify, stats, timeline and report read it as it is, and \
            `polltrace finalize FILE -o NEW` makes the v7 tables of any file you want to \
            query with SQL. The loop records the same way either way; tables spends \
            2-3 us of CPU a record when each file is finished.
            """))
    var traceForm: TraceSettings.FileForm = .tables

    @Option(help: ArgumentHelp(
        "The trace writer's CPU priority: normal, idle (Linux SCHED_IDLE), or adaptive.",
        discussion: """
            idle lets the writer run only on CPU the daemon's pollers and other normal \
            threads leave over, so it does not delay their wake-ups. But when other programs keep \
            every core busy the idle writer gets almost nothing: drop then loses most \
            records (as gap records), and lossless slows the loop to the writer's pace. \
            adaptive is idle until a poller's trace buffer is half full, then normal until \
            the writer has caught up, so it never stalls or drops like idle; it needs \
            CAP_SYS_NICE (root) to move the writer back, and without it stays normal \
            (/api/stats says why). Neither idle nor adaptive measurably raised throughput \
            over normal in the flood benchmark of tools/bench-daemon.sh.
            """))
    var writerPriority: WriterPriority = .normal

    @Option(help: "Directory for trace files.")
    var traceDir = "traces"

    // Named explicitly: derived from the property, the flag was `--rotate-mi-b`,
    // not the `--rotate-mib` that docs/daemon.md and the error below say.
    @Option(name: .customLong("rotate-mib"), help: "Start a new trace file when the current one reaches this many MiB.")
    var rotateMiB: Double?

    @Option(help: "Start a new trace file when the current one is this many seconds old.")
    var rotateSeconds: Double?

    @Option(help: "Finished trace files to keep besides the current one (older ones are deleted).")
    var retain: Int?

    @Option(help: "Live connections (control and RTP) past which new ones are refused.")
    var maxConnections = 1024

    @Option(help: "Milliseconds a control client has, from the first byte of a request, to send all of it before it gets 408.")
    var requestTimeoutMs = 5_000

    @Option(help: "Live control connections from one client address past which new ones from it get 503.")
    var maxConnectionsPerPeer = 128

    @Option(help: ArgumentHelp(
        "A file holding the access token control clients must send as 'Authorization: Bearer <token>'.",
        discussion: "Required when --address is not loopback (127.x.x.x); optional otherwise. At least 16 printable characters, e.g. from `openssl rand -hex 16`."))
    var tokenFile: String?

    @Option(help: "Milliseconds an idle kept-alive control connection stays open.")
    var idleTimeoutMs = 30_000

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel = "info"

    func validate() throws {
        var probe = in_addr()
        guard inet_pton(AF_INET, address, &probe) == 1 else {
            throw ValidationError("--address '\(address)' is not an IPv4 address")
        }
        guard (1...64).contains(pollers) else { throw ValidationError("--pollers must be in 1...64") }
        guard maxConnections >= 1 else { throw ValidationError("--max-connections must be at least 1") }
        guard maxConnectionsPerPeer >= 1 else { throw ValidationError("--max-connections-per-peer must be at least 1") }
        if tokenFile == nil, !Self.isLoopback(address) {
            throw ValidationError("--address \(address) is not loopback: give --token-file, so that only clients with the token can use the control API")
        }
        if let rotateMiB, rotateMiB <= 0 { throw ValidationError("--rotate-mib must be positive") }
        if let rotateSeconds, rotateSeconds <= 0 { throw ValidationError("--rotate-seconds must be positive") }
        if let retain, retain < 0 { throw ValidationError("--retain must be 0 or more") }
        guard requestTimeoutMs > 0, idleTimeoutMs > 0 else { throw ValidationError("timeouts must be positive") }
        guard Logger.Level(rawValue: logLevel) != nil else { throw ValidationError("--log-level '\(logLevel)' is not a level") }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: logLevel) ?? .info
            return handler
        }
        let logger = Logger(label: "polltraced")
        signal(SIGPIPE, SIG_IGN)
        let nofile = raiseOpenFileLimit()
        if address != "127.0.0.1" {
            logger.warning("listening on \(address), not loopback, because --address asked for it")
        }

        var configuration = DaemonConfiguration()
        configuration.address = address
        configuration.controlPort = port
        configuration.pollers = pollers
        configuration.dispatch = dispatch
        configuration.maxConnections = maxConnections
        configuration.requestTimeoutMs = requestTimeoutMs
        configuration.maxConnectionsPerPeer = maxConnectionsPerPeer
        if let tokenFile {
            do {
                configuration.accessToken = try Self.readToken(tokenFile)
            } catch {
                FileHandle.standardError.write(Data("polltraced: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
        configuration.idleTimeoutMs = idleTimeoutMs
        if traceMode == .off {
            configuration.trace = nil
        } else {
            let rotation = RotationPolicy(maxBytes: rotateMiB.map { Int64($0 * 1_048_576) },
                                          maxAgeSeconds: rotateSeconds, retain: retain)
            configuration.trace = TraceSettings(directory: traceDir, mode: traceMode == .drop ? .drop : .lossless,
                                                rotation: rotation, writerPriority: writerPriority, fileForm: traceForm)
        }
        if maxConnections + 64 > nofile {
            logger.warning("--max-connections \(maxConnections) is above the open-file limit \(nofile); accepts will fail first")
        }

        // Set up before the service group runs, so a taken port or an unusable
        // trace directory is one clear line and exit 1, not a lifecycle error.
        let daemon: PollTraceDaemon
        do {
            daemon = try PollTraceDaemon(configuration: configuration, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("polltraced: \(error)\n".utf8))
            throw ExitCode.failure
        }
        do {
            try daemon.setUp()
        } catch {
            try? await daemon.stopWithoutBlocking()
            FileHandle.standardError.write(Data("polltraced: \(error)\n".utf8))
            throw ExitCode.failure
        }
        let group = ServiceGroup(services: [DaemonService(daemon: daemon)],
                                 gracefulShutdownSignals: [.sigterm, .sigint, .sighup], logger: logger)
        try await group.run()
    }

    static func isLoopback(_ address: String) -> Bool {
        var probe = in_addr()
        guard inet_pton(AF_INET, address, &probe) == 1 else { return false }
        return UInt32(bigEndian: probe.s_addr) >> 24 == 127
    }

    /// Reads and checks the token file: one line of at least 16 printable characters.
    static func readToken(_ path: String) throws -> AccessToken {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("--token-file \(path): cannot read it")
        }
        guard let token = AccessToken(fileContents: Array(data)), token.isLongEnough else {
            throw ValidationError("--token-file \(path): the token must be one word of at least \(AccessToken.minimumLength) printable characters")
        }
        return token
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit, for many concurrent connections.
    private func raiseOpenFileLimit() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        _ = getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(clamping: limit.rlim_cur)
    }
}

enum TraceModeArgument: String, ExpressibleByArgument, CaseIterable {
    case lossless, drop, off
}

extension DispatchPolicy: ExpressibleByArgument {}
extension WriterPriority: ExpressibleByArgument {}
extension TraceSettings.FileForm: ExpressibleByArgument {}
