import Foundation
import PollTraceCore
import Synchronization

/// Every load loop stops at whichever comes first: its count or its deadline.
struct LoadBounds: Sendable {
    var maxOperations: Int
    var deadlineNs: UInt64

    init(maxOperations: Int, seconds: Double) {
        self.maxOperations = maxOperations
        deadlineNs = MonotonicClock.nowNs() + UInt64(max(seconds, 0) * 1e9)
    }

    var timeIsUp: Bool { MonotonicClock.nowNs() >= deadlineNs }
}

/// Counters shared by worker threads.
final class LoadCounters: Sendable {
    let operations = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    let udpSent = Atomic<Int>(0)
    let tcpConnects = Atomic<Int>(0)
    /// Claimed before each operation, so the total never exceeds the bound.
    let claimed = Atomic<Int>(0)

    /// Errors since the last operation that succeeded (any worker's).
    let consecutiveErrors = Atomic<Int>(0)
    let lastSuccessNs = Atomic<UInt64>(MonotonicClock.nowNs())
    /// Set when nothing succeeded for `giveUpAfterNs`: the daemon is gone or stuck.
    let gaveUp = Atomic<Bool>(false)

    /// With nothing but errors for this long, every worker stops.
    static let giveUpAfterNs: UInt64 = 5_000_000_000

    /// Claims the next operation; false once `bounds` are reached or the load gave up.
    func claim(_ bounds: LoadBounds) -> Bool {
        guard !bounds.timeIsUp, !gaveUp.load(ordering: .relaxed) else { return false }
        return claimed.wrappingAdd(1, ordering: .relaxed).newValue <= bounds.maxOperations
    }

    func countOperation() {
        operations.wrappingAdd(1, ordering: .relaxed)
        consecutiveErrors.store(0, ordering: .relaxed)
        lastSuccessNs.store(MonotonicClock.nowNs(), ordering: .relaxed)
    }

    /// Counts an error and, after a few in a row, backs off (1 ms doubling to
    /// 200 ms), so a daemon that went away is not hammered at tens of thousands of
    /// failed connects a second; after `giveUpAfterNs` without a success the load stops.
    func countError() {
        errors.wrappingAdd(1, ordering: .relaxed)
        let run = consecutiveErrors.wrappingAdd(1, ordering: .relaxed).newValue
        let now = MonotonicClock.nowNs()
        if now &- lastSuccessNs.load(ordering: .relaxed) >= Self.giveUpAfterNs {
            gaveUp.store(true, ordering: .relaxed)
        }
        if run >= 4 { usleep(UInt32(min(200_000, 1_000 << min((run - 4) / 4, 8)))) }
    }
}

/// Runs `body(worker)` on `count` threads and waits for all of them.
func runWorkers(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    var threads: [NamedThread] = []
    for worker in 0..<count {
        do {
            threads.append(try NamedThread(name: "load-\(worker)", stackBytes: 256 * 1024) { body(worker) })
        } catch {
            FileHandle.standardError.write(Data("polltrace-load: \(error); running with \(threads.count) workers\n".utf8))
            break
        }
    }
    for thread in threads { thread.join() }
}

func monotonicSeconds() -> Double { Double(MonotonicClock.nowNs()) / 1e9 }

/// The one summary line scripts parse (`tools/bench-daemon.sh`), then a readable one.
func printResult(mode: String, counters: LoadCounters, seconds: Double, extra: [(String, String)] = []) {
    let operations = counters.operations.load(ordering: .relaxed)
    let rate = seconds > 0 ? Double(operations) / seconds : 0
    var fields = [("mode", mode), ("ops", "\(operations)"), ("seconds", String(format: "%.2f", seconds)),
                  ("rate", String(format: "%.1f", rate)), ("errors", "\(counters.errors.load(ordering: .relaxed))")]
    fields += extra
    if counters.gaveUp.load(ordering: .relaxed) { fields.append(("gave_up", "1")) }
    print("result " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
    if counters.gaveUp.load(ordering: .relaxed) {
        FileHandle.standardError.write(Data("polltrace-load: stopped early: no operation succeeded for \(LoadCounters.giveUpAfterNs / 1_000_000_000) s (is polltraced still running?)\n".utf8))
        exit(1)
    }
}
