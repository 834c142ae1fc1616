import Foundation
import PollTraceCore

/// Turns the eBPF recorder's raw lines (the loader's output, described in
/// Sources/polltrace-ebpf/main.c) into strace `-f -ttt` log lines, so that one
/// importer (`StraceImporter`) models fds, threads and epoll for both backends.
///
/// The raw lines are in the order the kernel reserved ring-buffer space, which two
/// CPUs' calls reach only roughly in time order. The log is sorted by the time each
/// call returned, which is when its effect on the fd table happened.
public struct EBPFLogTranslator {
    public struct Outcome: Equatable, Sendable {
        /// Calls, forks and exits written.
        public var lines: Int
        /// Records the kernel's ring buffer had no room for (each run of them is a gap record).
        public var lostEvents: UInt64
    }

    /// Added to the raw CLOCK_MONOTONIC times to make `-ttt` wall-clock times.
    var epochOffsetNs: Int64

    private struct Entry {
        var ns: UInt64
        var order: Int
        var tid: Int32
        var text: String
    }
    private var entries: [Entry] = []
    private var events: [Int32: [(mask: UInt32, data: UInt64)]] = [:]
    private var pairs: [Int32: (Int32, Int32)] = [:]
    private var lastNs: UInt64 = 0
    private var lastTID: Int32 = 0
    private var lost: UInt64 = 0

    public init(epochOffsetNs: Int64) { self.epochOffsetNs = epochOffsetNs }

