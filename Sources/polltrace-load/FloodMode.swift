import PollTraceDaemon
import ArgumentParser
import Glibc

/// Many concurrent short TCP connections to service ports. One operation is one
/// connection handled end to end: connect, send a byte, half-close, and wait for
/// the daemon to close its side (which it does only after reading our EOF).
struct FloodMode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flood",
        abstract: "Floods of concurrent short TCP connections to the services' ports."
    )

    @OptionGroup var options: LoadOptions

    @Option(help: "Services to open for the flood (closed again at the end). Ignored with --port.")
    var services = 4

    @Option(help: "Connect to this existing service port instead of opening services.")
    var port: UInt16?

    func run() throws {
        LoopbackSocket.raiseOpenFileLimit()
        let control = ControlClient(port: options.controlPort)
        var ports: [UInt16] = []
        if let port {
            ports = [port]
        } else {
            for _ in 0..<max(1, services) {
                guard let response = control.request("POST", "/api/rtp/open"), let opened = response.port else {
                    throw ValidationError("could not open a service on the control API at 127.0.0.1:\(options.controlPort)")
                }
                ports.append(opened)
            }
        }
        let counters = LoadCounters()
        let bounds = options.bounds
        let targets = ports
        let started = monotonicSeconds()
        runWorkers(options.workers) { worker in
            var next = worker
            var buffer = [UInt8](repeating: 0, count: 64)
            while counters.claim(bounds) {
                next += 1
                let target = targets[next % targets.count]
                guard case .success(let fd) = LoopbackSocket.connectTCP(port: target, timeoutMs: 2000) else {
                    counters.countError()
                    continue
                }
                var handled = LoopbackSocket.sendAll(fd, [0x80]) && shutdown(fd, Int32(SHUT_WR)) == 0
                while handled {
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n == 0 { break }                       // the daemon closed: handled
                    if n < 0, errno == EINTR { continue }
                    if n < 0 { handled = false }              // timeout or reset
                }
                LoopbackSocket.close(fd)
                if handled { counters.countOperation() } else { counters.countError() }
            }
        }
        let seconds = monotonicSeconds() - started
        if port == nil {
            for opened in ports { _ = control.request("POST", "/api/rtp/close", body: #"{"port": \#(opened)}"#) }
        }
        printResult(mode: "flood", counters: counters, seconds: seconds, extra: [("ports", "\(ports.count)")])
    }
}
