/* polltrace-ebpf: the user-space half of `polltrace record --backend ebpf`.
 *
 *   polltrace-ebpf [--ring-mb N] PID OUTPUT   record PID's process tree to OUTPUT
 *   polltrace-ebpf --check                    compile and load, attach nothing
 *
 * It compiles the BPF program (polltrace.bpf.c, built into this binary) with
 * clang -target bpf, loads it with libbpf, follows PID, prints READY on stdout
 * once attached, and copies ring-buffer records to a binary spool until SIGINT
 * or SIGTERM. Then it writes OUTPUT as text lines, which EBPFLogTranslator (Swift)
 * turns into an strace log for the importer:
 *
 *   R tid ns nr ret a0 a1 a2 a3   a followed call returned (ns: CLOCK_MONOTONIC)
 *   V tid mask data               one epoll_event of the R line that follows
 *   P tid fd0 fd1                 the fd pair of the R line that follows
 *   F tid ns child flags          tid made child (flags: CLONE_FILES, CLONE_THREAD)
 *   X tid ns                      the thread ended
 *   Lost N events                 the ring buffer had no room for N records
 *
 * Exit status: 0 recorded, 2 this machine refuses (the message says why and what
 * to do), 1 anything else. */
#include "loader.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stopping = 0;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static int usage(void)
{
    fprintf(stderr, "usage: polltrace-ebpf [--ring-mb N] PID OUTPUT | polltrace-ebpf --check\n");
    return 2;
}

int main(int argc, char **argv)
{
    unsigned ring_mb = 16;
    int i = 1;
    if (argc == 2 && strcmp(argv[1], "--check") == 0) {
        struct pt_session session;
        int status = pt_open(&session, ring_mb);
        if (status == 0)
            pt_close(&session);
        return status;
    }
    if (argc > 2 && strcmp(argv[1], "--ring-mb") == 0) {
        ring_mb = (unsigned)strtoul(argv[2], NULL, 10);
        if (ring_mb == 0 || (ring_mb & (ring_mb - 1)) != 0) {
            fprintf(stderr, "polltrace-ebpf: --ring-mb must be a power of two\n");
            return 2;
        }
        i = 3;
    }
    if (argc - i != 2)
        return usage();
    char *end = NULL;
    long pid = strtol(argv[i], &end, 10);
    if (!end || *end || pid <= 0) {
        fprintf(stderr, "polltrace-ebpf: not a pid: %s\n", argv[i]);
        return 2;
    }
    const char *output = argv[i + 1];

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    struct pt_session session;
    int status = pt_open(&session, ring_mb);
    if (status != 0)
        return status;
    status = pt_record(&session, (unsigned)pid, output, &stopping);
    pt_close(&session);
    return status;
}
