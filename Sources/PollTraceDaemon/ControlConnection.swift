import EventPoller
import PollTraceCore

/// One client of the control API: bytes in through the parser, requests to the
/// control API, responses out, with the connection's timeouts.
///
/// Loop-confined to the control poller. After a parse error the response says
/// `Connection: close`; once it is written the write side is shut and the rest of
/// what the client sends is read and dropped (bounded), so the client reads the
/// error instead of a reset.
final class ControlConnection {
    enum Phase: Equatable {
        case open
        /// The last response is queued; close once it is written.
        case closingAfterWrite
        /// Write side shut; discarding input until EOF or `drainDeadlineNs`.
        case draining
        case closed
    }

    let registration: Registration
    private unowned let daemon: PollTraceDaemon
    private var parser: HTTPRequestParser
    private var outbox: [UInt8] = []
    private var wantsWritable = false
    private(set) var phase = Phase.open
    private(set) var lastActivityNs: UInt64
    private var drainDeadlineNs: UInt64 = 0
    private var drained = 0
    /// When the first byte of the request in progress arrived (nil between
    /// requests). The request timeout counts from here, not from the last byte, so
    /// a client trickling a byte a second cannot hold the connection forever.
    private var requestStartedNs: UInt64?
    /// The client's IPv4 address, for the per-address connection count.
    let peer: UInt32

    init(registration: Registration, daemon: PollTraceDaemon, peer: UInt32) {
        self.registration = registration
        self.daemon = daemon
        self.peer = peer
        parser = HTTPRequestParser(limits: daemon.configuration.httpLimits)
        lastActivityNs = MonotonicClock.nowNs()
    }

    var poller: EventPoller { daemon.controlPoller }

    func handle(_ events: IOEvents) {
        if events.contains(.writable) { flush() }
        if phase != .closed, !events.intersection([.readable, .hangup, .error, .readHangup]).isEmpty { readAvailable() }
    }

    private func readAvailable() {
        let buffer = daemon.readBuffer(for: poller)
        let result: IOResult<Int>
        do {
            result = try Linux.Socket.receive(registration.fd, into: buffer.storage)
        } catch {
            return close() // reset by the peer
        }
        guard case .processed(let count) = result else {
            daemon.stats.emptyWakeups.wrappingAdd(1, ordering: .relaxed)
            return
        }
        guard count > 0 else { return close() } // the client closed
        lastActivityNs = MonotonicClock.nowNs()
        if requestStartedNs == nil { requestStartedNs = lastActivityNs }
        switch phase {
        case .draining:
            drained += count
            if drained > 1 << 20 { close() }
            return
        case .closingAfterWrite, .closed:
            return
        case .open:
            break
        }
        parser.append(UnsafeRawBufferPointer(rebasing: buffer.storage[0..<count]))
        parse: while phase == .open {
            switch parser.next() {
            case .needMoreData:
                break parse
            case .request(let request):
                // The next request, if its bytes are already here, starts now.
                requestStartedNs = parser.isIdle ? nil : lastActivityNs
                var response = authorize(request) ?? daemon.controlAPI.respond(to: request)
                daemon.metrics.countControlRequest(request, status: response.status)
                if !request.wantsKeepAlive { response.closesConnection = true }
                queue(response)
            case .failure(let error):
                daemon.stats.controlErrors.wrappingAdd(1, ordering: .relaxed)
                daemon.metrics.countControlRequest(nil, status: error.status)
                queue(.error(error.status, error.description, closesConnection: true))
            }
        }
        if parser.isIdle { requestStartedNs = nil }
        flush()
    }

    /// nil when the request may go on to the router; otherwise the 401 to send.
    /// Here, before routing, so that every route is covered, present and future.
    private func authorize(_ request: HTTPRequest) -> HTTPResponse? {
        guard let token = daemon.configuration.accessToken else { return nil }
        if token.admits(authorization: request.header("Authorization")) { return nil }
        daemon.stats.controlErrors.wrappingAdd(1, ordering: .relaxed)
        daemon.stats.unauthorized.wrappingAdd(1, ordering: .relaxed)
        var response = HTTPResponse.error(.unauthorized, "this daemon requires Authorization: Bearer <token> (see --token-file)")
        response.extraHeaders.append((name: "WWW-Authenticate", value: "Bearer"))
        return response
    }

    /// Answers a client that did not send a whole request in time.
    func timeOut() {
        guard phase == .open else { return }
        daemon.stats.requestTimeouts.wrappingAdd(1, ordering: .relaxed)
        daemon.metrics.countControlRequest(nil, status: .requestTimeout)
        queue(.error(.requestTimeout, "no complete request within \(daemon.configuration.requestTimeoutMs) ms", closesConnection: true))
        flush()
    }

    /// What the sweep timer should do with this connection at `nowNs`.
    func sweep(nowNs: UInt64) {
        let configuration = daemon.configuration
        let quietMs = Int((nowNs &- lastActivityNs) / 1_000_000)
        switch phase {
        case .open:
            if let started = requestStartedNs, Int((nowNs &- started) / 1_000_000) >= configuration.requestTimeoutMs {
                timeOut()
            } else if requestStartedNs == nil, outbox.isEmpty, quietMs >= configuration.idleTimeoutMs {
                close()
            }
        case .draining:
            if nowNs >= drainDeadlineNs { close() }
        case .closingAfterWrite:
            // A client that stops reading cannot hold the connection forever either.
            if quietMs >= configuration.requestTimeoutMs { close() }
        case .closed:
            break
        }
    }

    private func queue(_ response: HTTPResponse) {
        daemon.stats.controlRequests.wrappingAdd(1, ordering: .relaxed)
        outbox.append(contentsOf: response.bytes)
        if response.closesConnection { phase = .closingAfterWrite }
    }

    private func flush() {
        while !outbox.isEmpty {
            let result = outbox.withUnsafeBytes { try? Linux.Socket.send(registration.fd, $0) }
            switch result {
            case .processed(let sent)?:
                outbox.removeFirst(sent)
            case .wouldBlock?:
                setWritableInterest(true)
                return
            case nil:
                return close() // the peer is gone
            }
        }
        setWritableInterest(false)
        if phase == .closingAfterWrite {
            try? Linux.Socket.shutdownWrite(registration.fd)
            phase = .draining
            drainDeadlineNs = MonotonicClock.nowNs() + 1_000_000_000
        }
    }

    private func setWritableInterest(_ on: Bool) {
        guard on != wantsWritable, phase != .closed else { return }
        wantsWritable = on
        try? poller.modify(registration, interest: on ? [.readable, .writable] : .readable)
    }

    func close() {
        guard phase != .closed else { return }
        phase = .closed
        try? poller.close(registration)
        daemon.controlConnectionClosed(self)
    }
}
