import PollTraceDaemon
import Foundation
import Glibc

/// A keep-alive HTTP/1.1 client for polltraced's control API on 127.0.0.1.
///
/// Blocking, one request at a time, reconnecting when the daemon closes the
/// connection. Each call is bounded by the socket timeouts set at connect.
final class ControlClient {
    struct Response {
        var status: Int
        var body: String
        /// The `port` field of a JSON body, if any.
        var port: UInt16? {
            guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
                  let port = object["port"] as? Int, (1...65535).contains(port) else { return nil }
            return UInt16(port)
        }
    }

    let port: UInt16
    private var fd: Int32 = -1
    private var pending: [UInt8] = []

    /// `Authorization` header value for a daemon started with `--token-file`; set
    /// once at start-up (`LoadOptions.validate`), before any worker runs.
    nonisolated(unsafe) static var authorization: String?

    init(port: UInt16) { self.port = port }
    deinit { if fd >= 0 { LoopbackSocket.close(fd) } }

    /// Sends a request without waiting for its answer (read it with `readResponse`).
    @discardableResult
    func write(_ method: String, _ path: String, body: String = "") -> Bool {
        if fd < 0 {
            guard case .success(let connected) = LoopbackSocket.connectTCP(port: port) else { return false }
            fd = connected
            pending = []
        }
        let auth = Self.authorization.map { "Authorization: \($0)\r\n" } ?? ""
        let text = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(auth)Content-Length: \(body.utf8.count)\r\n\r\n" + body
        if LoopbackSocket.sendAll(fd, Array(text.utf8)) { return true }
        LoopbackSocket.close(fd)
        fd = -1
        return false
    }

    /// The answer to a request sent with `write`; nil if the connection failed.
    func readPending() -> Response? {
        guard fd >= 0 else { return nil }
        if let response = readResponse() { return response }
        LoopbackSocket.close(fd)
        fd = -1
        return nil
    }

    /// nil when the daemon could not be reached or the answer was not HTTP.
    func request(_ method: String, _ path: String, body: String = "") -> Response? {
        for attempt in 0..<2 {
            if fd < 0 {
                guard case .success(let connected) = LoopbackSocket.connectTCP(port: port) else { return nil }
                fd = connected
                pending = []
            }
            var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if let authorization = Self.authorization { head += "Authorization: \(authorization)\r\n" }
            if !body.isEmpty || method == "POST" { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
            head += "\r\n" + body
            if LoopbackSocket.sendAll(fd, Array(head.utf8)), let response = readResponse() {
                return response
            }
            // The daemon may have closed a kept-alive connection (idle timeout): retry once fresh.
            LoopbackSocket.close(fd)
            fd = -1
            if attempt == 1 { return nil }
        }
        return nil
    }

    private func readResponse() -> Response? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let headEnd = find(Array("\r\n\r\n".utf8), in: pending) {
                let head = String(decoding: pending[..<headEnd], as: UTF8.self)
                let lines = head.components(separatedBy: "\r\n")
                let statusParts = lines[0].split(separator: " ")
                guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
                var length = 0
                var closes = false
                for line in lines.dropFirst() {
                    let lower = line.lowercased()
                    if lower.hasPrefix("content-length:") { length = Int(lower.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0 }
                    if lower.hasPrefix("connection:"), lower.contains("close") { closes = true }
                }
                let bodyStart = headEnd + 4
                if pending.count >= bodyStart + length {
                    let body = String(decoding: pending[bodyStart..<(bodyStart + length)], as: UTF8.self)
                    pending.removeFirst(bodyStart + length)
                    if closes { LoopbackSocket.close(fd); fd = -1 }
                    return Response(status: status, body: body)
                }
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return nil }
            pending.append(contentsOf: buffer[0..<n])
        }
    }

    private func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}
