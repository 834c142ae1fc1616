// SPDX-License-Identifier: GPL-2.0
/* The kernel half of `polltrace record --backend ebpf`: follows one process tree's
 * epoll loop and puts only what the analysis needs in a BPF ring buffer.
 *
 * Compiled at record time by the loader (main.c) with `clang -target bpf`; it
 * needs no vmlinux.h: the two kernel structs it reads are declared below with
 * preserve_access_index, and libbpf relocates them against the kernel's BTF.
 *
 * Filtering in the kernel, per call returning in a traced thread group:
 * - epoll waits: always, with each returned event's mask and data word;
 * - epoll_ctl, every call that makes or closes an fd: always;
 * - calls on an fd (read/write family, and the setup calls that show an event
 *   was handled): only the first one on an fd in the thread's current batch
 *   (since its last wait returned), and only when the fd had an event in that
 *   batch, or was made (or registered with epoll_ctl ADD) during it, or some
 *   event of the batch carried a data word no registration explained. That is
 *   what the importer reads from them: whether a harvested event was handled,
 *   and the first touch of a number, or of a word's new fd, after a reuse.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "events.h"

char LICENSE[] SEC("license") = "GPL";

struct files_struct;
struct task_struct {
    int pid;
    int tgid;
    struct files_struct *files;
} __attribute__((preserve_access_index));

struct pt_regs {
    unsigned long di, si, dx, r10, orig_ax;
} __attribute__((preserve_access_index));

#define CLONE_FILES 0x400
#define CLONE_THREAD 0x10000

/* Thread groups followed: the target, and every process it forks. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, __u32);
    __type(value, __u8);
} traced SEC(".maps");

/* Per thread: its current batch (the result of its last wait). */
struct batch {
    __u64 gen;
    __u64 start_ns;
    __u32 unexplained; /* an event's data word matched no known registration */
};
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16384);
    __type(key, __u32);
    __type(value, struct batch);
} batches SEC(".maps");

struct thread_fd {
    __u32 tid;
    __s32 fd;
};
/* Per (thread, fd): the batch it was last pending or touched in. */
struct seen {
    __u64 gen;
    __u64 touch_ns;
    __u32 pending; /* it had an event in batch `gen` */
    __u32 touched; /* a call on it crossed in batch `gen` */
};
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct thread_fd);
    __type(value, struct seen);
} seen SEC(".maps");

struct group_fd {
    __u32 tgid;
    __s32 fd;
};
/* Per (thread group, fd number): when it was last made, or registered with ADD. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct group_fd);
    __type(value, __u64);
} fresh SEC(".maps");

struct group_word {
    __u32 tgid;
    __u32 pad;
    __u64 data;
};
/* Per (thread group, epoll data word): the fd registered with it, or -1 while two
 * live registrations carry it (then its events explain nothing). */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct group_word);
    __type(value, __s32);
} words SEC(".maps");

/* Per (thread group, fd): the word its last ADD/MOD carried, so that a DEL or a
 * close drops that word's entry. */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct group_fd);
    __type(value, __u64);
} fd_words SEC(".maps");

/* Records the ring buffer had no room for; the loader writes them as gaps. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} drops SEC(".maps");

/* Its size is set by the loader before load. */
struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 24);
} events SEC(".maps");

/* Wake the loader only when a quarter of the ring is used: it also drains the
 * ring every few milliseconds, so most submits cost no wake-up. */
#define WAKE_BYTES (1 << 22)

static __always_inline long submit_flags(void)
{
    return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > WAKE_BYTES ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

static __always_inline void count_drop(void)
{
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&drops, &zero);
    if (n)
        __sync_fetch_and_add(n, 1);
}

enum call_class {
    C_NONE = 0,
    C_WAIT,      /* epoll_wait, epoll_pwait, epoll_pwait2 */
    C_CTL,       /* epoll_ctl */
    C_MAKES,     /* returns a new fd */
    C_PAIR0,     /* pipe, pipe2: two fds at the first argument */
    C_PAIR3,     /* socketpair: two fds at the fourth argument */
    C_DUP_TO,    /* dup2, dup3: the second argument is the new fd */
    C_FCNTL,     /* F_DUPFD makes an fd; anything else acts on one */
    C_TABLE,     /* close, close_range, unshare */
    C_ON_FD,     /* acts on the fd in its first argument */
    C_ON_FD_0_1, /* sendfile, tee: first and second */
    C_ON_FD_0_2, /* splice, copy_file_range: first and third */
};

/* x86_64 syscall numbers (asm/unistd_64.h); the Swift side names them
 * (EBPFSyscalls.swift). */
