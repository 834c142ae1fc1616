import Foundation

/// The control API's endpoints. `docs/daemon.md` shows each with curl.
public enum ControlEndpoint: Hashable, Sendable, CaseIterable {
    case openService
    case closeService
    case listServices
    case stats
    case rotateTrace
    /// The Prometheus exposition (`DaemonMetrics`).
    case metrics

    public static let router = Router<ControlEndpoint>([
        ("POST", "/api/rtp/open", .openService),
        ("POST", "/api/rtp/close", .closeService),
        ("GET", "/api/rtp", .listServices),
        ("GET", "/api/stats", .stats),
        ("POST", "/api/trace/rotate", .rotateTrace),
        ("GET", "/metrics", .metrics),
    ])
}

/// Reads the `port` argument of open/close from a JSON body (`{"port": 40000}`) or
/// the query string (`?port=40000`), so both `curl -d` and a bare URL work.
public enum PortArgument {
    public enum Failure: Error, Hashable, Sendable, CustomStringConvertible {
        case bodyNotJSONObject
        case notAnInteger(String)
        case outOfRange(Int)
        case missing

        public var description: String {
            switch self {
            case .bodyNotJSONObject: "body must be a JSON object such as {\"port\": 40000}"
            case .notAnInteger(let text): "port must be an integer, got \(text)"
            case .outOfRange(let port): "port \(port) is out of range 0...65535"
            case .missing: "missing 'port' (JSON body {\"port\": N} or ?port=N)"
            }
        }
    }

    private struct Body: Decodable { var port: Int? }

    /// The port, or nil when none was given (open then means "any").
    public static func parse(_ request: HTTPRequest) -> Result<Int?, Failure> {
        var port: Int?
        if let text = request.queryItems["port"] {
            guard let value = Int(text) else { return .failure(.notAnInteger("'\(text)'")) }
            port = value
        }
        let isBlank = request.body.allSatisfy { $0 == 32 || $0 == 9 || $0 == 10 || $0 == 13 }
        if !isBlank {
            let data = Data(request.body)
            // JSONDecoder refuses true, 1.5 and "40000" for an Int, which is what we want.
            if let body = try? JSONDecoder().decode(Body.self, from: data) {
                if let value = body.port { port = value }
            } else if (try? JSONSerialization.jsonObject(with: data)) is [String: Any] {
                return .failure(.notAnInteger("a non-integer JSON value"))
            } else {
                return .failure(.bodyNotJSONObject)
            }
        }
        guard let port else { return .success(nil) }
        guard (0...65535).contains(port) else { return .failure(.outOfRange(port)) }
        return .success(port)
    }
}