    /// The offset that turns this machine's CLOCK_MONOTONIC into the epoch now.
    public static func currentEpochOffsetNs() -> Int64 {
        var mono = timespec(), real = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &real)
        return (Int64(real.tv_sec) - Int64(mono.tv_sec)) * 1_000_000_000 + Int64(real.tv_nsec) - Int64(mono.tv_nsec)
    }

    /// Translates the raw file at `raw` into the strace log at `log`.
    public static func translate(raw: String, log: String, epochOffsetNs: Int64) throws -> Outcome {
        var translator = EBPFLogTranslator(epochOffsetNs: epochOffsetNs)
        let text = try String(contentsOfFile: raw, encoding: .utf8)
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) { translator.feed(line) }
        let output = translator.finish()
        try output.text.write(toFile: log, atomically: false, encoding: .utf8)
        return output.outcome
    }

    public mutating func feed(_ line: Substring) {
        let f = line.split(separator: " ", omittingEmptySubsequences: true)
        guard let kind = f.first else { return }
        func int(_ i: Int) -> Int64? { i < f.count ? Int64(f[i]) : nil }
        switch kind {
        case "R":
            guard f.count == 9, let tid = int(1), let ns = int(2), let nr = int(3), let ret = int(4),
                  let a0 = int(5), let a1 = int(6), let a2 = int(7), let a3 = int(8) else { return }
            let tid32 = Int32(truncatingIfNeeded: tid)
            let text = callText(nr: Int(nr), ret: ret, args: [a0, a1, a2, a3], tid: tid32)
            events[tid32] = nil
            pairs[tid32] = nil
            if let text { add(ns: UInt64(ns), tid: tid32, text) }
        case "V":
            guard f.count == 4, let tid = int(1), let mask = UInt32(f[2]), let data = UInt64(f[3]) else { return }
            events[Int32(truncatingIfNeeded: tid), default: []].append((mask, data))
        case "P":
            guard f.count == 4, let tid = int(1), let a = int(2), let b = int(3) else { return }
            pairs[Int32(truncatingIfNeeded: tid)] = (Int32(truncatingIfNeeded: a), Int32(truncatingIfNeeded: b))
        case "F":
            guard f.count == 5, let tid = int(1), let ns = int(2), let child = int(3), let flags = UInt64(f[4]) else { return }
            add(ns: UInt64(ns), tid: Int32(truncatingIfNeeded: tid), "clone(flags=\(cloneFlags(flags))) = \(child)")
        case "X":
            guard f.count == 3, let tid = int(1), let ns = int(2) else { return }
            add(ns: UInt64(ns), tid: Int32(truncatingIfNeeded: tid), "+++ exited with 0 +++")
        case "Lost":
            // `Lost 123 events`: lost just after the last line read.
            guard f.count >= 2, let count = UInt64(f[1]) else { return }
            lost += count
            add(ns: lastNs, tid: lastTID, "+++ lost \(count) events +++")
        default:
            return
        }
    }

    private mutating func add(ns: UInt64, tid: Int32, _ text: String) {
        entries.append(Entry(ns: ns, order: entries.count, tid: tid, text: text))
        lastNs = max(lastNs, ns)
        lastTID = tid
    }

    /// The sorted log and what it holds.
    public mutating func finish() -> (text: String, outcome: Outcome) {
        entries.sort { ($0.ns, $0.order) < ($1.ns, $1.order) }
        var out = ""
        out.reserveCapacity(entries.count * 64)
        for entry in entries {
            let t = Int64(entry.ns) + epochOffsetNs
            let micros = (t % 1_000_000_000) / 1000
            out += "\(entry.tid) \(t / 1_000_000_000).\(String(micros).leftPadded(6)) \(entry.text)\n"
        }
        return (out, Outcome(lines: entries.count, lostEvents: lost))
    }

    private func cloneFlags(_ flags: UInt64) -> String {
        let files: UInt64 = 0x400
        return flags & files != 0 ? "CLONE_FILES|0x\(String(flags & ~files, radix: 16))" : "0x\(String(flags, radix: 16))"
    }

    private static func fd(_ v: Int64) -> String { String(Int32(truncatingIfNeeded: v)) }

    private static func result(_ ret: Int64) -> String {
        ret < 0 ? "-1 \(ErrnoNames.name(Int32(truncatingIfNeeded: -ret))) (eBPF)" : String(ret)
    }

    /// The strace text of one call, or nil for a call the log does not need.
    private func callText(nr: Int, ret: Int64, args a: [Int64], tid: Int32) -> String? {
        guard let name = EBPFSyscalls.followed[nr] else { return nil }
        let fd = Self.fd, r = Self.result(ret)
        switch nr {
        case 232, 281, 441:  // epoll_wait, epoll_pwait, epoll_pwait2
            let timeout = nr == 441 ? (a[3] == 0 ? "NULL" : "{tv_sec=0, tv_nsec=0}") : fd(a[3])
            guard ret >= 0 else { return "\(name)(\(fd(a[0])), 0x\(String(UInt64(bitPattern: a[1]), radix: 16)), \(a[2]), \(timeout)) = \(r)" }
            let got = events[tid] ?? []
            var items = got.map { "{events=0x\(String($0.mask, radix: 16)), data=0x\(String($0.data, radix: 16))}" }
            if Int64(got.count) < ret { items.append("...") }
            return "\(name)(\(fd(a[0])), [\(items.joined(separator: ", "))], \(a[2]), \(timeout)) = \(r)"
        case 233:  // epoll_ctl
            let ops = [1: "EPOLL_CTL_ADD", 2: "EPOLL_CTL_DEL", 3: "EPOLL_CTL_MOD"]
            let op = ops[Int(a[1])] ?? String(a[1])
            let event = events[tid]?.first.map { "{events=0x\(String($0.mask, radix: 16)), data=0x\(String($0.data, radix: 16))}" } ?? "NULL"
            return "epoll_ctl(\(fd(a[0])), \(op), \(fd(a[2])), \(event)) = \(r)"
        case 22, 293:  // pipe, pipe2
            guard ret == 0, let (x, y) = pairs[tid] else { return "\(name)(0x0) = \(r)" }
            return "\(name)([\(x), \(y)], \(a[1])) = \(r)"
        case 53:  // socketpair
            guard ret == 0, let (x, y) = pairs[tid] else { return "socketpair(\(a[0]), \(a[1]), \(a[2]), 0x0) = \(r)" }
            return "socketpair(\(a[0]), \(a[1]), \(a[2]), [\(x), \(y)]) = \(r)"
        case 33, 292:  // dup2, dup3
            return "\(name)(\(fd(a[0])), \(fd(a[1]))) = \(r)"
        case 72:  // fcntl
            let cmd = a[1] == 0 ? "F_DUPFD" : a[1] == 1030 ? "F_DUPFD_CLOEXEC" : String(a[1])
            return "fcntl(\(fd(a[0])), \(cmd)) = \(r)"
        case 436:  // close_range
            var flags: [String] = []
            if a[2] & 2 != 0 { flags.append("CLOSE_RANGE_UNSHARE") }
            if a[2] & 4 != 0 { flags.append("CLOSE_RANGE_CLOEXEC") }
            return "close_range(\(UInt32(truncatingIfNeeded: a[0])), \(UInt32(truncatingIfNeeded: a[1])), \(flags.isEmpty ? "0" : flags.joined(separator: "|"))) = \(r)"
        case 272:  // unshare
            return "unshare(\(a[0] & 0x400 != 0 ? "CLONE_FILES" : "0x\(String(a[0], radix: 16))")) = \(r)"
        case 40, 276:  // sendfile(out, in, …), tee(in, out, …)
            return "\(name)(\(fd(a[0])), \(fd(a[1])), NULL, \(a[3])) = \(r)"
        case 275, 326:  // splice, copy_file_range (in, off, out, …)
            return "\(name)(\(fd(a[0])), NULL, \(fd(a[2])), NULL, \(a[3]), 0) = \(r)"
        case 2, 41, 213, 257, 283, 284, 290, 291, 294, 319, 434, 437:  // create an fd from no fd
            return "\(name)() = \(r)"
        default:  // the first argument is an fd (signalfd's may be -1)
            return "\(name)(\(fd(a[0])), \(a[1]), \(a[2])) = \(r)"
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
