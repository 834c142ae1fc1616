import EventPoller
import PollTraceCore

/// An RTP-style service: a UDP socket and a TCP listener on the same port, as a
/// media server opens them for one stream. It counts datagrams, and accepts TCP
/// connections that it hands to `RTPConnection` on the next poller in turn.
///
/// Lives on the control poller: it is opened and closed by control API handlers,
/// inside that poller's dispatches, which is what lets a close and the reuse of
/// its fd numbers fall into one epoll batch, as in the seed.
final class RTPService {
    let port: UInt16
    let udp: Registration
    let listener: Registration
    let openedAtNs: UInt64
    var datagrams = 0
    var connections = 0

    private init(port: UInt16, udp: Registration, listener: Registration, openedAtNs: UInt64) {
        self.port = port; self.udp = udp; self.listener = listener; self.openedAtNs = openedAtNs
    }

    /// Opens the TCP listener first (port 0 lets the kernel pick), then the UDP
    /// socket on the same port. If the UDP port turns out to be taken, a kernel-picked
    /// port is tried again a few times; an explicit port fails with EADDRINUSE.
    static func open(on poller: EventPoller, address: String, port requested: UInt16,
                     daemon: PollTraceDaemon) throws -> RTPService {
        var attempts = 0
        while true {
            attempts += 1
            let listenerFD = try poller.makeTCPListener(host: address, port: requested, backlog: 1024)
            let port: UInt16
            let udpFD: Int32
            do {
                port = try Linux.Socket.localPort(listenerFD)
                udpFD = try poller.makeUDPSocket(host: address, port: port)
            } catch {
                try? poller.close(fd: listenerFD)
                if requested == 0, attempts < 8, DaemonError.isAddressInUse(error) { continue }
                throw error
            }
            // Build the service before registering so both handlers can capture it.
            let box = ServiceBox()
            let listener: Registration
            let udp: Registration
            do {
                listener = try poller.register(fd: listenerFD, interest: .readable, label: "rtp-tcp:\(port)") { [unowned daemon] _, context in
                    box.service?.acceptPending(context: context, daemon: daemon)
                }
                udp = try poller.register(fd: udpFD, interest: .readable, label: "rtp-udp:\(port)") { [unowned daemon] _, context in
                    box.service?.receiveDatagrams(context: context, daemon: daemon)
                }
            } catch {
                try? poller.close(fd: udpFD)
                try? poller.close(fd: listenerFD)
                throw error
            }
            let service = RTPService(port: port, udp: udp, listener: listener, openedAtNs: MonotonicClock.nowNs())
            box.service = service
            return service
        }
    }

    /// Closes the UDP socket, then the listener. Connections already accepted stay
    /// open until their peers close them.
    func close(on poller: EventPoller) {
        try? poller.close(udp)
        try? poller.close(listener)
    }

    /// Reads every datagram waiting (up to a bound, so one busy service cannot starve
    /// the loop; level-triggered epoll reports the rest next time).
    ///
    /// Under `naive`, this may run for an event harvested for another fd that had
    /// this number before: then there is nothing to read, and the daemon counts an
    /// empty wake-up instead of failing.
    private func receiveDatagrams(context: HandlerContext, daemon: PollTraceDaemon) {
        let buffer = daemon.readBuffer(for: context.poller)
        var received = 0
        while received < 64 {
            guard case .processed = (try? Linux.Socket.receive(udp.fd, into: buffer.storage)) ?? .wouldBlock else { break }
            received += 1
        }
        datagrams += received
        daemon.stats.datagrams.wrappingAdd(received, ordering: .relaxed)
        if received == 0 { daemon.stats.emptyWakeups.wrappingAdd(1, ordering: .relaxed) }
    }

    /// Accepts every pending connection (up to a bound) and hands each to a poller.
    private func acceptPending(context: HandlerContext, daemon: PollTraceDaemon) {
        var accepted = 0
        var handoff = RTPConnection.Handoff(from: context.poller, port: port, daemon: daemon)
        defer { handoff.send() }
        while accepted < 64 {
            let fd: Int32?
            do {
                fd = try context.poller.accept(listenerFD: listener.fd)
            } catch {
                // EMFILE and friends: logged once per wake-up; the connection stays queued.
                daemon.logger.warning("accept on rtp port \(port) failed: \(error)")
                break
            }
            guard let fd else { break }
            accepted += 1
            guard daemon.stats.admitConnection(limit: daemon.configuration.maxConnections) else {
                try? context.poller.close(fd: fd)
                continue
            }
            connections += 1
            daemon.stats.rtpConnections.wrappingAdd(1, ordering: .relaxed)
            handoff.add(fd)
        }
        if accepted == 0 { daemon.stats.emptyWakeups.wrappingAdd(1, ordering: .relaxed) }
    }
}

/// Lets the two handlers of a service refer to it before it exists.
private final class ServiceBox {
    weak var service: RTPService?
}
