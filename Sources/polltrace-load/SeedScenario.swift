import PollTraceDaemon
import ArgumentParser
import Synchronization
import Glibc

/// The seed's conditions, compressed: several control connections closing and
/// re-opening services at once, while datagrams keep the services' UDP sockets
/// readable and TCP connects make their listeners accept. A close (freeing fd N)
/// and an open or accept (reusing N) then land in the same epoll batch as a
/// pending event for the old N often enough to show within seconds.
struct SeedScenario: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed",
        abstract: "Churn that makes the seed's close/reuse interleaving likely within seconds."
    )

    @OptionGroup var options: LoadOptions

    @Option(help: "Services each control worker keeps open while churning.")
    var services = 4

    @Option(help: "Threads spraying UDP datagrams at the live services.")
    var sprayers = 1

    @Option(help: "Threads making short TCP connections to the live services.")
    var connectors = 1

    func run() throws {
        let counters = LoadCounters()
        let bounds = options.bounds
        let controlPort = options.controlPort
        let workers = options.workers
        let perWorker = max(1, services)
        let live = Mutex<[UInt16]>([])
        let controlDone = Atomic<Int>(0)
        let started = monotonicSeconds()
        runWorkers(workers + sprayers + connectors) { index in
            if index < workers {
                // Control worker: keep `perWorker` services and replace one per
                // operation. A replacement writes the close on one connection, the
                // open on another and a datagram to the closing service back to
                // back: three fds ready in the seed's order before the next batch.
                // Pairs are used in turn, so no connection is busy in every batch.
                defer { controlDone.wrappingAdd(1, ordering: .relaxed) }
                let pairs = (0..<8).map { _ in (ControlClient(port: controlPort), ControlClient(port: controlPort)) }
                let client = pairs[0].0
                let udp = LoopbackSocket.makeUDP()
                defer { LoopbackSocket.close(udp) }
                var mine: [UInt16] = []
                var turn = index
                while counters.claim(bounds) {
                    guard mine.count >= perWorker else {
                        guard let opened = client.request("POST", "/api/rtp/open"), let port = opened.port else {
                            counters.countError()
                            continue
                        }
                        mine.append(port)
                        live.withLock { $0.append(port) }
                        continue
                    }
                    turn += 1
                    let (closer, opener) = pairs[turn % pairs.count]
                    let victim = mine.remove(at: turn % mine.count)
                    live.withLock { $0.removeAll { $0 == victim } }
                    closer.write("POST", "/api/rtp/close", body: #"{"port": \#(victim)}"#)
                    opener.write("POST", "/api/rtp/open", body: "{}")
                    if LoopbackSocket.sendDatagram(udp, port: victim, [0x80, 0x60, 0, 1]) {
                        counters.udpSent.wrappingAdd(1, ordering: .relaxed)
                    }
                    if closer.readPending()?.status != 200 { counters.countError() }
                    guard let opened = opener.readPending(), let port = opened.port else {
                        counters.countError()
                        continue
                    }
                    mine.append(port)
                    live.withLock { $0.append(port) }
                    counters.countOperation()
                }
                for port in mine { _ = client.request("POST", "/api/rtp/close", body: #"{"port": \#(port)}"#) }
                live.withLock { list in list.removeAll { mine.contains($0) } }
            } else {
                let spraying = index < workers + sprayers
                let udp = LoopbackSocket.makeUDP()
                defer { LoopbackSocket.close(udp) }
                var sent = 0
                // Side loads stop with the control workers, and are bounded on their own too.
                while controlDone.load(ordering: .relaxed) < workers, !bounds.timeIsUp, sent < 50_000_000 {
                    let ports = live.withLock { $0 }
                    if ports.isEmpty { usleep(1_000); continue }
                    for port in ports {
                        sent += 1
                        if spraying {
                            if LoopbackSocket.sendDatagram(udp, port: port, [0x80, 0x60, 0, 1]) {
                                counters.udpSent.wrappingAdd(1, ordering: .relaxed)
                            }
                        } else if case .success(let fd) = LoopbackSocket.connectTCP(port: port, timeoutMs: 500) {
                            LoopbackSocket.close(fd)
                            counters.tcpConnects.wrappingAdd(1, ordering: .relaxed)
                        }
                    }
                    // Paced so that no socket is busy in every batch (which the
                    // analyzer's spin heuristic would flag); the interleaving does not need it.
                    usleep(20_000)
                }
            }
        }
        printResult(mode: "seed", counters: counters, seconds: monotonicSeconds() - started, extra: [
            ("datagrams", "\(counters.udpSent.load(ordering: .relaxed))"),
            ("tcp_connects", "\(counters.tcpConnects.load(ordering: .relaxed))"),
        ])
    }
}
