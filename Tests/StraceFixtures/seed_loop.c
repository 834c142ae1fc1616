#define _GNU_SOURCE
/* The seed's batch, for real: one epoll_wait returns [control pipe, listener, udp].
 * The control handler removes and closes the UDP socket; the listener handler
 * accepts a connection, which the kernel gives the UDP socket's old number; then
 * the UDP socket's stale event is dispatched.
 *
 * Built twice: -DGUARDED packs a registration id beside the fd in epoll_data and
 * drops an event whose id is not the fd's current one (the fix); without it the
 * handler is looked up by fd number (the bug), so the stale event reaches the new
 * connection's read handler, whose read fails with EAGAIN. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

enum kind { NONE, CONTROL, LISTENER, UDP, CONN };
static enum kind handler[64];
static uint32_t current_id[64];
static uint32_t next_id = 1;
static int epfd, udp_fd;

static void add(int fd, uint32_t events, enum kind k) {
    struct epoll_event ev = {.events = events};
    uint32_t id = next_id++;
    current_id[fd] = id;
    handler[fd] = k;
#ifdef GUARDED
    ev.data.u64 = ((uint64_t)id << 32) | (uint32_t)fd;
#else
    ev.data.u64 = (uint64_t)fd;
#endif
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) { perror("epoll_ctl"); exit(2); }
}

static void remove_and_close(int fd) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, NULL);
    handler[fd] = NONE;
    current_id[fd] = 0;
    close(fd);
}

int main(void) {
    int control[2];
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    epfd = epoll_create1(0);
    if (pipe(control) != 0) return 2;
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(listener, 8) != 0) return 2;
    getsockname(listener, (struct sockaddr *)&addr, &len);
    int client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(client, (struct sockaddr *)&addr, sizeof addr) != 0) return 2;
    udp_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    if (write(control[1], "release", 7) != 7) return 2;

    /* Each is ready when added, so the kernel reports them in this order. */
    add(control[0], EPOLLIN, CONTROL);
    add(listener, EPOLLIN, LISTENER);
    add(udp_fd, EPOLLOUT, UDP);

    for (int round = 0; round < 2; round++) {
        struct epoll_event events[8];
        int n = epoll_wait(epfd, events, 8, round == 0 ? 1000 : 0);
        for (int i = 0; i < n; i++) {
            int fd = (int)(uint32_t)events[i].data.u64;
#ifdef GUARDED
            if ((uint32_t)(events[i].data.u64 >> 32) != current_id[fd]) continue; /* stale: drop */
#endif
            char buf[64];
            switch (handler[fd]) {
            case CONTROL:
                if (read(fd, buf, sizeof buf) > 0) remove_and_close(udp_fd);
                break;
            case LISTENER: {
                int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK);
                if (conn >= 0) add(conn, EPOLLIN, CONN);
                break;
            }
            case UDP:
                sendto(fd, "x", 1, 0, (struct sockaddr *)&addr, sizeof addr);
                break;
            case CONN:
                read(fd, buf, sizeof buf);
                break;
            case NONE:
                break;
            }
        }
    }
    return 0;
}