static __always_inline int classify(long nr)
{
    switch (nr) {
    case 232: case 281: case 441:
        return C_WAIT;
    case 233:
        return C_CTL;
    case 2: case 32: case 41: case 43: case 213: case 257: case 282: case 283: case 284: case 288:
    case 289: case 290: case 291: case 294: case 319: case 434: case 437:
        return C_MAKES;
    case 22: case 293:
        return C_PAIR0;
    case 53:
        return C_PAIR3;
    case 33: case 292:
        return C_DUP_TO;
    case 72:
        return C_FCNTL;
    case 3: case 436: case 272:
        return C_TABLE;
    /* the read/write family */
    case 0: case 1: case 17: case 18: case 19: case 20: case 44: case 45: case 46: case 47:
    case 295: case 296: case 299: case 307: case 327: case 328:
    /* setup calls that also show a handler ran on the fd */
    case 5: case 8: case 16: case 42: case 48: case 49: case 50: case 51: case 52: case 54: case 55:
    case 73: case 74: case 75: case 77: case 217: case 286: case 287:
        return C_ON_FD;
    case 40: case 276:
        return C_ON_FD_0_1;
    case 275: case 326:
        return C_ON_FD_0_2;
    default:
        return C_NONE;
    }
}

static __always_inline void mark_fresh(__u32 tgid, long fd, __u64 now)
{
    if (fd < 0)
        return;
    struct group_fd key = {.tgid = tgid, .fd = (__s32)fd};
    bpf_map_update_elem(&fresh, &key, &now, BPF_ANY);
}

/* `fd`'s registration ended (DEL, close): its word no longer names it. */
static __always_inline void forget_word(__u32 tgid, __s32 fd)
{
    struct group_fd key = {.tgid = tgid, .fd = fd};
    __u64 *word = bpf_map_lookup_elem(&fd_words, &key);
    if (!word)
        return;
    struct group_word wkey = {.tgid = tgid, .data = *word};
    __s32 *owner = bpf_map_lookup_elem(&words, &wkey);
    if (owner && (*owner == fd || *owner == -1))
        bpf_map_delete_elem(&words, &wkey);
    bpf_map_delete_elem(&fd_words, &key);
}

/* `fd` was registered (ADD, MOD) with `data`. */
static __always_inline void learn_word(__u32 tgid, __s32 fd, __u64 data)
{
    forget_word(tgid, fd);
    struct group_word wkey = {.tgid = tgid, .data = data};
    __s32 *owner = bpf_map_lookup_elem(&words, &wkey);
    __s32 value = owner && *owner != fd ? -1 : fd;
    bpf_map_update_elem(&words, &wkey, &value, BPF_ANY);
    struct group_fd key = {.tgid = tgid, .fd = fd};
    bpf_map_update_elem(&fd_words, &key, &data, BPF_ANY);
}

/* Whether a call on `fd` crosses (see the top of the file); notes that it did. */
static __always_inline int first_touch(__u32 tid, __u32 tgid, long fd, __u64 now)
{
    if (fd < 0)
        return 0;
    struct batch *b = bpf_map_lookup_elem(&batches, &tid);
    if (!b)
        return 0; /* no wait yet: no event can be pending on it */
    struct thread_fd key = {.tid = tid, .fd = (__s32)fd};
    struct seen *s = bpf_map_lookup_elem(&seen, &key);
    int current = s && s->gen == b->gen;
    int pass = 0;
    if (current && s->pending && !s->touched) {
        pass = 1;
    } else {
        struct group_fd gkey = {.tgid = tgid, .fd = (__s32)fd};
        __u64 *made = bpf_map_lookup_elem(&fresh, &gkey);
        if (made && *made > b->start_ns && (!current || !s->touched || *made > s->touch_ns))
            pass = 1;
        else if (b->unexplained && !(current && s->touched))
            pass = 1;
    }
    if (!pass)
        return 0;
    struct seen next = {.gen = b->gen, .touch_ns = now, .pending = current ? s->pending : 0, .touched = 1};
    bpf_map_update_elem(&seen, &key, &next, BPF_ANY);
    return 1;
}

/* A wait returned `n` events at `user`: a new batch for the thread. */
static __always_inline void new_batch(struct pt_wait_record *r, __u32 tid, __u32 tgid, __u64 user, long n, __u64 now)
{
    struct batch zero = {};
    struct batch *b = bpf_map_lookup_elem(&batches, &tid);
    if (!b) {
        bpf_map_update_elem(&batches, &tid, &zero, BPF_NOEXIST);
        b = bpf_map_lookup_elem(&batches, &tid);
        if (!b)
            return;
    }
    __u64 gen = b->gen + 1;
    __u32 unexplained = 0;
    __u32 count = n > PT_MAX_EVENTS ? PT_MAX_EVENTS : (n < 0 ? 0 : (__u32)n);
    for (__u32 i = 0; i < PT_MAX_EVENTS; i++) {
        if (i >= count)
            break;
        struct pt_epoll_event *e = &r->events[i];
        if (bpf_probe_read_user(e, sizeof(*e), (void *)(user + i * sizeof(*e))) != 0) {
            count = i;
            break;
        }
        struct group_word wkey = {.tgid = tgid, .data = e->data};
        __s32 *fd = bpf_map_lookup_elem(&words, &wkey);
        if (!fd || *fd < 0) {
            unexplained = 1;
            continue;
        }
        struct thread_fd key = {.tid = tid, .fd = *fd};
        struct seen pending = {.gen = gen, .pending = 1};
        bpf_map_update_elem(&seen, &key, &pending, BPF_ANY);
    }
    r->head.count = count;
    b->gen = gen;
    b->start_ns = now;
    b->unexplained = unexplained;
}

