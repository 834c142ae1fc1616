/// One parsed HTTP/1.x request, as the control API sees it.
///
/// Plain value: the parser builds it from bytes, the router and the handlers read it.
/// Header names keep the case the client sent; look them up with `header(_:)`,
/// which compares case-insensitively as HTTP requires.
public struct HTTPRequest: Hashable, Sendable {
    /// The method token exactly as sent ("GET", "POST"). Unknown methods are not an
    /// error at this layer: the router answers them with 405.
    public var method: String
    /// The request target as sent ("/api/rtp?port=4000").
    public var target: String
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    public var minorVersion: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, target: String, minorVersion: Int = 1,
                headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method; self.target = target; self.minorVersion = minorVersion
        self.headers = headers; self.body = body
    }

    /// The target without its query string.
    public var path: String {
        guard let mark = target.firstIndex(of: "?") else { return target }
        return String(target[..<mark])
    }

    /// `?a=1&b=2` as a dictionary (later keys win; no percent-decoding: the control
    /// API only takes numbers).
    public var queryItems: [String: String] {
        guard let mark = target.firstIndex(of: "?") else { return [:] }
        var items: [String: String] = [:]
        for pair in target[target.index(after: mark)...].split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            items[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }
        return items
    }

    /// The first value of header `name`, compared case-insensitively.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// Whether the client expects the connection to stay open after the response:
    /// HTTP/1.1 keeps it unless told `close`, HTTP/1.0 closes it unless told `keep-alive`.
    public var wantsKeepAlive: Bool {
        let connection = header("Connection")?.lowercased() ?? ""
        if minorVersion >= 1 { return !connection.contains("close") }
        return connection.contains("keep-alive")
    }

    public static func == (lhs: HTTPRequest, rhs: HTTPRequest) -> Bool {
        lhs.method == rhs.method && lhs.target == rhs.target && lhs.minorVersion == rhs.minorVersion
            && lhs.body == rhs.body && lhs.headers.elementsEqual(rhs.headers, by: { $0 == $1 })
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(method); hasher.combine(target); hasher.combine(minorVersion); hasher.combine(body)
        for (name, value) in headers { hasher.combine(name); hasher.combine(value) }
    }
}
