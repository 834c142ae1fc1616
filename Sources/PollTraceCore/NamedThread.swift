import CLinux
import Glibc

/// A pthread that runs one closure: the one way the project starts a thread of its
/// own (a poller's loop, the trace writer, the daemon's rotation work).
///
/// A pthread rather than Foundation's `Thread` because a poller's `join` and a
/// writer's `close` must wait for the thread to end, and a `Thread` cannot be
/// joined. Named, because otherwise a thread inherits its creator's name (often a
/// Dispatch queue's) in `top -H`, `ps -L` and perf.
///
/// Call `join` or `detach` exactly once, from a thread other than this one.
public final class NamedThread: @unchecked Sendable {
    // Written once by `init`; read by `join` or `detach`, which the owner calls once.
    private var handle = pthread_t()

    /// The thread could not be started (`pthread_create` returned `errno`).
    public struct StartFailure: Error, CustomStringConvertible {
        public var name: String
        public var errno: Int32
        public var description: String {
            "could not start thread '\(name)': \(String(cString: strerror(errno))) (pthread_create, errno \(errno))"
        }
    }

    private final class Box {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    /// Starts a thread named `name` (cut to the kernel's 15 bytes) running `body`,
    /// with a stack of `stackBytes` (nil: the system's default, `ulimit -s`; a load
    /// generator running hundreds of small workers asks for less).
    public init(name: String, stackBytes: Int? = nil, _ body: @escaping @Sendable () -> Void) throws {
        let box = Unmanaged.passRetained(Box({
            clinux_name_this_thread(name)
            body()
        })).toOpaque()
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        if let stackBytes { pthread_attr_setstacksize(&attributes, max(stackBytes, Int(PTHREAD_STACK_MIN))) }
        let code = pthread_create(&handle, &attributes, { argument in
            let box = Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        guard code == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw StartFailure(name: name, errno: code)
        }
        // Named from here too, so the name is there when `init` returns (the thread
        // names itself as well, for the moment before this call lands).
        _ = clinux_name_thread(handle, String(name.utf8.prefix(15))!)
    }

    /// Waits for the thread to end.
    public func join() { pthread_join(handle, nil) }

    /// Lets the thread end on its own: nobody will join it, and the system frees it
    /// when it ends (a thread neither joined nor detached keeps its stack).
    public func detach() { pthread_detach(handle) }

    /// The calling thread's id, to tell whether code runs on a given thread.
    public static var currentID: UInt { UInt(pthread_self()) }
}
