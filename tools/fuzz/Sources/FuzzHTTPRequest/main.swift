import FuzzSupport
import Glibc
import PollTraceDaemon

/// Feeds the input to the control API's request parser in pieces, as reads from
/// a socket would deliver it, and takes every request out until it needs more
/// bytes or fails. The first byte sets the piece size, so the fuzzer also explores
/// where a read boundary falls.
func fuzzHTTPRequest(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let piece = Int(bytes[0] % 64) + 1
    var parser = HTTPRequestParser(limits: HTTPParserLimits(maxRequestLineBytes: 512, maxHeaderBytes: 2048,
                                                            maxHeaderCount: 16, maxBodyBytes: 1024))
    var offset = 1
    while offset < bytes.count {
        let end = min(bytes.count, offset + piece)
        parser.append(bytes[offset..<end])
        offset = end
        steps: while true {
            switch parser.next() {
            case .needMoreData: break steps
            case .request(let request): _ = (request.method, request.path, request.wantsKeepAlive)
            case .failure(let error): _ = (error.status, error.description); return 0
            }
        }
    }
    return 0
}

exit(runFuzzer { data, size in fuzzHTTPRequest(data, size) })
