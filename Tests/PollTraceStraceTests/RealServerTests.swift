import Foundation
import PollTraceStrace
import Synchronization
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// Real servers, recorded under strace while bounded short-connection churn runs
/// against them on 127.0.0.1. Connections that open, send a request, read the
/// reply and close (and some that close without a word) are the ordinary end of
/// a connection: the analysis must report zero hazards, and the log must read
/// cleanly.
final class RealServerTests: XCTestCase {
    static let connectionsPerWorker = 150
    static let workers = 4
    static let connections = workers * connectionsPerWorker

    /// redis-server from Debian's packages: one thread, the fd in `epoll_data`.
    func testRedisUnderShortConnectionChurn_givesZeroHazards() throws {
        let redis = try Self.installed(["/usr/bin/redis-server", "/usr/sbin/redis-server"], package: "redis-server")
        try churnUnderStrace(name: "redis-server", request: "PING\r\n", reply: "+PONG") { port, dir in
            [redis, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", dir.path, "--loglevel", "warning"]
        } stop: { port, _ in
            _ = try? Loopback.roundTrip(port: port, request: "SHUTDOWN NOSAVE\r\n", expect: nil)
        }
    }

    /// nginx from Debian's packages: a master that forks a worker, which makes its
    /// own epoll instance, accepts with accept4, registers edge-triggered, and puts a
    /// pointer (not the fd) in epoll_data. So this covers what redis does not:
    /// `strace -f` across a fork, and events mapped back to fds through the
    /// ADD/MOD history.
    func testNginxUnderShortConnectionChurn_givesZeroHazards() throws {
        let nginx = try Self.installed(["/usr/sbin/nginx", "/usr/bin/nginx"], package: "nginx")
        try churnUnderStrace(name: "nginx", request: "GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", reply: "pong") { port, dir in
            let prefix = dir.path
            let config = dir.appendingPathComponent("nginx.conf")
            try """
                daemon off;
                master_process on;
                worker_processes 1;
                pid \(prefix)/nginx.pid;
                error_log \(prefix)/error.log warn;
                events { worker_connections 256; }
                http {
                    access_log off;
                    client_body_temp_path \(prefix)/body;
                    proxy_temp_path \(prefix)/proxy;
                    fastcgi_temp_path \(prefix)/fastcgi;
                    uwsgi_temp_path \(prefix)/uwsgi;
                    scgi_temp_path \(prefix)/scgi;
                    server {
                        listen 127.0.0.1:\(port);
                        location / { return 200 "pong\\n"; }
                    }
                }
                """.write(to: config, atomically: true, encoding: .utf8)
            return [nginx, "-p", prefix, "-c", config.path, "-e", "\(prefix)/error.log"]
        } stop: { _, server in
            // SIGQUIT: nginx's graceful shutdown; the master waits for its worker.
            for master in Tracee.children(of: server.processIdentifier) { kill(master, SIGQUIT) }
        }
    }

    /// A libuv server (`Tests/StraceFixtures/libuv_echo.c`, built against Debian's
    /// libuv1-dev). libuv keeps the fd in `epoll_data`, and its `uv_close` defers
    /// the close(2) to after the batch, so a closed number cannot be reused inside
    /// one.
    func testLibuvServerUnderShortConnectionChurn_givesZeroHazards() throws {
        guard FileManager.default.fileExists(atPath: "/usr/include/uv.h") else {
            throw XCTSkip("libuv is not installed (Debian package libuv1-dev; .ci/run should install it)")
        }
        try churnUnderStrace(name: "libuv server", request: "ping\n", reply: "pong") { port, dir in
            let program = try StraceFixtures.compile("libuv_echo", libraries: ["uv"], into: dir)
            // + 1: waitForListener's probe is a connection too. The server exits after that many.
            return [program.path, String(port), String(Self.connections + 1)]
        } stop: { _, _ in }
    }

    static func installed(_ candidates: [String], package: String) throws -> String {
        guard let path = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("\(package) is not installed (Debian package \(package); .ci/run installs it)")
        }
        return path
    }

