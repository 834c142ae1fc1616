import PollTraceDaemon
import ArgumentParser
import Foundation
import Glibc

/// Opens many TCP connections to one service and holds them, to measure how many
/// the daemon keeps at once. The daemon's own count (`GET /api/stats`) is reported
/// beside ours, so a connection the kernel queued but the daemon never accepted
/// does not count as held.
struct HoldMode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hold",
        abstract: "Open up to --count concurrent TCP connections to one service and hold them."
    )

    @OptionGroup var options: LoadOptions

    @Option(help: "Seconds to hold the connections once opened (within --duration).")
    var hold: Double = 5

    func run() throws {
        let limit = LoopbackSocket.raiseOpenFileLimit()
        let control = ControlClient(port: options.controlPort)
        guard let opened = control.request("POST", "/api/rtp/open"), let port = opened.port else {
            throw ValidationError("could not open a service on the control API at 127.0.0.1:\(options.controlPort)")
        }
        let bounds = options.bounds
        let wanted = min(options.count, Int(limit) - 64)
        var fds: [Int32] = []
        fds.reserveCapacity(wanted)
        var errors = 0
        let started = monotonicSeconds()
        while fds.count < wanted, !bounds.timeIsUp, errors < 100 {
            switch LoopbackSocket.connectTCP(port: port, timeoutMs: 1000) {
            case .success(let fd): fds.append(fd)
            case .failure: errors += 1
            }
        }
        // Give the daemon a moment to accept what the kernel queued, then ask it.
        var daemonHeld = 0
        let holdUntil = monotonicSeconds() + min(hold, max(0, options.duration - (monotonicSeconds() - started)))
        repeat {
            if let stats = control.request("GET", "/api/stats"),
               let object = try? JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any],
               let connections = object["connections"] as? [String: Any], let current = connections["current"] as? Int {
                daemonHeld = max(daemonHeld, current)
            }
            usleep(200_000)
        } while monotonicSeconds() < holdUntil
        for fd in fds { LoopbackSocket.close(fd, abortive: true) }
        _ = control.request("POST", "/api/rtp/close", body: #"{"port": \#(port)}"#)
        let counters = LoadCounters()
        counters.operations.store(fds.count, ordering: .relaxed)
        counters.errors.store(errors, ordering: .relaxed)
        printResult(mode: "hold", counters: counters, seconds: monotonicSeconds() - started, extra: [
            ("held", "\(fds.count)"), ("daemon_current_connections_peak", "\(daemonHeld)"), ("nofile_limit", "\(limit)"),
        ])
    }
}
