import PollTraceDaemon
import ArgumentParser

/// Opens and closes services as fast as the control API answers, optionally
/// touching each new port with a TCP connect and a UDP datagram before closing it.
struct StormMode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "storm",
        abstract: "Open/close storm on the control API; one operation is one open plus one close."
    )

    @OptionGroup var options: LoadOptions

    @Flag(help: "Before closing, connect once over TCP and send one UDP datagram to the new port.")
    var touch = false

    func run() throws {
        let counters = LoadCounters()
        let bounds = options.bounds
        let controlPort = options.controlPort
        let touch = touch
        let started = monotonicSeconds()
        runWorkers(options.workers) { _ in
            let client = ControlClient(port: controlPort)
            let udp = LoopbackSocket.makeUDP()
            defer { LoopbackSocket.close(udp) }
            while counters.claim(bounds) {
                guard let opened = client.request("POST", "/api/rtp/open", body: #"{"port": 0}"#),
                      opened.status == 201 || opened.status == 200, let port = opened.port else {
                    counters.countError()
                    continue
                }
                if touch {
                    if case .success(let fd) = LoopbackSocket.connectTCP(port: port, timeoutMs: 1000) {
                        LoopbackSocket.close(fd)
                        counters.tcpConnects.wrappingAdd(1, ordering: .relaxed)
                    }
                    if LoopbackSocket.sendDatagram(udp, port: port, [0x80, 0, 0, 1]) {
                        counters.udpSent.wrappingAdd(1, ordering: .relaxed)
                    }
                }
                guard let closed = client.request("POST", "/api/rtp/close", body: #"{"port": \#(port)}"#),
                      closed.status == 200 else {
                    counters.countError()
                    continue
                }
                counters.countOperation()
            }
        }
        printResult(mode: "storm", counters: counters, seconds: monotonicSeconds() - started, extra: [
            ("tcp_connects", "\(counters.tcpConnects.load(ordering: .relaxed))"),
            ("datagrams", "\(counters.udpSent.load(ordering: .relaxed))"),
        ])
    }
}
