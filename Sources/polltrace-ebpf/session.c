/* Loads the BPF program, attaches it, and spools what its ring buffer carries. */
#include "loader.h"
#include "events.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* libbpf's last messages, printed only when something fails. */
static char libbpf_log[4096];

static int keep_libbpf_message(enum libbpf_print_level level, const char *format, va_list args)
{
    if (level == LIBBPF_DEBUG)
        return 0;
    size_t used = strlen(libbpf_log);
    if (used > sizeof(libbpf_log) - 512)
        used = 0;
    return vsnprintf(libbpf_log + used, sizeof(libbpf_log) - used, format, args);
}

static void print_libbpf_log(void)
{
    if (libbpf_log[0])
        fprintf(stderr, "polltrace-ebpf: libbpf said:\n%s", libbpf_log);
}

static void remove_work(struct pt_session *session)
{
    const char *names[] = {"polltrace.bpf.c", "events.h", "polltrace.bpf.o", "spool.bin"};
    char path[512];
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", session->work, names[i]);
        unlink(path);
    }
    rmdir(session->work);
}

int pt_open(struct pt_session *session, unsigned ring_mb)
{
    memset(session, 0, sizeof(*session));
    libbpf_set_print(keep_libbpf_message);
    struct stat st;
    if (stat("/sys/kernel/btf/vmlinux", &st) != 0) {
        fprintf(stderr, "polltrace-ebpf: the kernel has no BTF (/sys/kernel/btf/vmlinux); use a kernel built "
                        "with CONFIG_DEBUG_INFO_BTF, or record with --backend strace\n");
        return 2;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(session->work, sizeof(session->work), "%s/polltrace-ebpf.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(session->work)) {
        fprintf(stderr, "polltrace-ebpf: cannot make a directory under %s: %s\n", tmp ? tmp : "/tmp", strerror(errno));
        return 1;
    }
    char object_path[512];
    int status = pt_compile(session->work, object_path, sizeof(object_path));
    if (status != 0) {
        remove_work(session);
        return status;
    }
    session->object = bpf_object__open_file(object_path, NULL);
    if (!session->object) {
        fprintf(stderr, "polltrace-ebpf: cannot open the compiled BPF program: %s\n", strerror(errno));
        print_libbpf_log();
        remove_work(session);
        return 1;
    }
    struct bpf_map *ring = bpf_object__find_map_by_name(session->object, "events");
    if (!ring || bpf_map__set_max_entries(ring, ring_mb << 20) != 0) {
        fprintf(stderr, "polltrace-ebpf: cannot size the ring buffer to %u MiB\n", ring_mb);
        pt_close(session);
        return 1;
    }
    if (bpf_object__load(session->object) != 0) {
        int err = errno;
        if (err == EPERM || err == EACCES)
            fprintf(stderr, "polltrace-ebpf: the kernel refused to load the BPF program (%s): run as root "
                            "(CAP_BPF and CAP_PERFMON), check kernel.unprivileged_bpf_disabled, lockdown and the "
                            "container's capabilities, or record with --backend strace\n", strerror(err));
        else
            fprintf(stderr, "polltrace-ebpf: the kernel refused the BPF program (%s); record with --backend strace\n",
                    strerror(err));
        print_libbpf_log();
        pt_close(session);
        return 2;
    }
    return 0;
}

void pt_close(struct pt_session *session)
{
    if (session->object)
        bpf_object__close(session->object);
    session->object = NULL;
    if (session->work[0])
        remove_work(session);
    session->work[0] = 0;
}

static int spool_record(void *context, void *data, size_t size)
{
    FILE *spool = context;
    const struct pt_record *head = data;
    if (size >= sizeof(struct pt_wait_record) && head->kind == PT_CALL && head->count <= PT_MAX_EVENTS)
        size = sizeof(struct pt_record) + head->count * sizeof(struct pt_epoll_event);
    uint32_t length = (uint32_t)size;
    fwrite(&length, sizeof(length), 1, spool);
    fwrite(data, 1, size, spool);
    return 0;
}

/* Writes a PT_LOST record for the drops counted since the last call. */
static void spool_drops(int drops_fd, unsigned long long *reported, FILE *spool)
{
    uint32_t zero = 0;
    unsigned long long total = 0;
    if (bpf_map_lookup_elem(drops_fd, &zero, &total) != 0 || total <= *reported)
        return;
    struct pt_record lost;
    memset(&lost, 0, sizeof(lost));
    lost.kind = PT_LOST;
    lost.ret = (long long)(total - *reported);
    *reported = total;
    spool_record(spool, &lost, sizeof(lost));
}

int pt_record(struct pt_session *session, unsigned pid, const char *output, volatile sig_atomic_t *stopping)
{
    int status = 1;
    struct bpf_link *links[8] = {0};
    int nlinks = 0;
    struct ring_buffer *rb = NULL;
    FILE *spool = NULL, *out = NULL;
    char spool_path[512];
    snprintf(spool_path, sizeof(spool_path), "%s/spool.bin", session->work);

    __u8 one = 1;
    if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
        fprintf(stderr, "polltrace-ebpf: no process %u\n", pid);
        return 2;
    }
    if (bpf_map__update_elem(bpf_object__find_map_by_name(session->object, "traced"), &pid, sizeof(pid), &one,
                             sizeof(one), BPF_ANY) != 0) {
        fprintf(stderr, "polltrace-ebpf: cannot follow pid %u: %s\n", pid, strerror(errno));
        return 1;
    }
    spool = fopen(spool_path, "w+");
    if (!spool) {
        fprintf(stderr, "polltrace-ebpf: cannot write %s: %s\n", spool_path, strerror(errno));
        return 1;
    }
    setvbuf(spool, NULL, _IOFBF, 1 << 20);
    struct bpf_program *program;
    bpf_object__for_each_program(program, session->object) {
        struct bpf_link *link = bpf_program__attach(program);
        if (!link || nlinks == 8) {
            fprintf(stderr, "polltrace-ebpf: cannot attach %s (%s): the kernel lacks the tracepoint or BTF for it; "
                            "record with --backend strace\n", bpf_program__name(program), strerror(errno));
            print_libbpf_log();
            status = 2;
            goto done;
        }
        links[nlinks++] = link;
    }
    rb = ring_buffer__new(bpf_map__fd(bpf_object__find_map_by_name(session->object, "events")), spool_record, spool,
                          NULL);
    if (!rb) {
        fprintf(stderr, "polltrace-ebpf: cannot map the ring buffer: %s\n", strerror(errno));
        goto done;
    }
    int drops_fd = bpf_map__fd(bpf_object__find_map_by_name(session->object, "drops"));
    unsigned long long reported = 0;
    printf("READY\n");
    fflush(stdout);

    /* The program wakes this loop only when the ring fills up; otherwise it
     * drains the ring every 20 ms, which costs the traced calls nothing. */
    while (!*stopping) {
        int n = ring_buffer__poll(rb, 20);
        if (n < 0 && n != -EINTR) {
            fprintf(stderr, "polltrace-ebpf: reading the ring buffer failed: %s\n", strerror(-n));
            goto done;
        }
        ring_buffer__consume(rb);
        spool_drops(drops_fd, &reported, spool);
    }
    for (int i = 0; i < nlinks; i++)
        bpf_link__destroy(links[i]);
    nlinks = 0;
    ring_buffer__consume(rb);
    spool_drops(drops_fd, &reported, spool);

    out = fopen(output, "w");
    if (!out) {
        fprintf(stderr, "polltrace-ebpf: cannot write %s: %s\n", output, strerror(errno));
        goto done;
    }
    fflush(spool);
    rewind(spool);
    long written = pt_write_text(spool, out);
    if (written < 0 || fclose(out) != 0) {
        out = NULL;
        fprintf(stderr, "polltrace-ebpf: writing %s failed\n", output);
        goto done;
    }
    out = NULL;
    fprintf(stderr, "polltrace-ebpf: %ld records, %llu events lost\n", written, reported);
    status = 0;
done:
    for (int i = 0; i < nlinks; i++)
        bpf_link__destroy(links[i]);
    if (rb)
        ring_buffer__free(rb);
    if (out)
        fclose(out);
    if (spool)
        fclose(spool);
    return status;
}
