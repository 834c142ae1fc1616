/// The bpftrace program the eBPF recorder runs, and the x86_64 syscall numbers it
/// follows.
///
/// The program filters in the kernel: only threads of the traced process and of the
/// processes it forks pass (`@traced`, keyed by thread-group id, seeded with the
/// target pid and grown at every fork), and of their calls only those in `followed`
/// cross to user space. Each crossing is one line:
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

    /// The program; its one positional parameter (`$1`) is the pid to trace.
    public static var program: String {
        let wanted = followed.keys.sorted().map { "@want[\($0)] = 1;" }.joined(separator: " ")
        let n = maxEventsPerWait
        return """
        BEGIN {
          \(wanted)
          @traced[$1] = 1;
          printf("READY\\n");
        }
        tracepoint:sched:sched_process_fork /@traced[pid]/ {
          @traced[args->child_pid] = 1;
          printf("F %d %llu %d %llu\\n", tid, nsecs, args->child_pid, @cflags[tid]);
        }
        tracepoint:sched:sched_process_exit /@traced[pid]/ {
          printf("X %d %llu\\n", tid, nsecs);
        }
        tracepoint:raw_syscalls:sys_enter /@traced[pid]/ {
          $id = args->id;
          if ($id == 56) { @cflags[tid] = args->args[0]; }
          if ($id == 57) { @cflags[tid] = 0; }
          if ($id == 58) { @cflags[tid] = 0x4100; }
          if ($id == 435) { @cflags[tid] = *(uint64*)uptr(args->args[0]); }
          if (@want[$id]) {
            @a0[tid] = args->args[0]; @a1[tid] = args->args[1]; @a2[tid] = args->args[2]; @a3[tid] = args->args[3];
          }
        }
        tracepoint:raw_syscalls:sys_exit /@traced[pid] && @want[args->id]/ {
          $id = args->id;
          $ret = args->ret;
          if (($id == 232 || $id == 281 || $id == 441) && $ret > 0) {
            $p = (uint64)@a1[tid];
            $count = (uint64)$ret;
            if ($count > \(n)) { $count = \(n); }
            $i = (uint64)0;
            while ($i < $count) {
              printf("V %d %u %llu\\n", tid, *(uint32*)uptr($p + $i * 12), *(uint64*)uptr($p + $i * 12 + 4));
              $i++;
            }
          }
          if ($id == 233 && @a3[tid] != 0) {
            $e = (uint64)@a3[tid];
            printf("V %d %u %llu\\n", tid, *(uint32*)uptr($e), *(uint64*)uptr($e + 4));
          }
          if (($id == 22 || $id == 293) && $ret == 0) {
            $q = (uint64)@a0[tid];
            printf("P %d %d %d\\n", tid, *(int32*)uptr($q), *(int32*)uptr($q + 4));
          }
          if ($id == 53 && $ret == 0) {
            $s = (uint64)@a3[tid];
            printf("P %d %d %d\\n", tid, *(int32*)uptr($s), *(int32*)uptr($s + 4));
          }
          printf("R %d %llu %d %lld %lld %lld %lld %lld\\n", tid, nsecs, $id, $ret, @a0[tid], @a1[tid], @a2[tid], @a3[tid]);
        }
        END {
          clear(@want); clear(@traced); clear(@cflags); clear(@a0); clear(@a1); clear(@a2); clear(@a3);
        }

        """
    }
}