    /// Starts the server (`command` gets the port and a scratch directory) under
    /// strace, runs the bounded churn, asks it to stop with `stop` (which may do
    /// nothing for a server that stops by itself), waits at most 10 s for it to
    /// exit, and checks the analysis of its log.
    private func churnUnderStrace(name: String, request: String, reply: String,
                                  command: (UInt16, URL) throws -> [String],
                                  stop: (UInt16, Process) -> Void) throws {
        let strace = try StraceFixtures.strace()
        let dir = try StraceFixtures.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let port = try Loopback.freePort()
        let log = dir.appendingPathComponent("server.strace").path

        let server = Process()
        server.executableURL = URL(fileURLWithPath: strace)
        server.arguments = StraceCommand.arguments(output: log, seccompBPF: StraceCommand.seccompBPFWorks(strace: strace))
            + (try command(port, dir))
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer {
            // strace ignores SIGTERM while running a command: stop the server itself.
            if server.isRunning {
                for child in Tracee.children(of: server.processIdentifier) { kill(child, SIGKILL) }
                server.waitUntilExit()
            }
        }

        try Loopback.waitForListener(port: port, timeout: 10)
        // Bounded churn: a fixed number of connections per worker, each with a deadline.
        let failures = Mutex(0)
        DispatchQueue.concurrentPerform(iterations: Self.workers) { worker in
            for i in 0..<Self.connectionsPerWorker {
                let silent = (i + worker) % 5 == 0  // connect and hang up without a request
                if (try? Loopback.roundTrip(port: port, request: silent ? nil : request, expect: reply)) == nil {
                    failures.withLock { $0 += 1 }
                }
            }
        }
        stop(port, server)
        let deadline = Date().addingTimeInterval(10)
        while server.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(server.isRunning, "\(name) stopped")
        XCTAssertEqual(failures.withLock { $0 }, 0, "every request got its reply")

        let report = try StraceImport.analyze(path: log)
        print("\(name) under churn (\(Self.connections) connections):\n" + report.renderText())
        XCTAssertEqual(report.hazardCount, 0, "ordinary churn is not a hazard:\n\(report.renderText())")
        XCTAssertEqual(report.count(.orphanEvent) + report.count(.ghostEvent), 0, report.renderText())
        XCTAssertGreaterThanOrEqual(report.statistics.events, Self.connections,
                                    "the trace shows at least one event per connection (its accept)")
        XCTAssertEqual(report.diagnostics?.total, 0, "\(name)'s log reads cleanly: \(report.diagnostics?.summary ?? [])")
    }
}

/// Loopback TCP for the tests, with timeouts on every call.
enum Loopback {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static func address(port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = port.bigEndian
        addr.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return addr
    }

    static func freePort() throws -> UInt16 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var addr = address(port: 0)
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "bind failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        return UInt16(bigEndian: addr.sin_port)
    }

    static func connectTo(port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var addr = address(port: port)
        let ok = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if ok != 0 { close(fd); return nil }
        return fd
    }

    static func waitForListener(port: UInt16, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let fd = connectTo(port: port) { close(fd); return }
            usleep(50_000)
        }
        throw Failure(description: "nothing listened on 127.0.0.1:\(port) within \(timeout) s")
    }

    /// Connects, sends `request`, reads until `expect` is seen, closes.
    static func roundTrip(port: UInt16, request: String?, expect: String?) throws {
        guard let fd = connectTo(port: port) else { throw Failure(description: "connect failed") }
        defer { close(fd) }
        guard let request else { return }
        let bytes = Array(request.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw Failure(description: "write failed") }
        guard let expect else { return }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 256)
        while !String(decoding: received, as: UTF8.self).contains(expect) {
            let n = read(fd, &buffer, buffer.count)
            guard n > 0 else { throw Failure(description: "no reply") }
            received += buffer[0..<n]
        }
    }
}
