#define _GNU_SOURCE
/* An nginx-style loop: epoll_data holds a pointer to a connection object from a
 * pool with a free list, and the loop calls the object's handler, with no guard.
 * In one batch [A, B] A's handler releases B (DEL, close, object back on the free
 * list), takes B's number with an unrelated eventfd, then opens a pipe and gives
 * its read end the free object: B's stale event runs the pipe's handler, which
 * reads the empty pipe (EAGAIN). The number B is never the pipe's: only the
 * pointer leads there.
 *
 *   pointer_loop TRUTH_FILE   writes "stale <old fd> <new fd> <read result> <errno>"
 *                             for every handler run on an object other than the
 *                             one the event was harvested for. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct connection { int fd; int serial; void (*handler)(struct connection *); };
static struct connection pool[4];
static struct connection *free_list[4];
static int nfree, epfd, serial;
static struct connection *a, *b;
static FILE *truth;

static struct connection *take(int fd, void (*handler)(struct connection *)) {
    struct connection *c = free_list[--nfree];
    c->fd = fd; c->handler = handler; c->serial = ++serial;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    return c;
}
static void release(struct connection *c) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    free_list[nfree++] = c;
}
static void read_handler(struct connection *c) {
    char buf[8];
    ssize_t n = read(c->fd, buf, sizeof buf);
    c->handler = read_handler;
    (void)n;
}
static int harvested_serial, harvested_fd;
static void pipe_handler(struct connection *c) {
    char buf[8];
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (c->serial != harvested_serial)
        fprintf(truth, "stale %d %d %zd %d\n", harvested_fd, c->fd, n, n < 0 ? errno : 0);
}
static void a_handler(struct connection *c) {
    read_handler(c);
    int old = b->fd;
    release(b);
    int squatter = eventfd(0, EFD_NONBLOCK);  /* takes B's number */
    int p[2];
    if (pipe2(p, O_NONBLOCK) != 0) exit(2);
    take(p[0], pipe_handler);                  /* takes B's object */
    fprintf(truth, "released %d squatter %d pipe %d\n", old, squatter, p[0]);
}

int main(int argc, char **argv) {
    if (argc != 2 || !(truth = fopen(argv[1], "w"))) return 2;
    for (int i = 3; i >= 0; i--) free_list[nfree++] = &pool[i];
    epfd = epoll_create1(0);
    a = take(eventfd(1, EFD_NONBLOCK), a_handler);
    b = take(eventfd(1, EFD_NONBLOCK), read_handler);
    struct epoll_event events[4];
    int n = epoll_wait(epfd, events, 4, 1000);
    struct { int serial, fd; } harvested[4];
    for (int i = 0; i < n; i++) {
        struct connection *c = events[i].data.ptr;
        harvested[i].serial = c->serial; harvested[i].fd = c->fd;
    }
    for (int i = 0; i < n; i++) {
        struct connection *c = events[i].data.ptr;
        harvested_serial = harvested[i].serial; harvested_fd = harvested[i].fd;
        c->handler(c);
    }
    epoll_wait(epfd, events, 4, 0);
    fclose(truth);
    return 0;
}
