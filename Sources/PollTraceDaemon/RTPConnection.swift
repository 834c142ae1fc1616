import EventPoller
import PollTraceCore

/// An accepted TCP connection to a service. Reads (and counts) until the peer
/// closes, then closes. It has no timeout: an RTP-style service reads until the
/// peer is done, and the peak-connections benchmark holds connections open on purpose.
enum RTPConnection {
    /// The connections one accept handler run took, grouped by the poller each will
    /// live on. Those for the accepting poller are registered at once; the others
    /// are posted as one task per poller (registrations are confined to their loop
    /// thread), so a burst of accepts costs one wake-up per poller, not one per fd.
    struct Handoff {
        let from: EventPoller
        let port: UInt16
        unowned let daemon: PollTraceDaemon
        private var elsewhere: [(EventPoller, [Int32])] = []

        init(from: EventPoller, port: UInt16, daemon: PollTraceDaemon) {
            self.from = from; self.port = port; self.daemon = daemon
        }

        mutating func add(_ fd: Int32) {
            let target = daemon.group.next()
            if target === from { return register(fd: fd, port: port, on: from, daemon: daemon) }
            if let index = elsewhere.firstIndex(where: { $0.0 === target }) {
                elsewhere[index].1.append(fd)
            } else {
                elsewhere.append((target, [fd]))
            }
        }

        func send() {
            for (target, fds) in elsewhere {
                do {
                    try target.execute { [unowned daemon, port] in
                        for fd in fds { register(fd: fd, port: port, on: target, daemon: daemon) }
                    }
                } catch {
                    // The target poller is shutting down: close them here, where they were made.
                    for fd in fds {
                        try? from.close(fd: fd)
                        daemon.stats.connectionClosed()
                    }
                }
            }
        }
    }

    private static func register(fd: Int32, port: UInt16, on poller: EventPoller, daemon: PollTraceDaemon) {
        do {
            try poller.register(fd: fd, interest: .readable, label: "rtp-conn:\(port)") { [unowned daemon] _, context in
                readUntilClosed(context: context, daemon: daemon)
            }
        } catch {
            daemon.logger.warning("registering an rtp connection failed: \(error)")
            try? poller.close(fd: fd)
            daemon.stats.connectionClosed()
        }
    }

    private static func readUntilClosed(context: HandlerContext, daemon: PollTraceDaemon) {
        let buffer = daemon.readBuffer(for: context.poller)
        let fd = context.registration.fd
        for attempt in 0..<4 {
            let result: IOResult<Int>
            do {
                result = try Linux.Socket.receive(fd, into: buffer.storage)
            } catch {
                result = .processed(0) // reset by the peer: done, like an orderly close
            }
            switch result {
            case .wouldBlock:
                if attempt == 0 { daemon.stats.emptyWakeups.wrappingAdd(1, ordering: .relaxed) }
                return
            case .processed(0):
                // Under `snapshot` this handler can run for its registration after
                // the registration ended (the policy's hazard); the close is then
                // refused and the connection was already counted as closed.
                if (try? context.poller.close(context.registration)) != nil { daemon.stats.connectionClosed() }
                return
            case .processed(let n):
                daemon.stats.rtpBytes.wrappingAdd(n, ordering: .relaxed)
            }
        }
    }
}