static __always_inline void fill(struct pt_record *h, __u32 tid, __u64 now, long nr, long ret, struct pt_regs *regs)
{
    h->kind = PT_CALL;
    h->tid = tid;
    h->ns = now;
    h->nr = (int)nr;
    h->count = 0;
    h->ret = ret;
    h->args[0] = (long long)regs->di;
    h->args[1] = (long long)regs->si;
    h->args[2] = (long long)regs->dx;
    h->args[3] = (long long)regs->r10;
    h->pair[0] = -1;
    h->pair[1] = -1;
    h->event.mask = 0;
    h->event.data = 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
    long nr = regs->orig_ax;
    int class = classify(nr);
    if (class == C_NONE)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    if (!bpf_map_lookup_elem(&traced, &tgid))
        return 0;
    __u64 now = bpf_ktime_get_ns();

    if (class == C_WAIT) {
        struct pt_wait_record *r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
        if (!r) {
            count_drop();
            return 0;
        }
        fill(&r->head, tid, now, nr, ret, regs);
        new_batch(r, tid, tgid, regs->si, ret, now);
        bpf_ringbuf_submit(r, submit_flags());
        return 0;
    }

    switch (class) {
    case C_ON_FD:
        if (!first_touch(tid, tgid, (long)(int)regs->di, now))
            return 0;
        break;
    case C_ON_FD_0_1:
    case C_ON_FD_0_2: {
        long other = (long)(int)(class == C_ON_FD_0_1 ? regs->si : regs->dx);
        int a = first_touch(tid, tgid, (long)(int)regs->di, now);
        int b = first_touch(tid, tgid, other, now);
        if (!a && !b)
            return 0;
        break;
    }
    case C_FCNTL:
        if (regs->si == 0 /* F_DUPFD */ || regs->si == 1030 /* F_DUPFD_CLOEXEC */)
            mark_fresh(tgid, ret, now);
        else if (!first_touch(tid, tgid, (long)(int)regs->di, now))
            return 0;
        break;
    case C_MAKES:
        mark_fresh(tgid, ret, now);
        break;
    case C_DUP_TO:
        if (ret >= 0)
            mark_fresh(tgid, ret, now);
        break;
    default:
        break;
    }

    struct pt_record *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
    if (!h) {
        count_drop();
        return 0;
    }
    fill(h, tid, now, nr, ret, regs);
    if (class == C_CTL && regs->r10 != 0) {
        struct pt_epoll_event e;
        if (bpf_probe_read_user(&e, sizeof(e), (void *)regs->r10) == 0) {
            h->count = 1;
            h->event = e;
            if (ret == 0 && (regs->si == 1 /* ADD */ || regs->si == 3 /* MOD */)) {
                learn_word(tgid, (__s32)regs->dx, e.data);
                if (regs->si == 1)
                    mark_fresh(tgid, (__s32)regs->dx, now);
            }
        }
    }
    if (class == C_CTL && ret == 0 && regs->si == 2 /* DEL */)
        forget_word(tgid, (__s32)regs->dx);
    if (nr == 3 /* close */ && ret == 0)
        forget_word(tgid, (__s32)regs->di);
    if ((class == C_PAIR0 || class == C_PAIR3) && ret == 0) {
        int pair[2];
        void *at = (void *)(class == C_PAIR0 ? regs->di : regs->r10);
        if (bpf_probe_read_user(pair, sizeof(pair), at) == 0) {
            h->pair[0] = pair[0];
            h->pair[1] = pair[1];
            mark_fresh(tgid, pair[0], now);
            mark_fresh(tgid, pair[1], now);
        }
    }
    bpf_ringbuf_submit(h, submit_flags());
    return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    __u32 tgid = parent->tgid;
    if (!bpf_map_lookup_elem(&traced, &tgid))
        return 0;
    __u32 child_tgid = child->tgid;
    __u8 one = 1;
    bpf_map_update_elem(&traced, &child_tgid, &one, BPF_ANY);
    struct pt_record *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
    if (!h) {
        count_drop();
        return 0;
    }
    __builtin_memset(h, 0, sizeof(*h));
    h->kind = PT_FORK;
    h->tid = (__u32)bpf_get_current_pid_tgid();
    h->ns = bpf_ktime_get_ns();
    h->nr = child->pid;
    h->ret = (child->files == parent->files ? CLONE_FILES : 0) | (child_tgid == tgid ? CLONE_THREAD : 0);
    bpf_ringbuf_submit(h, submit_flags());
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_task_exit)
{
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, tid = (__u32)id;
    if (!bpf_map_lookup_elem(&traced, &tgid))
        return 0;
    bpf_map_delete_elem(&batches, &tid);
    struct pt_record *h = bpf_ringbuf_reserve(&events, sizeof(*h), 0);
    if (!h) {
        count_drop();
        return 0;
    }
    __builtin_memset(h, 0, sizeof(*h));
    h->kind = PT_EXIT;
    h->tid = tid;
    h->ns = bpf_ktime_get_ns();
    bpf_ringbuf_submit(h, submit_flags());
    return 0;
}
