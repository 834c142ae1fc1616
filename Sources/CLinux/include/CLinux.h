#ifndef POLLTRACE_CLINUX_H
#define POLLTRACE_CLINUX_H

// Swift's Glibc module does not export these headers. Including them here makes
// `struct epoll_event` import with its kernel layout: packed, 12 bytes on x86_64.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/socket.h>
#include <sys/resource.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <signal.h>
#include <time.h>
#include <sys/prctl.h>
#include <pthread.h>

/// errno read through a function: Swift cannot read the thread-local macro directly.
static inline int clinux_errno(void) { return errno; }

/// The monotonic clock in nanoseconds (vDSO, no syscall on x86_64).
static inline unsigned long long clinux_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

/// accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC): one syscall where
/// accept + fcntl took four. Returns the fd, or -1 with errno set.
int clinux_accept_nonblocking_cloexec(int listener_fd);

/// pipe2(fds, O_NONBLOCK | O_CLOEXEC). Returns 0, or -1 with errno set.
int clinux_pipe_nonblocking_cloexec(int fds[2]);

/// Moves thread `tid` (0: the calling thread; Linux schedules threads, not
/// processes) into SCHED_IDLE (`idle` != 0) or back into the normal class,
/// SCHED_OTHER. Returns 0, or the errno. SCHED_IDLE is a GNU name. Leaving SCHED_IDLE
/// needs CAP_SYS_NICE or an RLIMIT_NICE of at least 20: the kernel treats it like
/// lowering a nice value.
int clinux_set_thread_idle_priority(int tid, int idle);

/// The calling thread's kernel id (gettid), what `clinux_set_thread_idle_priority`
/// takes to reach another thread.
int clinux_this_thread_id(void);

/// Whether a thread of this process may leave SCHED_IDLE again: 0, or the errno
/// the kernel gave a throwaway thread that tried.
int clinux_can_return_from_idle_priority(void);

/// Names the calling thread for `top -H`, `ps -L` and perf (the kernel keeps 15
/// bytes). prctl is variadic, so Swift cannot call it directly.
static inline void clinux_name_this_thread(const char *name) {
    prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

/// Names another thread of this process (its creator, right after creating it, so
/// the name is there before the thread first runs). At most 15 bytes.
int clinux_name_thread(pthread_t thread, const char *name);

/// The wall clock in nanoseconds since the Unix epoch.
static inline unsigned long long clinux_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

#endif
