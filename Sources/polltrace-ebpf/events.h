/* The records the BPF program (polltrace.bpf.c) puts in its ring buffer and the
 * loader (main.c) reads: one layout, shared by both sides. */
#ifndef POLLTRACE_EBPF_EVENTS_H
#define POLLTRACE_EBPF_EVENTS_H

/* Events of one epoll_wait result read from user memory: a bounded loop, as the
 * verifier demands. A larger result is written with "...", which the importer
 * counts as abbreviated. */
#define PT_MAX_EVENTS 64

enum pt_kind {
    PT_CALL = 1, /* a followed syscall returned */
    PT_FORK = 2, /* a traced thread made a thread or a process */
    PT_EXIT = 3, /* a traced thread ended */
    PT_LOST = 4, /* written by the loader: `ret` records the ring had no room for */
};

struct pt_epoll_event {
    unsigned int mask;
    unsigned long long data;
} __attribute__((packed));

struct pt_record {
    unsigned int kind;
    unsigned int tid;
    unsigned long long ns; /* CLOCK_MONOTONIC */
    int nr;                /* PT_CALL: x86_64 syscall number; PT_FORK: the child */
    unsigned int count;    /* waits: the events that follow; epoll_ctl: 1 with `event` */
    long long ret;         /* PT_FORK: the clone flags that matter */
    long long args[4];
    int pair[2];           /* pipe/pipe2/socketpair: the two new fds */
    struct pt_epoll_event event; /* epoll_ctl's event, when count is 1 */
} __attribute__((aligned(8)));

/* A wait's record: the header and its events, reserved at one fixed size. */
struct pt_wait_record {
    struct pt_record head;
    struct pt_epoll_event events[PT_MAX_EVENTS];
};

#endif
