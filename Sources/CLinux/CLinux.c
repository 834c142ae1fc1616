// The calls glibc declares only under _GNU_SOURCE. Swift's Glibc module is built
// without it, so a header cannot declare them for Swift; this file is compiled
// with it and exports plain wrappers that CLinux.h declares.
#define _GNU_SOURCE
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <sched.h>
#include <pthread.h>
#include <sys/syscall.h>
#include "CLinux.h"

int clinux_accept_nonblocking_cloexec(int listener_fd) {
    return accept4(listener_fd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int clinux_pipe_nonblocking_cloexec(int fds[2]) {
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

int clinux_set_thread_idle_priority(int tid, int idle) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler(tid, idle ? SCHED_IDLE : SCHED_OTHER, &param) == 0 ? 0 : errno;
}

int clinux_this_thread_id(void) {
    return (int)syscall(SYS_gettid);
}

static void *probe_return_from_idle(void *result) {
    int code = clinux_set_thread_idle_priority(0, 1);
    if (code == 0) code = clinux_set_thread_idle_priority(0, 0);
    *(int *)result = code;
    return 0;
}

int clinux_can_return_from_idle_priority(void) {
    // A throwaway thread tries the round trip, so a refusal strands no thread
    // that matters in SCHED_IDLE.
    pthread_t thread;
    int result = 0;
    int code = pthread_create(&thread, 0, probe_return_from_idle, &result);
    if (code != 0) return code;
    pthread_join(thread, 0);
    return result;
}

int clinux_name_thread(pthread_t thread, const char *name) {
    return pthread_setname_np(thread, name);
}
