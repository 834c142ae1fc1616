import PollTraceDaemon
import XCTest

final class RouterTests: XCTestCase {
    func testResolve_knownPathAndMethod_givesEndpoint() {
        let router = ControlEndpoint.router
        XCTAssertEqual(router.resolve(method: "POST", path: "/api/rtp/open"), .endpoint(.openService))
        XCTAssertEqual(router.resolve(method: "POST", path: "/api/rtp/close"), .endpoint(.closeService))
        XCTAssertEqual(router.resolve(method: "GET", path: "/api/rtp"), .endpoint(.listServices))
        XCTAssertEqual(router.resolve(method: "GET", path: "/api/stats"), .endpoint(.stats))
        XCTAssertEqual(router.resolve(method: "POST", path: "/api/trace/rotate"), .endpoint(.rotateTrace))
    }

    func testResolve_unknownPath_isNotFound_andWrongMethod_isMethodNotAllowedWithAllowList() {
        let router = ControlEndpoint.router
        XCTAssertEqual(router.resolve(method: "GET", path: "/api/nope"), .notFound(path: "/api/nope"))
        XCTAssertEqual(router.resolve(method: "GET", path: "/api/rtp/"), .notFound(path: "/api/rtp/"),
                       "paths match exactly; a trailing slash is another path")
        XCTAssertEqual(router.resolve(method: "GET", path: "/api/rtp/open"),
                       .methodNotAllowed(path: "/api/rtp/open", allowed: ["POST"]))
        XCTAssertEqual(router.resolve(method: "DELETE", path: "/api/stats"),
                       .methodNotAllowed(path: "/api/stats", allowed: ["GET"]))
    }

    func testResolve_usesPathWithoutQuery() {
        let request = HTTPRequest(method: "POST", target: "/api/rtp/close?port=4000")
        XCTAssertEqual(ControlEndpoint.router.resolve(request), .endpoint(.closeService))
    }

    func testPortArgument_acceptsJSONBodyOrQuery_andRejectsBadValues() {
        func parse(_ body: String, target: String = "/api/rtp/open") -> Result<Int?, PortArgument.Failure> {
            PortArgument.parse(HTTPRequest(method: "POST", target: target, body: Array(body.utf8)))
        }
        XCTAssertEqual(parse(""), .success(nil))
        XCTAssertEqual(parse("{}"), .success(nil))
        XCTAssertEqual(parse(#"{"port": 40000}"#), .success(40000))
        XCTAssertEqual(parse("", target: "/api/rtp/open?port=0"), .success(0))
        XCTAssertEqual(parse(#"{"port": 70000}"#), .failure(.outOfRange(70000)))
        XCTAssertEqual(parse("[1]"), .failure(.bodyNotJSONObject))
        XCTAssertEqual(parse("{not json"), .failure(.bodyNotJSONObject))
        guard case .failure(.notAnInteger) = parse(#"{"port": true}"#) else { return XCTFail("true is not a port") }
        guard case .failure(.notAnInteger) = parse(#"{"port": 1.5}"#) else { return XCTFail("1.5 is not a port") }
        guard case .failure(.notAnInteger) = parse("", target: "/x?port=abc") else { return XCTFail("abc is not a port") }
    }

    func testResponse_bytesCarryStatusLengthAndJSON() {
        let response = HTTPResponse.error(.notFound, "no service on port 1", closesConnection: true)
        let text = String(decoding: response.bytes, as: UTF8.self)
        XCTAssertTrue(text.hasPrefix("HTTP/1.1 404 Not Found\r\n"), text)
        XCTAssertTrue(text.contains("Connection: close\r\n"), text)
        let body = text.components(separatedBy: "\r\n\r\n").last ?? ""
        XCTAssertTrue(text.contains("Content-Length: \(body.utf8.count)\r\n"), "Content-Length must match the body: \(text)")
        XCTAssertEqual(body, #"{"error":"no service on port 1","status":404}"# + "\n")
    }
}
