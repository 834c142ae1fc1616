import Foundation
import Glibc
import PollTraceStore
import XCTest
@testable import PollTraceDaemon

/// A blocking HTTP/1.1 client on 127.0.0.1 for the tests, with a receive timeout so
/// a daemon that never answers fails the test instead of hanging it.
final class TestClient {
    let fd: Int32
    private var pending: [UInt8] = []

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
    }

    init(port: UInt16, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { Glibc.close(fd); throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .ECONNREFUSED) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { Glibc.close(fd) }

    func send(_ text: String) { sendBytes(Array(text.utf8)) }

    func sendBytes(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    func request(_ method: String, _ path: String, body: String? = nil) {
        var text = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        send(text + "\r\n" + (body ?? ""))
    }

    /// True when a response (or EOF) can be read without blocking.
    var isReadable: Bool {
        if !pending.isEmpty { return true }
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, 0) == 1
    }

    /// Reads one response; nil on timeout or if the connection closed first.
    func readResponse() -> Response? {
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            if let end = headEnd() {
                let head = String(decoding: pending[..<end], as: UTF8.self).components(separatedBy: "\r\n")
                let parts = head[0].split(separator: " ")
                guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
                var headers: [String: String] = [:]
                for line in head.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                let length = Int(headers["content-length"] ?? "0") ?? 0
                if pending.count >= end + 4 + length {
                    let body = String(decoding: pending[(end + 4)..<(end + 4 + length)], as: UTF8.self)
                    pending.removeFirst(end + 4 + length)
                    return Response(status: status, headers: headers, body: body)
                }
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return nil }
            pending.append(contentsOf: buffer[0..<n])
        }
    }

    /// True if the daemon closed the connection (EOF or reset) within the timeout.
    func readsEndOfStream() -> Bool {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n == 0 { return true }
            if n < 0 { return errno == ECONNRESET }
        }
    }

    private func headEnd() -> Int? {
        guard pending.count >= 4 else { return nil }
        for index in 0...(pending.count - 4)
        where pending[index] == 13 && pending[index + 1] == 10 && pending[index + 2] == 13 && pending[index + 3] == 10 {
            return index
        }
        return nil
    }
}

/// Counts this process's open fds.
func openFDCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// This process's open fds, each with what it is ("socket:[123]", "anon_inode:[eventpoll]").
func openFDs() -> [Int32: String] {
    var fds: [Int32: String] = [:]
    for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
        guard let fd = Int32(name) else { continue }
        fds[fd] = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")) ?? "?"
    }
    return fds
}

/// fds open now that were not open (as the same thing) in `before`. Other tests of
/// this process may still be finishing background work (a writer closing a file),
/// so this waits a bounded while for such fds to go before reporting them.
func extraOpenFDs(since before: [Int32: String]) -> [Int32: String] {
    var extra: [Int32: String] = [:]
    _ = eventually(seconds: 3) {
        // The listing itself opens the directory: ignore fds pointing into /proc.
        extra = openFDs().filter { before[$0.key] != $0.value && !$0.value.hasPrefix("/proc/") }
        return extra.isEmpty
    }
    return extra
}

/// fds a trace shows opened (or registered) and never closed.
func fdsLeftOpen(inTrace path: String) throws -> Set<Int32> {
    let reader = try TraceReader(path: path)
    var cursor = try reader.records()
    var open = Set<Int32>()
    while let record = try cursor.next() {
        switch record {
        case .fdOpened(let opened): open.insert(opened.fd)
        case .closed(let closed): open.remove(closed.fd)
        default: break
        }
    }
    return open
}

/// A fresh directory for one test's traces.
func temporaryTraceDirectory(_ name: String) -> String {
    let path = NSTemporaryDirectory() + "polltraced-tests-\(getpid())-\(name)-\(UInt32.random(in: 0...UInt32.max))"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Sends one datagram to 127.0.0.1:`port`.
func sendDatagram(to port: UInt16, _ bytes: [UInt8] = [0x80, 0x60, 0, 1]) {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    defer { Glibc.close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    _ = withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, bytes.count, 0, socketAddress, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}

/// Polls `condition` every 10 ms, for at most `seconds`. Not a timing assertion:
/// the bound only keeps a broken daemon from hanging the test.
func eventually(seconds: Double = 5, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A test case with one daemon of this process on a free loopback port, started by
/// `startDaemon` (configuration adjustable) and stopped, with its traces removed,
/// after each test.
class RunningDaemonTestCase: XCTestCase {
    var daemon: PollTraceDaemon!
    var traceDirectory = ""

    func startDaemon(_ adjust: (inout DaemonConfiguration) -> Void = { _ in }) throws {
        traceDirectory = temporaryTraceDirectory(name)
        var configuration = DaemonConfiguration()
        configuration.controlPort = 0
        configuration.trace = TraceSettings(directory: traceDirectory)
        adjust(&configuration)
        daemon = try PollTraceDaemon(configuration: configuration)
        try daemon.start()
    }

    override func tearDown() {
        try? daemon?.stop()
        daemon = nil
        try? FileManager.default.removeItem(atPath: traceDirectory)
        super.tearDown()
    }
}

/// The port a socket of this process is bound to (its local or its peer's end).
func boundPort(of fd: Int32, peer: Bool = false) -> UInt16? {
    var address = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let result = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length) }
    }
    guard result == 0, address.sin_family == sa_family_t(AF_INET) else { return nil }
    return UInt16(bigEndian: address.sin_port)
}

/// Waits until the daemon's end of a loopback socket is readable, without reading
/// it: the step that sent to it is then done in the kernel, and the next step's fd
/// becomes ready after it. The daemon runs in this process, so its socket is found
/// by address: type (`SOCK_STREAM`, `SOCK_DGRAM`), local port, and the peer's
/// port for a connected socket (nil: not connected, a listener or a UDP socket).
/// The 5 s bound only keeps a broken daemon from hanging the test.
func waitUntilDaemonSocketIsReadable(type: __socket_type, localPort: UInt16, peerPort: UInt16?,
                                     file: StaticString = #filePath, line: UInt = #line) {
    let matches = openFDs().keys.sorted().filter { fd in
        var socketType: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &socketType, &length) == 0, socketType == Int32(type.rawValue),
              boundPort(of: fd) == localPort else { return false }
        return boundPort(of: fd, peer: true) == peerPort
    }
    guard matches.count == 1, let fd = matches.first else {
        return XCTFail("expected one daemon socket (type \(type.rawValue), port \(localPort), peer \(peerPort.map(String.init) ?? "none")), found \(matches)",
                       file: file, line: line)
    }
    var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
    XCTAssertEqual(poll(&entry, 1, 5_000), 1, "the daemon's socket \(fd) on port \(localPort) never became readable",
                   file: file, line: line)
}
