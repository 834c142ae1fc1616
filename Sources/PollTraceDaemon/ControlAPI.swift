import EventPoller
import Foundation
import PollTraceCore

/// The control API's handlers: request in, JSON response out. Runs on the control
/// poller, inside the dispatch of the connection that sent the request, so opening
/// and closing services happens inside the loop's batches as in the seed.
final class ControlAPI {
    private unowned let daemon: PollTraceDaemon
    /// port -> service. Loop-confined to the control poller.
    private(set) var services: [UInt16: RTPService] = [:]

    init(daemon: PollTraceDaemon) { self.daemon = daemon }

    func respond(to request: HTTPRequest) -> HTTPResponse {
        switch ControlEndpoint.router.resolve(request) {
        case .notFound(let path):
            return failed(.error(.notFound, "no such endpoint: \(path)"))
        case .methodNotAllowed(let path, let allowed):
            var response = HTTPResponse.error(.methodNotAllowed, "\(request.method) is not allowed on \(path); use \(allowed.joined(separator: ", "))")
            response.extraHeaders.append((name: "Allow", value: allowed.joined(separator: ", ")))
            return failed(response)
        case .endpoint(let endpoint):
            switch endpoint {
            case .openService: return openService(request)
            case .closeService: return closeService(request)
            case .listServices: return listServices()
            case .stats: return .json(.ok, daemon.statsDocument())
            case .rotateTrace: return rotateTrace()
            case .metrics: return daemon.metrics.response()
            }
        }
    }

    private func failed(_ response: HTTPResponse) -> HTTPResponse {
        daemon.stats.controlErrors.wrappingAdd(1, ordering: .relaxed)
        return response
    }

    private func openService(_ request: HTTPRequest) -> HTTPResponse {
        let port: Int
        switch PortArgument.parse(request) {
        case .failure(let failure): return failed(.error(.badRequest, failure.description))
        case .success(let value): port = value ?? 0
        }
        if port != 0, services[UInt16(port)] != nil {
            return failed(.error(.conflict, "port \(port) already has a service"))
        }
        guard services.count < daemon.configuration.maxServices else {
            return failed(.error(.serviceUnavailable, "already \(services.count) services open (the limit)"))
        }
        let service: RTPService
        do {
            service = try RTPService.open(on: daemon.controlPoller, address: daemon.configuration.address,
                                          port: UInt16(port), daemon: daemon)
        } catch {
            if DaemonError.isAddressInUse(error) {
                return failed(.error(.conflict, "port \(port) is in use"))
            }
            daemon.logger.error("opening a service failed: \(error)")
            return failed(.error(.internalServerError, "could not open a service: \(error)"))
        }
        services[service.port] = service
        daemon.stats.servicesOpened.wrappingAdd(1, ordering: .relaxed)
        daemon.stats.servicesCurrent.store(services.count, ordering: .relaxed)
        return .json(.created, Self.describe(service))
    }

    private func closeService(_ request: HTTPRequest) -> HTTPResponse {
        let port: Int
        switch PortArgument.parse(request) {
        case .failure(let failure): return failed(.error(.badRequest, failure.description))
        case .success(nil), .success(0): return failed(.error(.badRequest, PortArgument.Failure.missing.description))
        case .success(let value?): port = value
        }
        guard let service = services.removeValue(forKey: UInt16(port)) else {
            return failed(.error(.notFound, "no service on port \(port)"))
        }
        service.close(on: daemon.controlPoller)
        daemon.stats.servicesClosed.wrappingAdd(1, ordering: .relaxed)
        daemon.stats.servicesCurrent.store(services.count, ordering: .relaxed)
        var document = Self.describe(service)
        document["closed"] = true
        return .json(.ok, document)
    }

    private func listServices() -> HTTPResponse {
        let list = services.values.sorted { $0.port < $1.port }.map(Self.describe)
        return .json(.ok, ["count": list.count, "services": list])
    }

    private func rotateTrace() -> HTTPResponse {
        guard let recorder = daemon.recorder else {
            return failed(.error(.conflict, "tracing is off; there is no trace to rotate"))
        }
        do {
            let (closed, opened) = try recorder.rotate()
            return .json(.ok, ["closed": closed ?? NSNull(), "opened": opened] as [String: Any])
        } catch {
            return failed(.error(.internalServerError, "rotation failed: \(error)"))
        }
    }

    /// Closes every service (shutdown).
    func closeAll() {
        for service in services.values { service.close(on: daemon.controlPoller) }
        services.removeAll()
        daemon.stats.servicesCurrent.store(0, ordering: .relaxed)
    }

    static func describe(_ service: RTPService) -> [String: Any] {
        ["port": Int(service.port), "udp_fd": Int(service.udp.fd), "tcp_fd": Int(service.listener.fd),
         "datagrams": service.datagrams, "connections": service.connections]
    }
}
