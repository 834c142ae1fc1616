import PollTraceCore
import PollTraceDaemon
import XCTest

final class HTTPRequestParserTests: XCTestCase {
    private func parseAll(_ chunks: [String], limits: HTTPParserLimits = HTTPParserLimits()) -> [HTTPRequestParser.Step] {
        var parser = HTTPRequestParser(limits: limits)
        var steps: [HTTPRequestParser.Step] = []
        for chunk in chunks {
            parser.append(Array(chunk.utf8))
            while true {
                let step = parser.next()
                if step == .needMoreData { break }
                steps.append(step)
                if case .failure = step { return steps }
            }
        }
        return steps
    }

    func testParse_whenWholeRequestArrivesAtOnce_givesMethodTargetHeadersAndBody() {
        let steps = parseAll(["POST /api/rtp/open?x=1 HTTP/1.1\r\nHost: a\r\nContent-Length: 13\r\n\r\n{\"port\":4000}"])
        guard case .request(let request)? = steps.first, steps.count == 1 else {
            return XCTFail("one complete request should parse to exactly one request, got \(steps)")
        }
        XCTAssertEqual(request.method, "POST")
        XCTAssertEqual(request.path, "/api/rtp/open", "path must exclude the query string")
        XCTAssertEqual(request.queryItems, ["x": "1"])
        XCTAssertEqual(request.minorVersion, 1)
        XCTAssertEqual(request.header("content-length"), "13", "header lookup must ignore case")
        XCTAssertEqual(String(decoding: request.body, as: UTF8.self), "{\"port\":4000}")
    }

    func testParse_whenRequestIsSplitAtEveryByte_givesTheSameRequestAsWhole() {
        let text = "POST /api/rtp/close HTTP/1.1\r\nContent-Length: 11\r\nX-A:  padded \t\r\n\r\n{\"port\":1} "
        let whole = parseAll([text])
        // Split on UTF-8 bytes, not Characters: "\r\n" is one Character in Swift.
        let byteByByte = parseAll(text.utf8.map { String(decoding: [$0], as: UTF8.self) })
        XCTAssertEqual(whole.count, 1)
        XCTAssertEqual(whole, byteByByte, "splitting the input at byte boundaries must not change the result")
        if case .request(let request)? = whole.first {
            XCTAssertEqual(request.header("X-A"), "padded", "optional whitespace around a value must be trimmed")
        }
    }

    func testParse_whenRandomSplitsOfPipelinedRequests_alwaysGivesSameRequests() {
        let text = "GET /api/rtp HTTP/1.1\r\n\r\nPOST /api/rtp/open HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}GET /api/stats HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        let expected = parseAll([text])
        XCTAssertEqual(expected.count, 3, "three pipelined requests")
        let seed = UInt64.random(in: 0...UInt64.max)
        var generator = SplitMix64(seed: seed)
        let bytes = Array(text.utf8)
        for _ in 0..<200 {
            var chunks: [String] = []
            var index = 0
            while index < bytes.count {
                let length = Int(generator.next() % 7) + 1
                let end = min(bytes.count, index + length)
                chunks.append(String(decoding: bytes[index..<end], as: UTF8.self))
                index = end
            }
            XCTAssertEqual(parseAll(chunks), expected, "random split changed the parse (seed \(seed))")
        }
    }

    func testKeepAlive_followsVersionDefaultsAndConnectionHeader() {
        XCTAssertTrue(HTTPRequest(method: "GET", target: "/", minorVersion: 1).wantsKeepAlive)
        XCTAssertFalse(HTTPRequest(method: "GET", target: "/", minorVersion: 1, headers: [("Connection", "close")]).wantsKeepAlive)
        XCTAssertFalse(HTTPRequest(method: "GET", target: "/", minorVersion: 0).wantsKeepAlive)
        XCTAssertTrue(HTTPRequest(method: "GET", target: "/", minorVersion: 0, headers: [("Connection", "Keep-Alive")]).wantsKeepAlive)
    }

    func testIsIdle_isFalseWhileAPartialRequestIsBuffered() {
        var parser = HTTPRequestParser()
        XCTAssertTrue(parser.isIdle)
        parser.append(Array("GET /api/rtp HT".utf8))
        XCTAssertEqual(parser.next(), .needMoreData)
        XCTAssertFalse(parser.isIdle, "half a request line must not count as idle (the half-request timeout relies on it)")
        parser.append(Array("TP/1.1\r\n\r\n".utf8))
        guard case .request = parser.next() else { return XCTFail("request should complete") }
        XCTAssertTrue(parser.isIdle)
    }

    private func failure(_ text: String, limits: HTTPParserLimits = HTTPParserLimits()) -> HTTPParseError? {
        let steps = parseAll([text], limits: limits)
        guard case .failure(let error)? = steps.last else { return nil }
        return error
    }

    func testMalformedInput_gives400() {
        let cases = [
            "GARBAGE\r\n\r\n",
            "GET  /api HTTP/1.1\r\n\r\n",
            "GET api HTTP/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            "GET / FTP/1.1\r\n\r\n",
        ]
        for text in cases {
            let error = failure(text)
            XCTAssertEqual(error?.status, .badRequest, "\(text.debugDescription) should be a 400, got \(String(describing: error))")
        }
        XCTAssertEqual(failure("GET / HTTP/2.0\r\n\r\n")?.status.code, 505)
        XCTAssertEqual(failure("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")?.status.code, 501)
    }

    func testOversizedRequestLine_gives413BeforeTheLineEnds() {
        let limits = HTTPParserLimits(maxRequestLineBytes: 64)
        let error = failure("GET /" + String(repeating: "a", count: 200), limits: limits)
        XCTAssertEqual(error, .requestLineTooLong(limit: 64), "a request line past the limit must fail without waiting for its end")
        XCTAssertEqual(error?.status.code, 413)
        let exact = "GET /" + String(repeating: "a", count: 64 - 14) + " HTTP/1.1"
        XCTAssertEqual(exact.utf8.count, 64)
        guard case .request? = parseAll([exact + "\r\n\r\n"], limits: limits).first else {
            return XCTFail("a request line of exactly the limit must be accepted")
        }
    }

    func testOversizedBody_gives413FromContentLengthAlone() {
        let limits = HTTPParserLimits(maxBodyBytes: 100)
        let error = failure("POST /api/rtp/open HTTP/1.1\r\nContent-Length: 101\r\n\r\n", limits: limits)
        XCTAssertEqual(error, .bodyTooLarge(length: 101, limit: 100), "the body limit must be checked before the body is read")
    }

    func testOversizedHeaders_gives431() {
        let limits = HTTPParserLimits(maxHeaderBytes: 100, maxHeaderCount: 4)
        XCTAssertEqual(failure("GET / HTTP/1.1\r\nX: " + String(repeating: "b", count: 200), limits: limits)?.status.code, 431)
        XCTAssertEqual(failure("GET / HTTP/1.1\r\nA: 1\r\nB: 1\r\nC: 1\r\nD: 1\r\nE: 1\r\n\r\n", limits: limits)?.status.code, 431)
    }

    func testAfterFailure_parserKeepsFailing() {
        var parser = HTTPRequestParser()
        parser.append(Array("BROKEN\r\n".utf8))
        guard case .failure = parser.next() else { return XCTFail("should fail") }
        parser.append(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        guard case .failure = parser.next() else { return XCTFail("a failed parser must not resynchronise on later bytes") }
    }
}
