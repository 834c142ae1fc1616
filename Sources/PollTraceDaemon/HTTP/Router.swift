/// Maps (method, path) to an endpoint, and tells "no such path" (404) apart from
/// "the path exists but not with this method" (405, with the allowed methods).
///
/// Generic over the endpoint type and free of handlers, so resolution is a pure
/// function a test can call without a socket; the control API switches over the
/// endpoint it gets back.
public struct Router<Endpoint: Hashable & Sendable>: Sendable {
    public enum Resolution: Hashable, Sendable {
        case endpoint(Endpoint)
        case notFound(path: String)
        case methodNotAllowed(path: String, allowed: [String])
    }

    /// path -> method -> endpoint. Paths match exactly (a trailing slash is a
    /// different path), which keeps the API small and predictable.
    private var routes: [String: [String: Endpoint]] = [:]

    public init() {}

    public init(_ table: [(method: String, path: String, endpoint: Endpoint)]) {
        for route in table { add(route.method, route.path, route.endpoint) }
    }

    public mutating func add(_ method: String, _ path: String, _ endpoint: Endpoint) {
        routes[path, default: [:]][method] = endpoint
    }

    public func resolve(method: String, path: String) -> Resolution {
        guard let methods = routes[path] else { return .notFound(path: path) }
        if let endpoint = methods[method] { return .endpoint(endpoint) }
        // HEAD is not offered: the API returns small JSON documents only.
        return .methodNotAllowed(path: path, allowed: methods.keys.sorted())
    }

    public func resolve(_ request: HTTPRequest) -> Resolution {
        resolve(method: request.method, path: request.path)
    }
}
