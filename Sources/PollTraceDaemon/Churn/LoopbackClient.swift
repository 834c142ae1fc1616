import CLinux
import Foundation
import Glibc

/// Blocking loopback client calls for the in-process churn (`polltrace demo`).
/// 127.0.0.1 is the only address they build; every call has a timeout.
enum LoopbackClient {
    static func address(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }

    /// A connected TCP socket with 2 s send/receive timeouts, or nil.
    static func connect(port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var target = address(port: port)
        let result = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { Glibc.close(fd); return nil }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, clinux_errno() == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    static func sendDatagram(_ fd: Int32, port: UInt16, _ bytes: [UInt8]) {
        var target = address(port: port)
        _ = withUnsafePointer(to: &target) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, bytes.count, Int32(MSG_DONTWAIT), socketAddress, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        }
    }
}

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
            guard let connected = LoopbackClient.connect(port: port) else { return false }
            fd = connected
            pending = []
        }
        var text = ""
        for request in requests {
            text += "\(request.method) \(request.path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(request.body.utf8.count)\r\n\r\n\(request.body)"
        }
        if LoopbackClient.send(fd, Array(text.utf8)) { return true }
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
