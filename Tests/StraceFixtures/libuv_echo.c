// A libuv TCP server for the strace import tests: answers each read with "pong"
// and closes a connection when its peer does. It stops by itself after
// argv[2] connections have closed, or after 120 s, whichever comes first, so
// a test that records it under strace is bounded.
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

static uv_loop_t *loop;
static uv_tcp_t server;
static uv_timer_t deadline;
static int closed_connections, connection_limit;

static void stop_all(void) {
    uv_close((uv_handle_t *)&server, NULL);
    uv_close((uv_handle_t *)&deadline, NULL);
}

static void on_connection_closed(uv_handle_t *handle) {
    free(handle);
    if (++closed_connections == connection_limit) stop_all();
}

static void on_written(uv_write_t *request, int status) {
    (void)status;
    free(request);
}

static void allocate(uv_handle_t *handle, size_t suggested, uv_buf_t *buffer) {
    (void)handle;
    static char storage[4096];
    (void)suggested;
    *buffer = uv_buf_init(storage, sizeof storage);
}

static void on_read(uv_stream_t *client, ssize_t count, const uv_buf_t *buffer) {
    (void)buffer;
    if (count > 0) {
        uv_write_t *request = malloc(sizeof *request);
        uv_buf_t reply = uv_buf_init("pong\n", 5);
        uv_write(request, client, &reply, 1, on_written);
    } else if (count < 0) {
        uv_close((uv_handle_t *)client, on_connection_closed);
    }
}

static void on_new_connection(uv_stream_t *listener, int status) {
    if (status < 0) return;
    uv_tcp_t *client = malloc(sizeof *client);
    uv_tcp_init(loop, client);
    if (uv_accept(listener, (uv_stream_t *)client) == 0) {
        uv_read_start((uv_stream_t *)client, allocate, on_read);
    } else {
        uv_close((uv_handle_t *)client, on_connection_closed);
    }
}

static void on_deadline(uv_timer_t *timer) {
    (void)timer;
    stop_all();
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT CONNECTIONS\n", argv[0]);
        return 2;
    }
    connection_limit = atoi(argv[2]);
    loop = uv_default_loop();
    struct sockaddr_in address;
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &address);
    uv_tcp_init(loop, &server);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&address, 0) != 0) return 1;
    if (uv_listen((uv_stream_t *)&server, 128, on_new_connection) != 0) return 1;
    uv_timer_init(loop, &deadline);
    uv_timer_start(&deadline, on_deadline, 120000, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_loop_close(loop);
    return 0;
}
