/* A registered fd is dup'd and the original closed without EPOLL_CTL_DEL. The
 * registration lives on (the file is still open through the dup), so epoll keeps
 * reporting events with the closed fd's epoll_data: orphan events. */
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

int main(void) {
    int p[2];
    int epfd = epoll_create1(0);
    if (pipe(p) != 0) return 2;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)p[0]};
    epoll_ctl(epfd, EPOLL_CTL_ADD, p[0], &ev);
    int copy = dup(p[0]);
    close(p[0]);                  /* no DEL: the registration survives through `copy` */
    if (write(p[1], "x", 1) != 1) return 2;
    struct epoll_event out[4];
    int n = epoll_wait(epfd, out, 4, 1000);
    char buf[8];
    if (n > 0) read(copy, buf, sizeof buf);
    close(copy);
    return 0;
}
