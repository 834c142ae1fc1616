import CLinux
import Foundation
import Glibc

/// A keep-alive control API client that can pipeline requests.
final class ChurnControlClient {
    private let port: UInt16
    private var fd: Int32 = -1
    private var pending: [UInt8] = []

    init(port: UInt16) { self.port = port }
    deinit { if fd >= 0 { Glibc.close(fd) } }

    /// Sends all `requests` in one write, then reads one response per request.
    /// Returns (status, body) pairs, or nil if the connection failed.
    func send(_ requests: [(method: String, path: String, body: String)]) -> [(Int, String)]? {
        guard write(requests) else { return nil }
        return readResponses(requests.count)
    }

    /// Writes `requests` in one write without waiting for answers.
    @discardableResult
    func write(_ requests: [(method: String, path: String, body: String)]) -> Bool {
        if fd < 0 {
            guard case .success(let connected) = LoopbackSocket.connectTCP(port: port) else { return false }
            fd = connected
            pending = []
        }
        var text = ""
        for request in requests {
            text += "\(request.method) \(request.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(request.body.utf8.count)\r\n\r\n\(request.body)"
        }
        if LoopbackSocket.sendAll(fd, Array(text.utf8)) { return true }
        _ = reset()
        return false
    }

    /// Reads `count` responses; nil if the connection failed or timed out.
    func readResponses(_ count: Int) -> [(Int, String)]? {
        guard fd >= 0 else { return nil }
        var responses: [(Int, String)] = []
        while responses.count < count {
            guard let response = readResponse() else { return reset() }
            responses.append(response)
        }
        return responses
    }

    private func reset() -> [(Int, String)]? {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        return nil
    }

    private func readResponse() -> (Int, String)? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let end = Self.headEnd(pending) {
                let head = String(decoding: pending[..<end], as: UTF8.self)
                let lines = head.components(separatedBy: "\r\n")
                let parts = lines[0].split(separator: " ")
                guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
                var length = 0
                for line in lines.dropFirst() where line.lowercased().hasPrefix("content-length:") {
                    length = Int(line.dropFirst(15).trimmingCharacters(in: .whitespaces)) ?? 0
                }
                if pending.count >= end + 4 + length {
                    let body = String(decoding: pending[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                    pending.removeFirst(end + 4 + length)
                    return (status, body)
                }
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0, clinux_errno() == EINTR { continue }
            guard n > 0 else { return nil }
            pending.append(contentsOf: buffer[0..<n])
        }
    }

    private static func headEnd(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 0...(bytes.count - 4)
        where bytes[index] == 13 && bytes[index + 1] == 10 && bytes[index + 2] == 13 && bytes[index + 3] == 10 {
            return index
        }
        return nil
    }

    /// The `port` of an open response body.
    static func port(in body: String) -> UInt16? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any],
              let port = object["port"] as? Int, (1...65535).contains(port) else { return nil }
        return UInt16(port)
    }
}
