/// What one line of an strace log says, once its prefixes are off.
enum LineBody {
    /// `name(args) = result`: a whole call.
    case call(name: Range<Int>, args: Range<Int>, rest: Range<Int>)
    /// `name(args… <unfinished ...>`: another thread's line came between the call's
    /// start and its end; the end follows as `.resumed`.
    case unfinished(name: Range<Int>, partialArgs: Range<Int>)
    /// `<... name resumed>args…) = result` (strace 6.x prints no space after `>`
    /// when the rest starts with `)`, older versions print one; both are accepted).
    case resumed(name: Range<Int>, restOfLine: Range<Int>)
    /// `--- SIGCHLD {si_signo=…} ---`
    case signal
    /// `+++ exited with 0 +++` or `+++ killed by SIGKILL +++`: the thread is gone.
    case exit
    /// `+++ lost 12 events +++`: the eBPF recorder's ring buffer overflowed and this
    /// many kernel events never reached the log (strace never prints this).
    case lost(count: UInt64)
    /// strace's own messages (`strace: Process 12 attached`) and blank lines.
    case note
    /// A call whose `)` or result is missing: the line was cut.
    case truncated
    /// Anything else.
    case garbage

    /// A `.call`'s top-level argument commas go into `commas` (see `ArgumentScanner.closingParen`).
    static func classify(_ line: LineBytes, _ body: Range<Int>, commas: inout CommaList) -> LineBody {
        let start = body.lowerBound, end = body.upperBound
        guard start < end else { return .note }
        let first = line[start]
        if first == ASCII.minus, line.matches("--- ", at: start, end: end) { return .signal }
        if first == ASCII.plus, line.matches("+++ ", at: start, end: end) {
            if line.matches("+++ lost ", at: start, end: end),
               let (count, _) = line.parseInteger(in: (start + 9)..<end), count >= 0 {
                return .lost(count: UInt64(count))
            }
            return .exit
        }
        if first == ASCII.less, line.matches("<... ", at: start, end: end) {
            var i = start + 5
            let nameStart = i
            while i < end, ASCII.isNameByte(line[i]) { i += 1 }
            let name = nameStart..<i
            guard !name.isEmpty, line.matches(" resumed>", at: i, end: end) else { return .garbage }
            return .resumed(name: name, restOfLine: (i + 9)..<end)
        }
        if first == 0x73, line.matches("strace: ", at: start, end: end) { return .note }  // "s"
        var i = start
        while i < end, ASCII.isNameByte(line[i]) { i += 1 }
        let name = start..<i
        guard !name.isEmpty, i < end, line[i] == ASCII.openParen, !ASCII.isDigit(line[start]) else { return .garbage }
        let argsStart = i + 1
        // strace detached (`-p` and Ctrl-C) while the call was in progress.
        let endsWithGreater = line[end - 1] == ASCII.greater
        if endsWithGreater, line.hasSuffix("<detached ...>", in: body) { return .note }
        if endsWithGreater, line.hasSuffix("<unfinished ...>", in: body) {
            let partialEnd = end - 16  // "<unfinished ...>"
            var trimmedEnd = partialEnd
            while trimmedEnd > argsStart, line[trimmedEnd - 1] == ASCII.space { trimmedEnd -= 1 }
            return .unfinished(name: name, partialArgs: argsStart..<trimmedEnd)
        }
        guard let close = ArgumentScanner.closingParen(line, from: argsStart, end: end, commas: &commas) else { return .truncated }
        return .call(name: name, args: argsStart..<close, rest: (close + 1)..<end)
    }
}
