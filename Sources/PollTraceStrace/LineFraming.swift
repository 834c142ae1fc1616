/// The prefixes strace puts before a call: which thread made it and when.
///
/// strace prints, in this order and each optional:
/// - the thread id: `[pid  1234] ` on a terminal with `-f`, or a bare `1234  ` when
///   the log goes to a file with `-o` and `-f`;
/// - the time: `20:35:01 ` (`-t`), `20:35:01.123456 ` (`-tt`) or
///   `1795811736.143509 ` (`-ttt`).
///
/// A bare pid and a `-ttt` timestamp both start with digits; they differ in what
/// follows the digits (a blank for the pid, a `.` for the time).
struct FramedLine {
    /// The thread id, or nil when the log has no `-f` prefix (one thread).
    var pid: Int32?
    /// Nanoseconds: since the epoch for `-ttt`, since midnight for `-t`/`-tt`.
    var timeNs: UInt64?
    /// True when the time is the wall clock since the epoch (`-ttt`).
    var timeIsEpoch: Bool
    /// What follows the prefixes, without trailing blanks or `\r`.
    var body: Range<Int>
}

enum LineFraming {
    static func frame(_ line: LineBytes) -> FramedLine {
        var end = line.count
        while end > 0, line[end - 1] == ASCII.carriageReturn || line[end - 1] == ASCII.space { end -= 1 }
        var i = line.skipSpaces(from: 0, to: end)
        var pid: Int32?

        if line.matches("[pid", at: i, end: end) {
            var j = line.skipSpaces(from: i + 4, to: end)
            if let (value, after) = line.parseInteger(in: j..<end), after < end, line[after] == ASCII.closeBracket {
                pid = Int32(truncatingIfNeeded: value)
                j = after + 1
                i = line.skipSpaces(from: j, to: end)
            }
        } else if i < end, ASCII.isDigit(line[i]) {
            // The digits are read as `parseInteger` reads them (wrapping), in the same pass.
            var j = i
            var value: UInt64 = 0
            while j < end, ASCII.isDigit(line[j]) {
                value = value &* 10 &+ UInt64(line[j] &- ASCII.zero)
                j += 1
            }
            if j < end, line[j] == ASCII.space {
                pid = Int32(truncatingIfNeeded: Int64(bitPattern: value))
                i = line.skipSpaces(from: j, to: end)
            }
        }

        var timeNs: UInt64?
        var epoch = false
        if i < end, ASCII.isDigit(line[i]), let (ns, isEpoch, after) = parseTimestamp(line, from: i, end: end) {
            timeNs = ns
            epoch = isEpoch
            i = line.skipSpaces(from: after, to: end)
        }
        return FramedLine(pid: pid, timeNs: timeNs, timeIsEpoch: epoch, body: i..<end)
    }

    /// The digits at `start` as a fraction of a second, in nanoseconds (digits past
    /// the ninth count for nothing), and where they end.
    @inline(__always)
    static func parseFraction(_ line: LineBytes, from start: Int, end: Int) -> (ns: UInt64, end: Int) {
        var i = start
        var digits: UInt64 = 0
        var count = 0
        while i < end, ASCII.isDigit(line[i]) {
            if count < 9 {
                digits = digits &* 10 &+ UInt64(line[i] &- ASCII.zero)
                count += 1
            }
            i += 1
        }
        return (digits &* nanosecondScale[count], i)
    }

    /// 10^(9 - k): what a fraction of k digits is multiplied by to make nanoseconds.
    private static let nanosecondScale: [UInt64] = [
        1_000_000_000, 100_000_000, 10_000_000, 1_000_000, 100_000, 10_000, 1_000, 100, 10, 1,
    ]

    /// `HH:MM:SS[.ffffff]` or `SSSSSSSSSS.ffffff`, followed by a blank.
    static func parseTimestamp(_ line: LineBytes, from start: Int, end: Int) -> (UInt64, Bool, Int)? {
        var i = start
        var seconds: UInt64 = 0
        var field: UInt64 = 0
        var colons = 0
        while i < end {
            let b = line[i]
            if ASCII.isDigit(b) {
                field = field &* 10 &+ UInt64(b - ASCII.zero)
            } else if b == ASCII.colon {
                seconds = (seconds &+ field) &* 60
                field = 0
                colons += 1
            } else {
                break
            }
            i += 1
        }
        guard i > start, colons == 0 || colons == 2 else { return nil }
        seconds = seconds &+ field
        var fractionNs: UInt64 = 0
        if i < end, line[i] == ASCII.dot {
            i += 1
            let fractionStart = i
            (fractionNs, i) = parseFraction(line, from: i, end: end)
            guard i > fractionStart else { return nil }
        } else if colons == 0 {
            return nil  // a bare number is a pid or garbage, not a time
        }
        guard i < end, line[i] == ASCII.space else { return nil }
        return (seconds &* 1_000_000_000 &+ fractionNs, colons == 0, i)
    }
}
