import Dispatch
import Foundation
import Synchronization

/// Every load loop stops at whichever comes first: its count or its deadline.
struct LoadBounds: Sendable {
    var maxOperations: Int
    var deadlineNs: UInt64

    init(maxOperations: Int, seconds: Double) {
        self.maxOperations = maxOperations
        deadlineNs = DispatchTime.now().uptimeNanoseconds + UInt64(max(seconds, 0) * 1e9)
    }

    var timeIsUp: Bool { DispatchTime.now().uptimeNanoseconds >= deadlineNs }
}

/// Counters shared by worker threads.
final class LoadCounters: Sendable {
    let operations = Atomic<Int>(0)
    let errors = Atomic<Int>(0)
    let udpSent = Atomic<Int>(0)
    let tcpConnects = Atomic<Int>(0)
    /// Claimed before each operation, so the total never exceeds the bound.
    let claimed = Atomic<Int>(0)

    /// Claims the next operation; false once `bounds` are reached.
    func claim(_ bounds: LoadBounds) -> Bool {
        guard !bounds.timeIsUp else { return false }
        return claimed.wrappingAdd(1, ordering: .relaxed).newValue <= bounds.maxOperations
    }

    func countOperation() { operations.wrappingAdd(1, ordering: .relaxed) }
    func countError() { errors.wrappingAdd(1, ordering: .relaxed) }
}

/// Runs `body(worker)` on `count` threads and waits for all of them.
func runWorkers(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchSemaphore(value: 0)
    for worker in 0..<count {
        let thread = Thread {
            body(worker)
            done.signal()
        }
        thread.stackSize = 256 * 1024
        thread.start()
    }
    for _ in 0..<count { done.wait() }
}

func monotonicSeconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// The one summary line scripts parse (`tools/bench-daemon.sh`), then a readable one.
func printResult(mode: String, counters: LoadCounters, seconds: Double, extra: [(String, String)] = []) {
    let operations = counters.operations.load(ordering: .relaxed)
    let rate = seconds > 0 ? Double(operations) / seconds : 0
    var fields = [("mode", mode), ("ops", "\(operations)"), ("seconds", String(format: "%.2f", seconds)),
                  ("rate", String(format: "%.1f", rate)), ("errors", "\(counters.errors.load(ordering: .relaxed))")]
    fields += extra
    print("result " + fields.map { "\($0.0)=\($0.1)" }.joined(separator: " "))
}
