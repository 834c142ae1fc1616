/// Limits on what one request may make the daemon buffer. A client past a limit gets
/// a 4xx and the connection closed; nothing it sends can make the daemon grow
/// without bound.
public struct HTTPParserLimits: Hashable, Sendable {
    /// Longest request line, CRLF excluded.
    public var maxRequestLineBytes: Int
    /// All header lines together, CRLFs included.
    public var maxHeaderBytes: Int
    public var maxHeaderCount: Int
    public var maxBodyBytes: Int

    public init(maxRequestLineBytes: Int = 4096, maxHeaderBytes: Int = 16 * 1024,
                maxHeaderCount: Int = 64, maxBodyBytes: Int = 16 * 1024) {
        self.maxRequestLineBytes = maxRequestLineBytes; self.maxHeaderBytes = maxHeaderBytes
        self.maxHeaderCount = maxHeaderCount; self.maxBodyBytes = maxBodyBytes
    }
}

/// Why bytes are not a request. Each case maps to one status code; after any of
/// them the connection cannot be resynchronised and is closed.
public enum HTTPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    case malformedRequestLine(String)
    case malformedHeader(String)
    case unsupportedVersion(String)
    case requestLineTooLong(limit: Int)
    case headersTooLarge(limit: Int)
    case bodyTooLarge(length: Int, limit: Int)
    case invalidContentLength(String)
    /// Chunked bodies are not needed by the control API and not implemented.
    case transferEncodingNotSupported(String)

    public var status: HTTPStatus {
        switch self {
        case .malformedRequestLine, .malformedHeader, .invalidContentLength: .badRequest
        case .unsupportedVersion: .httpVersionNotSupported
        case .requestLineTooLong, .bodyTooLarge: .payloadTooLarge
        case .headersTooLarge: .headerFieldsTooLarge
        case .transferEncodingNotSupported: .notImplemented
        }
    }

    public var description: String {
        switch self {
        case .malformedRequestLine(let why): "malformed request line: \(why)"
        case .malformedHeader(let why): "malformed header: \(why)"
        case .unsupportedVersion(let version): "unsupported HTTP version '\(version)' (only HTTP/1.0 and HTTP/1.1)"
        case .requestLineTooLong(let limit): "request line longer than \(limit) bytes"
        case .headersTooLarge(let limit): "headers larger than \(limit) bytes or too many header lines"
        case .bodyTooLarge(let length, let limit): "body of \(length) bytes is larger than the limit of \(limit) bytes"
        case .invalidContentLength(let value): "invalid Content-Length '\(value)'"
        case .transferEncodingNotSupported(let value): "Transfer-Encoding '\(value)' is not supported; send Content-Length"
        }
    }
}

/// An incremental HTTP/1.x request parser: a plain value with no I/O.
///
/// The connection appends whatever `read(2)` returned and asks for the next request
/// until the parser says it needs more. Requests may arrive split at any byte, or
/// several in one read (pipelining); both give the same requests. Limits are checked
/// as bytes arrive, so an oversized request line is refused before its end is seen.
public struct HTTPRequestParser: Sendable {
    public enum Step: Hashable, Sendable {
        case request(HTTPRequest)
        case needMoreData
        case failure(HTTPParseError)
    }

    private enum State: Sendable {
        case requestLine
        case headers(method: String, target: String, minorVersion: Int, lines: [(String, String)], bytes: Int)
        case body(HTTPRequest, remaining: Int)
        case failed(HTTPParseError)
    }

    public let limits: HTTPParserLimits
    private var buffer: [UInt8] = []
    /// Where unparsed bytes start in `buffer`; bytes before it are consumed and
    /// dropped in bulk (see `compact`) so parsing stays linear.
    private var start = 0
    /// How far the search for the current line's LF has got, so a line that
    /// arrives a byte at a time is scanned once, not once per byte.
    private var scanned = 0
    private var state: State = .requestLine

    public init(limits: HTTPParserLimits = HTTPParserLimits()) { self.limits = limits }

    /// True when no part of a request is buffered: between requests on a kept-alive
    /// connection. A connection that is not idle and goes quiet is a half request.
    public var isIdle: Bool {
        if case .requestLine = state { return start == buffer.count }
        return false
    }

