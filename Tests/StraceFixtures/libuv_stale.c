/* libuv with a stale event on purpose: one batch holds two readable eventfds
 * [A, B] watched by uv_poll handles; A's callback closes B's handle and B, and
 * gives B's number to a new eventfd with a poll handle of its own (uv_poll_start
 * puts it in the loop's fd table at once). Closing B's handle invalidates B's
 * pending event in the batch being dispatched (uv__platform_invalidate_fd), so
 * neither B's old callback nor the new one runs for it: the stale event is dropped.
 *
 *   libuv_stale TRUTH_FILE   writes which callbacks ran in the first batch. */
#include <stdint.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_poll_t poll_a, poll_b, poll_new;
static int fd_a, fd_b, batch_over;
static FILE *truth;

static void on_new(uv_poll_t *handle, int status, int events) {
    (void)handle; (void)status; (void)events;
    if (!batch_over) fprintf(truth, "new ran in the batch\n");
}
static void on_b(uv_poll_t *handle, int status, int events) {
    (void)handle; (void)status; (void)events;
    uint64_t v;
    ssize_t n = read(fd_b, &v, sizeof v);
    fprintf(truth, "b ran (read %zd)\n", n);
}
static void on_a(uv_poll_t *handle, int status, int events) {
    (void)status; (void)events;
    uint64_t v;
    if (read(fd_a, &v, sizeof v) < 0) return;
    uv_poll_stop(handle);
    uv_close((uv_handle_t *)&poll_b, NULL);
    close(fd_b);
    int fresh = eventfd(0, EFD_NONBLOCK);
    uv_poll_init(loop, &poll_new, fresh);
    uv_poll_start(&poll_new, UV_READABLE, on_new);
    fprintf(truth, "a ran: closed %d, new eventfd %d\n", fd_b, fresh);
}

int main(int argc, char **argv) {
    if (argc != 2 || !(truth = fopen(argv[1], "w"))) return 2;
    loop = uv_default_loop();
    fd_a = eventfd(1, EFD_NONBLOCK);
    fd_b = eventfd(1, EFD_NONBLOCK);
    uv_poll_init(loop, &poll_a, fd_a);
    uv_poll_init(loop, &poll_b, fd_b);
    uv_poll_start(&poll_a, UV_READABLE, on_a);
    uv_poll_start(&poll_b, UV_READABLE, on_b);
    uv_run(loop, UV_RUN_ONCE);
    batch_over = 1;
    fprintf(truth, "batch done\n");
    uv_run(loop, UV_RUN_NOWAIT);
    uv_close((uv_handle_t *)&poll_new, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    fclose(truth);
    return 0;
}
