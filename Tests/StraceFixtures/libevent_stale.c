/* libevent (epoll backend) with a stale event on purpose: one batch holds two
 * readable eventfds [A, B]; A's callback frees B's event, closes B, and gives B's
 * number to a new eventfd with an event of its own. libevent activates every event
 * of a batch before it runs any callback, and event_del (in event_free) takes B's
 * pending activation back off the queue, so B's old callback never runs: the
 * stale event is dropped.
 *
 *   libevent_stale TRUTH_FILE   writes which callbacks ran in the first batch. */
#include <event2/event.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>

static struct event_base *base;
static struct event *ev_a, *ev_b, *ev_new;
static int fd_b;
static FILE *truth;

static void on_new(evutil_socket_t fd, short what, void *arg) { (void)what; (void)arg; fprintf(truth, "new %d ran\n", (int)fd); }
static void on_b(evutil_socket_t fd, short what, void *arg) {
    (void)what; (void)arg;
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    fprintf(truth, "b %d ran (read %zd)\n", (int)fd, n);
}
static void on_a(evutil_socket_t fd, short what, void *arg) {
    (void)what; (void)arg;
    uint64_t v;
    if (read(fd, &v, sizeof v) < 0) return;
    event_free(ev_b);
    close(fd_b);
    int fresh = eventfd(0, EFD_NONBLOCK);
    ev_new = event_new(base, fresh, EV_READ | EV_PERSIST, on_new, NULL);
    event_add(ev_new, NULL);
    fprintf(truth, "a ran: closed %d, new eventfd %d\n", fd_b, fresh);
}

int main(int argc, char **argv) {
    if (argc != 2 || !(truth = fopen(argv[1], "w"))) return 2;
    base = event_base_new();
    if (!base) return 2;
    fprintf(truth, "backend %s\n", event_base_get_method(base));
    int fd_a = eventfd(1, EFD_NONBLOCK);
    fd_b = eventfd(1, EFD_NONBLOCK);
    ev_a = event_new(base, fd_a, EV_READ | EV_PERSIST, on_a, NULL);
    ev_b = event_new(base, fd_b, EV_READ | EV_PERSIST, on_b, NULL);
    event_add(ev_a, NULL);
    event_add(ev_b, NULL);
    event_base_loop(base, EVLOOP_ONCE);
    fprintf(truth, "batch done\n");
    event_base_loop(base, EVLOOP_NONBLOCK);
    fclose(truth);
    return 0;
}
