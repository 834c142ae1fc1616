/// The x86_64 syscalls the eBPF recorder's program follows (its `classify`, in
/// Sources/polltrace-ebpf/polltrace.bpf.c), by number (asm/unistd_64.h), with the
/// names the strace log gives them.
public enum EBPFSyscalls {
    public static let followed: [Int: String] = [
        0: "read", 1: "write", 2: "open", 3: "close", 5: "fstat", 8: "lseek", 16: "ioctl", 17: "pread64",
        18: "pwrite64", 19: "readv", 20: "writev", 22: "pipe", 32: "dup", 33: "dup2", 40: "sendfile",
        41: "socket", 42: "connect", 43: "accept", 44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg",
        48: "shutdown", 49: "bind", 50: "listen", 51: "getsockname", 52: "getpeername", 53: "socketpair",
        54: "setsockopt", 55: "getsockopt", 72: "fcntl", 73: "flock", 74: "fsync", 75: "fdatasync",
        77: "ftruncate", 213: "epoll_create", 217: "getdents64", 232: "epoll_wait", 233: "epoll_ctl",
        257: "openat", 272: "unshare", 275: "splice", 276: "tee", 281: "epoll_pwait", 282: "signalfd",
        283: "timerfd_create", 284: "eventfd", 286: "timerfd_settime", 287: "timerfd_gettime", 288: "accept4",
        289: "signalfd4", 290: "eventfd2", 291: "epoll_create1", 292: "dup3", 293: "pipe2", 294: "inotify_init1",
        295: "preadv", 296: "pwritev", 299: "recvmmsg", 307: "sendmmsg", 319: "memfd_create",
        326: "copy_file_range", 327: "preadv2", 328: "pwritev2", 434: "pidfd_open", 436: "close_range",
        437: "openat2", 441: "epoll_pwait2",
    ]
}
