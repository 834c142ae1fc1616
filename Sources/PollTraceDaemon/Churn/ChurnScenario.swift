import Foundation
import Glibc
import PollTraceCore
import Synchronization

/// The seed's churn against a running daemon, from threads of this process:
/// control workers replace services (close one, open one) while sprayers keep the
/// services' UDP sockets readable and connectors make their listeners accept.
///
/// A replacement makes four fds ready back to back, in the seed's order, usually
/// before the daemon's next `epoll_wait`: a close request on one control
/// connection, a TCP connect to another service, an open request on a second
/// control connection, and a datagram to the service being closed. In that batch
/// the close frees the service's listener and UDP numbers, the accept takes the
/// lower one, the new service's listener takes the old UDP socket's number, and the
/// datagram's event for the old UDP socket is still pending: the seed exactly.
///
/// Bounded by `maxOperations` and `seconds`, whichever comes first. 127.0.0.1 only.
public struct ChurnScenario: Sendable {
    public var controlPort: UInt16
    public var seconds: Double
    public var maxOperations: Int
    public var controlWorkers = 2
    public var servicesPerWorker = 3
    public var sprayers = 1
    public var connectors = 1
    /// Control connection pairs each worker rotates through.
    public var connectionPairsPerWorker = 8
    /// Pause between rounds of the sprayers and connectors over all live services.
    public var sideLoadPauseMicroseconds = 20_000

    public init(controlPort: UInt16, seconds: Double, maxOperations: Int = 1_000_000) {
        self.controlPort = controlPort; self.seconds = seconds; self.maxOperations = maxOperations
    }

    public struct Result: Sendable {
        public var replacements = 0
        public var failures = 0
        public var datagrams = 0
        public var connections = 0
        public var seconds = 0.0
    }

    /// Runs the churn and returns when it is done; every service it opened is closed.
    public func run() -> Result {
        let started = MonotonicClock.nowNs()
        let deadline = started + UInt64(seconds * 1e9)
        let claimed = Atomic<Int>(0)
        let replacements = Atomic<Int>(0)
        let failures = Atomic<Int>(0)
        let datagrams = Atomic<Int>(0)
        let connections = Atomic<Int>(0)
        let workersDone = Atomic<Int>(0)
        let live = Mutex<[UInt16]>([])
        let scenario = self
        let threadCount = controlWorkers + sprayers + connectors
        var threads: [NamedThread] = []

        @Sendable func timeIsUp() -> Bool { MonotonicClock.nowNs() >= deadline }

        for index in 0..<threadCount {
            let thread = try? NamedThread(name: "churn-\(index)") {
                if index < scenario.controlWorkers {
                    defer { workersDone.wrappingAdd(1, ordering: .relaxed) }
                    // Two connections per worker: the seed's "handler of fd 10" (close)
                    // and "handler of fd 11" (open) are different fds of one batch.
                    // A pool of pairs, used in turn: one keep-alive connection busy in
                    // every batch would look like a spin to the analyzer's heuristic.
                    let pairs = (0..<scenario.connectionPairsPerWorker).map { _ in
                        (ChurnControlClient(port: scenario.controlPort), ChurnControlClient(port: scenario.controlPort))
                    }
                    var closer = pairs[0].0, opener = pairs[0].1
                    let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                    defer { Glibc.close(udp) }
                    var mine: [UInt16] = []
                    var turn = index
                    while !timeIsUp(), claimed.wrappingAdd(1, ordering: .relaxed).newValue <= scenario.maxOperations {
                        guard mine.count >= scenario.servicesPerWorker else {
                            guard let opened = opener.send([("POST", "/api/rtp/open", "{}")]).flatMap({ ChurnControlClient.port(in: $0[0].1) }) else {
                                failures.wrappingAdd(1, ordering: .relaxed)
                                continue
                            }
                            mine.append(opened)
                            live.withLock { $0.append(opened) }
                            continue
                        }
                        turn += 1
                        (closer, opener) = pairs[turn % pairs.count]
                        let victim = mine.remove(at: turn % mine.count)
                        live.withLock { $0.removeAll { $0 == victim } }
                        // Make three fds ready back to back, in the seed's order: the
                        // close request, the open request, then the victim's UDP socket.
                        closer.write([("POST", "/api/rtp/close", #"{"port": \#(victim)}"#)])
                        // A connection to another service: its accept, between the
                        // close and the open, takes the lowest freed number (the old
                        // listener's), so the new listener gets the old UDP socket's.
                        let peer = mine.isEmpty ? nil : try? LoopbackSocket.connectTCP(port: mine[turn % mine.count]).get()
                        if peer != nil { connections.wrappingAdd(1, ordering: .relaxed) }
                        defer { if let peer { Glibc.close(peer) } }
                        opener.write([("POST", "/api/rtp/open", "{}")])
                        _ = LoopbackSocket.sendDatagram(udp, port: victim, [0x80, 0x60, 0, 1])
                        datagrams.wrappingAdd(1, ordering: .relaxed)
                        let closed = closer.readResponses(1)
                        let opened = opener.readResponses(1).flatMap { ChurnControlClient.port(in: $0[0].1) }
                        if closed?.first?.0 != 200 { failures.wrappingAdd(1, ordering: .relaxed) }
                        guard let opened else {
                            failures.wrappingAdd(1, ordering: .relaxed)
                            continue
                        }
                        mine.append(opened)
                        live.withLock { $0.append(opened) }
                        replacements.wrappingAdd(1, ordering: .relaxed)
                    }
                    for port in mine { _ = closer.send([("POST", "/api/rtp/close", #"{"port": \#(port)}"#)]) }
                    live.withLock { list in list.removeAll { mine.contains($0) } }
                } else {
                    let spraying = index < scenario.controlWorkers + scenario.sprayers
                    let udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
                    defer { Glibc.close(udp) }
                    var rounds = 0
                    while workersDone.load(ordering: .relaxed) < scenario.controlWorkers, !timeIsUp(), rounds < 10_000_000 {
                        rounds += 1
                        let ports = live.withLock { $0 }
                        if ports.isEmpty { usleep(100); continue }
                        for port in ports {
                            if spraying {
                                _ = LoopbackSocket.sendDatagram(udp, port: port, [0x80, 0x60, 0, 1])
                                datagrams.wrappingAdd(1, ordering: .relaxed)
                            } else if let fd = try? LoopbackSocket.connectTCP(port: port).get() {
                                Glibc.close(fd)
                                connections.wrappingAdd(1, ordering: .relaxed)
                            }
                        }
                        // Paced: a socket busy in every batch would look like a spin to
                        // the analyzer's heuristic; the interleaving does not need it.
                        usleep(useconds_t(scenario.sideLoadPauseMicroseconds))
                    }
                }
            }
            // A thread that cannot start is a failed run of its part of the churn.
            if let thread { threads.append(thread) } else { failures.wrappingAdd(1, ordering: .relaxed) }
        }
        for thread in threads { thread.join() }
        var result = Result()
        result.replacements = replacements.load(ordering: .relaxed)
        result.failures = failures.load(ordering: .relaxed)
        result.datagrams = datagrams.load(ordering: .relaxed)
        result.connections = connections.load(ordering: .relaxed)
        result.seconds = Double(MonotonicClock.nowNs() - started) / 1e9
        return result
    }
}
