// A parent makes an epoll instance, registers a pipe on it and forks; the child
// waits on the epoll fd it inherited (the same instance), reads the event the
// parent's write makes, and exits. For the strace import's process model.
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdio.h>
int main(void) {
    int p[2]; pipe(p);
    int ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = p[0] };
    epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev);
    pid_t child = fork();
    if (child == 0) {
        struct epoll_event out[4];
        int n = epoll_wait(ep, out, 4, 2000);
        char buf[8];
        for (int i = 0; i < n; i++) read(out[i].data.fd, buf, sizeof buf);
        _exit(n == 1 ? 0 : 1);
    }
    write(p[1], "x", 1);
    int status; waitpid(child, &status, 0);
    return WEXITSTATUS(status);
}
