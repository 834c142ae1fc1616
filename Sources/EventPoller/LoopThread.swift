import Glibc
import CLinux

/// A pthread that runs one closure, and can be joined. (Foundation's `Thread`
/// cannot be joined; the poller's `join` needs that.)
final class LoopThread: @unchecked Sendable {
    // Written once by `init`, read by `join` on the thread that owns this object.
    private var handle = pthread_t()

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// `name` shows in `top -H`, `ps -L` and perf (cut to the kernel's 15 bytes).
    /// Without it a thread inherits its creator's name, often a Dispatch queue's.
    init(name: String, body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(Box({
            clinux_name_this_thread(name)
            body()
        })).toOpaque()
        let result = pthread_create(&handle, nil, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SyscallError(call: "pthread_create", errno: result)
        }
    }

    func join() {
        pthread_join(handle, nil)
    }

    static var currentID: UInt { UInt(pthread_self()) }
}
