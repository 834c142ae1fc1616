import FuzzSupport
import Glibc
import PollTraceCore
import PollTraceStrace

/// Feeds the input as an strace log, line by line, through the importer and the
/// hazard analysis (what `polltrace import` runs), then ends the log.
func fuzzStraceLine(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let analyzer = ForeignHazardAnalyzer()
    let importer = StraceImporter(sequence: SequenceCounter(), consumers: [analyzer])
    var start = 0
    var number: UInt32 = 0
    while start <= bytes.count {
        let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
        number += 1
        importer.feed(UnsafeBufferPointer(rebasing: bytes[start..<end]), number: number)
        start = end + 1
    }
    importer.finish()
    analyzer.finish()
    _ = ForeignReport(findings: analyzer.findings, statistics: analyzer.stats,
                      diagnostics: importer.diagnostics).renderText()
    return 0
}

exit(runFuzzer { data, size in fuzzStraceLine(data, size) })
