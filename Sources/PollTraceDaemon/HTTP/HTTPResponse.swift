import Foundation

/// The status codes the control API answers with.
public struct HTTPStatus: Hashable, Sendable, CustomStringConvertible {
    public var code: Int
    public var reason: String
    public init(code: Int, reason: String) { self.code = code; self.reason = reason }

    public static let ok = HTTPStatus(code: 200, reason: "OK")
    public static let created = HTTPStatus(code: 201, reason: "Created")
    public static let badRequest = HTTPStatus(code: 400, reason: "Bad Request")
    public static let unauthorized = HTTPStatus(code: 401, reason: "Unauthorized")
    public static let notFound = HTTPStatus(code: 404, reason: "Not Found")
    public static let methodNotAllowed = HTTPStatus(code: 405, reason: "Method Not Allowed")
    public static let requestTimeout = HTTPStatus(code: 408, reason: "Request Timeout")
    public static let conflict = HTTPStatus(code: 409, reason: "Conflict")
    public static let payloadTooLarge = HTTPStatus(code: 413, reason: "Content Too Large")
    public static let headerFieldsTooLarge = HTTPStatus(code: 431, reason: "Request Header Fields Too Large")
    public static let internalServerError = HTTPStatus(code: 500, reason: "Internal Server Error")
    public static let notImplemented = HTTPStatus(code: 501, reason: "Not Implemented")
    public static let serviceUnavailable = HTTPStatus(code: 503, reason: "Service Unavailable")
    public static let httpVersionNotSupported = HTTPStatus(code: 505, reason: "HTTP Version Not Supported")

    public var description: String { "\(code) \(reason)" }
}

/// A response with a JSON body. Every answer of the control API, errors included,
/// is JSON, so `curl ... | jq` works on all of them; `/metrics` alone answers in
/// the Prometheus text format (`contentType`).
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus
    public var extraHeaders: [(name: String, value: String)]
    /// Serialized JSON (UTF-8), without the trailing newline `bytes` adds.
    public var body: [UInt8]
    /// The connection is closed after this response is written.
    public var closesConnection: Bool
    /// JSON unless a route says otherwise; only JSON bodies get the trailing newline.
    public var contentType: String

    public static let jsonContentType = "application/json"

    public init(status: HTTPStatus, body: [UInt8], extraHeaders: [(name: String, value: String)] = [],
                closesConnection: Bool = false, contentType: String = HTTPResponse.jsonContentType) {
        self.status = status; self.body = body; self.extraHeaders = extraHeaders
        self.closesConnection = closesConnection; self.contentType = contentType
    }

    /// A JSON response built from any JSON-serialisable object (dictionaries,
    /// arrays, strings, numbers, booleans). Keys are sorted so output is stable.
    public static func json(_ status: HTTPStatus, _ object: Any, closesConnection: Bool = false) -> HTTPResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
            ?? Data(#"{"error":"response could not be encoded"}"#.utf8)
        return HTTPResponse(status: status, body: Array(data), closesConnection: closesConnection)
    }

    /// `{"error": message, "status": code}`.
    public static func error(_ status: HTTPStatus, _ message: String, closesConnection: Bool = false) -> HTTPResponse {
        json(status, ["error": message, "status": status.code], closesConnection: closesConnection)
    }

    /// The full response on the wire: status line, headers, JSON body and a newline
    /// (so curl's output ends cleanly on a terminal).
    public var bytes: [UInt8] {
        var head = "HTTP/1.1 \(status.code) \(status.reason)\r\n"
        let newline = contentType == Self.jsonContentType ? 1 : 0
        head += "Content-Type: \(contentType)\r\n"
        head += "Content-Length: \(body.count + newline)\r\n"
        for (name, value) in extraHeaders { head += "\(name): \(value)\r\n" }
        if closesConnection { head += "Connection: close\r\n" }
        head += "\r\n"
        var out = Array(head.utf8)
        out.reserveCapacity(out.count + body.count + newline)
        out.append(contentsOf: body)
        if newline == 1 { out.append(10) }
        return out
    }
}
