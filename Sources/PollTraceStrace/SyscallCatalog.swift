import PollTraceCore

/// What the importer needs to know about a syscall: what it does to the fd table
/// and the epoll interest lists, and which of its arguments are fds.
enum SyscallRole: Equatable {
    case epollCreate
    case epollControl
    case epollWait
    case close
    case closeRange
    /// Returns a new fd (socket, eventfd, open…).
    case createsReturned(FDOrigin)
    /// Writes two new fds into the `[a, b]` array at this argument (pipe, socketpair).
    case createsPair(FDOrigin, argument: Int)
    /// accept/accept4: a data call on the listener that returns a new fd.
    case accept
    case dup
    /// dup2/dup3: the new number is the second argument, closed first if open.
    case dupTo
    /// fcntl: F_DUPFD/F_DUPFD_CLOEXEC create an fd; everything else acts on one.
    case fcntl
    /// signalfd/signalfd4: creates an fd when the first argument is -1.
    case signalfd
    /// Acts on the fds at these arguments. `isData` marks the read/recv/write/send
    /// family: the calls that handle an event.
    case actsOn(FDArguments, isData: Bool)
    case clone
    case fork
    case unshare
    /// A known syscall that does nothing the analysis follows (mmap, futex…).
    case ignored
}

/// The one or two arguments of a call that are fds. A plain value, not an array:
/// the importer copies a role out of its name cache on every line.
struct FDArguments: Equatable {
    var first: Int
    var second: Int?

    static let firstOnly = FDArguments(first: 0, second: nil)
}

enum SyscallCatalog {
    /// The role of a syscall name; nil for a name no kernel has.
    static func role(of name: String) -> SyscallRole? {
        if let role = roles[name] { return role }
        return KnownSyscalls.names.contains(name) ? .ignored : nil
    }

    /// Calls that wait on an epoll fd; the analysis treats them alike.
    static let waitNames: Set<String> = ["epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_wait_old"]

    private static let dataOnFirst = [
        "read", "readv", "pread64", "preadv", "preadv2", "recv", "recvfrom", "recvmsg", "recvmmsg",
        "write", "writev", "pwrite64", "pwritev", "pwritev2", "send", "sendto", "sendmsg", "sendmmsg",
    ]
    private static let setupOnFirst = [
        "connect", "bind", "listen", "shutdown", "getsockname", "getpeername", "setsockopt", "getsockopt",
        "ioctl", "fstat", "fstat64", "fstatfs", "lseek", "_llseek", "fsync", "fdatasync", "ftruncate", "fchmod",
        "fchown", "flock", "getdents", "getdents64", "fadvise64", "fallocate", "timerfd_settime",
        "timerfd_gettime", "inotify_add_watch", "inotify_rm_watch", "fgetxattr", "fsetxattr", "flistxattr",
        "fremovexattr", "sync_file_range", "syncfs", "fchdir", "readahead", "fcntl64", "io_uring_enter",
        "io_uring_register", "pidfd_send_signal", "vmsplice", "fanotify_mark", "fsconfig", "fstatat64",
    ]

    private static let roles: [String: SyscallRole] = {
        var table: [String: SyscallRole] = [
            "epoll_create": .epollCreate, "epoll_create1": .epollCreate,
            "epoll_ctl": .epollControl, "epoll_ctl_old": .epollControl,
            "epoll_wait": .epollWait, "epoll_pwait": .epollWait, "epoll_pwait2": .epollWait,
            "epoll_wait_old": .epollWait,
            "close": .close, "close_range": .closeRange,
            "socket": .createsReturned(.socket),
            "accept": .accept, "accept4": .accept,
            "eventfd": .createsReturned(.eventfd), "eventfd2": .createsReturned(.eventfd),
            "timerfd_create": .createsReturned(.timerfd),
            "pipe": .createsPair(.pipe, argument: 0), "pipe2": .createsPair(.pipe, argument: 0),
            "socketpair": .createsPair(.socketpair, argument: 3),
            "dup": .dup, "dup2": .dupTo, "dup3": .dupTo,
            "fcntl": .fcntl, "fcntl64": .fcntl,
            "open": .createsReturned(.file), "openat": .createsReturned(.file), "openat2": .createsReturned(.file),
            "creat": .createsReturned(.file), "open_by_handle_at": .createsReturned(.file),
            "open_tree": .createsReturned(.other), "fsopen": .createsReturned(.other),
            "fsmount": .createsReturned(.other), "fspick": .createsReturned(.other),
            "signalfd": .signalfd, "signalfd4": .signalfd,
            "memfd_create": .createsReturned(.memfd), "memfd_secret": .createsReturned(.memfd),
            "inotify_init": .createsReturned(.other), "inotify_init1": .createsReturned(.other),
            "fanotify_init": .createsReturned(.other), "userfaultfd": .createsReturned(.other),
            "pidfd_open": .createsReturned(.other), "pidfd_getfd": .createsReturned(.other),
            "perf_event_open": .createsReturned(.other), "io_uring_setup": .createsReturned(.other),
            "mq_open": .createsReturned(.other),
            "sendfile": .actsOn(FDArguments(first: 0, second: 1), isData: true), "sendfile64": .actsOn(FDArguments(first: 0, second: 1), isData: true),
            "splice": .actsOn(FDArguments(first: 0, second: 2), isData: true), "tee": .actsOn(FDArguments(first: 0, second: 1), isData: true),
            "copy_file_range": .actsOn(FDArguments(first: 0, second: 2), isData: true),
            "clone": .clone, "clone3": .clone, "fork": .fork, "vfork": .fork, "unshare": .unshare,
        ]
        for name in dataOnFirst { table[name] = .actsOn(.firstOnly, isData: true) }
        for name in setupOnFirst where table[name] == nil { table[name] = .actsOn(.firstOnly, isData: false) }
        return table
    }()
}
