/// The bpftrace program the eBPF recorder runs, and the x86_64 syscall numbers it
/// follows.
///
/// The program filters in the kernel: only threads of the traced process and of the
/// processes it forks pass (`@traced`, keyed by thread-group id, seeded with the
/// target pid and grown at every fork), and of their calls only those in `followed`
/// cross to user space, data calls only when they are the first on their fd in a
/// batch (`program`). Each crossing is one line:
///
/// | line                              | meaning                                          |
/// | --------------------------------- | ------------------------------------------------ |
/// | `R tid ns nr ret a0 a1 a2 a3`     | a followed call returned (`ns`: CLOCK_MONOTONIC) |
/// | `V tid mask data`                 | one `epoll_event` of the call that follows       |
/// | `P tid fd0 fd1`                   | the fd pair of the pipe/socketpair that follows  |
/// | `F tid ns child flags`            | `tid` cloned `child` with these clone flags      |
/// | `X tid ns`                        | the thread ended                                 |
/// | `Lost N events` (bpftrace's own)  | the perf buffer overflowed                       |
///
/// `V` and `P` lines precede their call's `R` line: one BPF program prints them all
/// without migrating, so they are consecutive in one CPU's buffer.
public enum EBPFScript {
    /// How many events of one epoll_wait result are read from user memory (a bounded
    /// loop, as the verifier demands). A larger result is written with `...`, which
    /// the importer counts as abbreviated.
    public static let maxEventsPerWait = 64

    /// The followed syscalls, x86_64 numbers (asm/unistd_64.h).
    public static let followed: [Int: String] = [
        0: "read", 1: "write", 2: "open", 3: "close", 17: "pread64", 18: "pwrite64", 19: "readv", 20: "writev",
        22: "pipe", 32: "dup", 33: "dup2", 40: "sendfile", 41: "socket", 42: "connect", 43: "accept",
        44: "sendto", 45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 48: "shutdown", 53: "socketpair",
        72: "fcntl", 213: "epoll_create", 232: "epoll_wait", 233: "epoll_ctl", 257: "openat", 272: "unshare",
        275: "splice", 281: "epoll_pwait", 282: "signalfd", 283: "timerfd_create", 284: "eventfd",
        288: "accept4", 289: "signalfd4", 290: "eventfd2", 291: "epoll_create1", 292: "dup3", 293: "pipe2",
        294: "inotify_init1", 299: "recvmmsg", 307: "sendmmsg", 319: "memfd_create", 434: "pidfd_open",
        436: "close_range", 437: "openat2", 441: "epoll_pwait2",
    ]

    /// The data calls: of these, only the first on an fd in a batch crosses (see
    /// `program`).
    public static let dataCalls: Set<Int> = [0, 1, 17, 18, 19, 20, 40, 44, 45, 46, 47, 275, 299, 307]

    /// The calls that create or close an fd (they reset the data-call filter).
    static let fdTableCalls: Set<Int> = [2, 3, 22, 32, 33, 41, 43, 53, 72, 213, 257, 282, 283, 284, 288, 289, 290,
                                         291, 292, 293, 294, 319, 434, 436, 437]

    /// `expr` is one of `ids`, as comparisons (cheaper than a map lookup per call).
    static func membership(_ expr: String, _ ids: Set<Int>) -> String {
        var ranges: [ClosedRange<Int>] = []
        for id in ids.sorted() {
            if let last = ranges.last, last.upperBound + 1 == id { ranges[ranges.count - 1] = last.lowerBound...id }
            else { ranges.append(id...id) }
        }
        return ranges.map { $0.count == 1 ? "\(expr) == \($0.lowerBound)" : "(\(expr) >= \($0.lowerBound) && \(expr) <= \($0.upperBound))" }
            .joined(separator: " || ")
    }

    /// The program; its one positional parameter (`$1`) is the pid to trace.
    ///
    /// Data calls are filtered in the kernel: one crosses only when it is the first
    /// on its fd in its thread since that thread's last epoll_wait returned, or
    /// since the process last created or closed an fd (`@last[tid, fd]` holds the
    /// batch and fd-table generations it was last printed at). That is what the
    /// analysis reads from them: whether a harvested event's fd was touched before
    /// the next wait, and the first touch of a number after it was reused.
    public static var program: String {
        let n = maxEventsPerWait
        let followedTest = membership("$id", Set(followed.keys))
        return """
        BEGIN {
          @traced[$1] = 1;
          printf("READY\\n");
        }
        tracepoint:sched:sched_process_fork /pid == $1 || @traced[pid]/ {
          @traced[args->child_pid] = 1;
          @fdgen[args->child_pid] = 1;
          printf("F %d %llu %d %llu\\n", tid, nsecs, args->child_pid, @cflags[tid]);
        }
        tracepoint:sched:sched_process_exit /pid == $1 || @traced[pid]/ {
          printf("X %d %llu\\n", tid, nsecs);
          delete(@args[tid]); delete(@gen[tid]); delete(@cflags[tid]);
        }
        tracepoint:raw_syscalls:sys_enter /pid == $1 || @traced[pid]/ {
          $id = args->id;
          if ($id == 56) { @cflags[tid] = args->args[0]; }
          if ($id == 57) { @cflags[tid] = 0; }
          if ($id == 58) { @cflags[tid] = 0x4100; }
          if ($id == 435) { @cflags[tid] = *(uint64*)uptr(args->args[0]); }
          if (\(followedTest)) {
            @args[tid] = (args->args[0], args->args[1], args->args[2], args->args[3]);
          }
        }
        tracepoint:raw_syscalls:sys_exit /pid == $1 || @traced[pid]/ {
          $id = args->id;
          if (!(\(followedTest))) { return; }
          $ret = args->ret;
          $a = @args[tid];
          if (\(membership("$id", dataCalls))) {
            $token = ((@gen[tid] + 1) << 32) | @fdgen[pid];
            if (@last[tid, $a.0] == $token) { return; }
            @last[tid, $a.0] = $token;
          }
          if (\(membership("$id", fdTableCalls))) {
            @fdgen[pid] = @fdgen[pid] + 1;
          }
          if ($id == 232 || $id == 281 || $id == 441) {
            @gen[tid] = @gen[tid] + 1;
            if ($ret > 0) {
              $p = (uint64)$a.1;
              $count = (uint64)$ret;
              if ($count > \(n)) { $count = \(n); }
              $i = (uint64)0;
              while ($i < $count) {
                printf("V %d %u %llu\\n", tid, *(uint32*)uptr($p + $i * 12), *(uint64*)uptr($p + $i * 12 + 4));
                $i++;
              }
            }
          }
          if ($id == 233 && $a.3 != 0) {
            $e = (uint64)$a.3;
            printf("V %d %u %llu\\n", tid, *(uint32*)uptr($e), *(uint64*)uptr($e + 4));
          }
          if (($id == 22 || $id == 293) && $ret == 0) {
            $q = (uint64)$a.0;
            printf("P %d %d %d\\n", tid, *(int32*)uptr($q), *(int32*)uptr($q + 4));
          }
          if ($id == 53 && $ret == 0) {
            $s = (uint64)$a.3;
            printf("P %d %d %d\\n", tid, *(int32*)uptr($s), *(int32*)uptr($s + 4));
          }
          printf("R %d %llu %d %lld %lld %lld %lld %lld\\n", tid, nsecs, $id, $ret, $a.0, $a.1, $a.2, $a.3);
        }
        END {
          clear(@traced); clear(@cflags); clear(@args); clear(@gen); clear(@fdgen); clear(@last);
        }

        """
    }
}
