import PollTraceCore
/// What follows a call's closing `)`: ` = 3<socket:[123]>`, ` = -1 EAGAIN (…)`,
/// ` = ?`, and with `-T` the time spent in the call, ` <0.000013>`.
struct CallResult: Equatable {
    /// nil when strace printed `?` (the call never returned: exit, or killed).
    var value: Int64?
    /// The errno for `-1 EXXX` returns, 0 otherwise. Unknown names give -1.
    var errno: Int32 = 0
    /// The `-y` annotation on a returned fd (`3<anon_inode:[eventpoll]>`), unquoted.
    var annotation: Range<Int>?
    /// From `-T`.
    var durationNs: UInt64?

    var failed: Bool { errno != 0 }

    /// Parses `range`, which starts right after the `)`. Returns nil when there is
    /// no ` = ` (the line was cut before the result).
    static func parse(_ line: LineBytes, _ range: Range<Int>) -> CallResult? {
        var end = range.upperBound
        var result = CallResult()
        // `-T` time: the last ` <digits.digits>` on the line.
        if end > range.lowerBound, line[end - 1] == ASCII.greater {
            var j = end - 2
            while j > range.lowerBound, ASCII.isDigit(line[j]) || line[j] == ASCII.dot { j -= 1 }
            if j > range.lowerBound, line[j] == ASCII.less, j + 1 < end - 1 {
                if let seconds = parseSeconds(line, (j + 1)..<(end - 1)) {
                    result.durationNs = seconds
                    end = j
                }
            }
        }
        var i = line.skipSpaces(from: range.lowerBound, to: end)
        guard i < end, line[i] == ASCII.equals else { return nil }
        i = line.skipSpaces(from: i + 1, to: end)
        guard i < end else { return nil }
        if line[i] == ASCII.question {
            i += 1
        } else {
            guard let (value, after) = line.parseInteger(in: i..<end) else { return nil }
            result.value = value
            i = after
            if i < end, line[i] == ASCII.less {
                let close = ArgumentScanner.skipOpaque(line, at: i, end: end) ?? end
                result.annotation = (i + 1)..<max(i + 1, close - 1)
                i = close
            }
        }
        i = line.skipSpaces(from: i, to: end)
        if i < end, line[i] == 0x45 {  // "E": an errno name
            var j = i
            while j < end, ASCII.isNameByte(line[j]) { j += 1 }
            // EAGAIN ends nearly every non-blocking read, write and accept loop: it is
            // checked by its bytes before the table (a string and a hash per line).
            if line.equals("EAGAIN", in: i..<j) {
                result.errno = Self.eagain
            } else {
                result.errno = ErrnoNames.numbers[line.string(i..<j)] ?? -1
            }
        }
        return result
    }

    private static let eagain = ErrnoNames.numbers["EAGAIN"]!

    /// `0.000013` as nanoseconds.
    static func parseSeconds(_ line: LineBytes, _ range: Range<Int>) -> UInt64? {
        var i = range.lowerBound
        var whole: UInt64 = 0
        while i < range.upperBound, ASCII.isDigit(line[i]) {
            whole = whole &* 10 &+ UInt64(line[i] - ASCII.zero)
            i += 1
        }
        guard i < range.upperBound, line[i] == ASCII.dot else { return nil }
        let (fraction, _) = LineFraming.parseFraction(line, from: i + 1, end: range.upperBound)
        return whole &* 1_000_000_000 &+ fraction
    }
}