    public mutating func append<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
        buffer.append(contentsOf: bytes)
    }

    /// The next complete request, `.needMoreData`, or the error that ends the
    /// connection (repeated on every later call).
    public mutating func next() -> Step {
        while true {
            switch state {
            case .failed(let error):
                return .failure(error)

            case .requestLine:
                // Tolerate empty lines between requests (RFC 9112 section 2.2).
                while start + 1 < buffer.count, buffer[start] == 13, buffer[start + 1] == 10 { start += 2; scanned = start }
                while start < buffer.count, buffer[start] == 10 { start += 1; scanned = start }
                guard let line = nextLine(limit: limits.maxRequestLineBytes) else {
                    if buffer.count - start > limits.maxRequestLineBytes + 1 {
                        return fail(.requestLineTooLong(limit: limits.maxRequestLineBytes))
                    }
                    compact()
                    return .needMoreData
                }
                guard line.count <= limits.maxRequestLineBytes else {
                    return fail(.requestLineTooLong(limit: limits.maxRequestLineBytes))
                }
                switch Self.parseRequestLine(line) {
                case .success(let parsed):
                    state = .headers(method: parsed.method, target: parsed.target, minorVersion: parsed.minor,
                                     lines: [], bytes: 0)
                case .failure(let error):
                    return fail(error)
                }

            case .headers(let method, let target, let minor, var lines, var bytes):
                let remainingBudget = limits.maxHeaderBytes - bytes
                guard let line = nextLine(limit: remainingBudget) else {
                    if buffer.count - start > remainingBudget { return fail(.headersTooLarge(limit: limits.maxHeaderBytes)) }
                    compact()
                    return .needMoreData
                }
                bytes += line.count + 2
                guard bytes <= limits.maxHeaderBytes else { return fail(.headersTooLarge(limit: limits.maxHeaderBytes)) }
                if line.isEmpty {
                    let request = HTTPRequest(method: method, target: target, minorVersion: minor,
                                              headers: lines.map { (name: $0.0, value: $0.1) })
                    switch Self.bodyLength(of: request, limit: limits.maxBodyBytes) {
                    case .failure(let error):
                        return fail(error)
                    case .success(0):
                        state = .requestLine
                        return .request(request)
                    case .success(let length):
                        state = .body(request, remaining: length)
                    }
                    continue
                }
                guard lines.count < limits.maxHeaderCount else { return fail(.headersTooLarge(limit: limits.maxHeaderBytes)) }
                switch Self.parseHeader(line) {
                case .success(let header):
                    lines.append(header)
                    state = .headers(method: method, target: target, minorVersion: minor, lines: lines, bytes: bytes)
                case .failure(let error):
                    return fail(error)
                }

            case .body(var request, let remaining):
                let available = min(remaining, buffer.count - start)
                request.body.append(contentsOf: buffer[start..<(start + available)])
                start += available
                scanned = start
                if available == remaining {
                    state = .requestLine
                    return .request(request)
                }
                state = .body(request, remaining: remaining - available)
                compact()
                return .needMoreData
            }
        }
    }

    private mutating func fail(_ error: HTTPParseError) -> Step {
        state = .failed(error)
        buffer = []
        start = 0
        scanned = 0
        return .failure(error)
    }

    /// The next line without its CRLF (or bare LF), consuming it; nil if no LF is
    /// buffered yet. Stops scanning past `limit + 2` bytes: the caller fails then.
    private mutating func nextLine(limit: Int) -> ArraySlice<UInt8>? {
        let end = min(buffer.count, start + max(limit, 0) + 2)
        var index = max(scanned, start)
        while index < end, buffer[index] != 10 { index += 1 }
        guard index < end else {
            scanned = index
            return nil
        }
        var lineEnd = index
        if lineEnd > start, buffer[lineEnd - 1] == 13 { lineEnd -= 1 }
        let line = buffer[start..<lineEnd]
        start = index + 1
        scanned = start
        return line
    }

    /// Drops consumed bytes once they are the larger part of the buffer.
    private mutating func compact() {
        guard start > 0, start * 2 >= buffer.count else { return }
        buffer.removeFirst(start)
        scanned -= start
        start = 0
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        // RFC 9110 tchar.
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    private static func parseRequestLine(_ line: ArraySlice<UInt8>) -> Result<(method: String, target: String, minor: Int), HTTPParseError> {
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            return .failure(.malformedRequestLine("expected 'METHOD /path HTTP/1.1', got \(parts.count) space-separated parts"))
        }
        let (method, target, version) = (parts[0], parts[1], parts[2])
        guard !method.isEmpty, method.allSatisfy(isTokenByte) else {
            return .failure(.malformedRequestLine("method is not a token"))
        }
        guard target.first == UInt8(ascii: "/"), target.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            return .failure(.malformedRequestLine("target must start with '/' and contain only visible ASCII"))
        }
        let versionText = String(decoding: version, as: UTF8.self)
        switch versionText {
        case "HTTP/1.1": break
        case "HTTP/1.0": break
        default:
            if versionText.hasPrefix("HTTP/") { return .failure(.unsupportedVersion(versionText)) }
            return .failure(.malformedRequestLine("version must be HTTP/1.0 or HTTP/1.1"))
        }
        return .success((String(decoding: method, as: UTF8.self), String(decoding: target, as: UTF8.self),
                         versionText == "HTTP/1.1" ? 1 : 0))
    }

    private static func parseHeader(_ line: ArraySlice<UInt8>) -> Result<(String, String), HTTPParseError> {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            return .failure(.malformedHeader("no ':' in header line"))
        }
        let name = line[line.startIndex..<colon]
        // No whitespace between name and colon (RFC 9112 section 5.1), and no obs-fold.
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
            return .failure(.malformedHeader("header name is empty or not a token"))
        }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 32 || first == 9 { value = value.dropFirst() }
        while let last = value.last, last == 32 || last == 9 { value = value.dropLast() }
        guard value.allSatisfy({ $0 == 9 || $0 >= 32 && $0 != 127 }) else {
            return .failure(.malformedHeader("control character in the value of '\(String(decoding: name, as: UTF8.self))'"))
        }
        return .success((String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self)))
    }

    private static func bodyLength(of request: HTTPRequest, limit: Int) -> Result<Int, HTTPParseError> {
        if let encoding = request.header("Transfer-Encoding") {
            return .failure(.transferEncodingNotSupported(encoding))
        }
        let values = request.headers.filter { $0.name.lowercased() == "content-length" }.map(\.value)
        guard let first = values.first else { return .success(0) }
        guard values.allSatisfy({ $0 == first }) else {
            return .failure(.invalidContentLength(values.joined(separator: ", ")))
        }
        guard !first.isEmpty, first.utf8.count <= 18, first.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              let length = Int(first) else {
            return .failure(.invalidContentLength(first))
        }
        guard length <= limit else { return .failure(.bodyTooLarge(length: length, limit: limit)) }
        return .success(length)
    }
}
