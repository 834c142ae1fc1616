// The calls glibc declares only under _GNU_SOURCE. Swift's Glibc module is built
// without it, so a header cannot declare them for Swift; this file is compiled
// with it and exports plain wrappers that CLinux.h declares.
#define _GNU_SOURCE
#include <sys/socket.h>
#include <unistd.h>
#include <fcntl.h>
#include <sched.h>
#include "CLinux.h"

int clinux_accept_nonblocking_cloexec(int listener_fd) {
    return accept4(listener_fd, 0, 0, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

int clinux_pipe_nonblocking_cloexec(int fds[2]) {
    return pipe2(fds, O_NONBLOCK | O_CLOEXEC);
}

int clinux_make_this_thread_idle_priority(void) {
    struct sched_param param = { .sched_priority = 0 };
    return sched_setscheduler(0, SCHED_IDLE, &param) == 0 ? 0 : errno;
}
