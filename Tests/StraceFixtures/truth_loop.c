#define _GNU_SOURCE
/* Ground truth for the foreign-loop analysis: seeded random schedules of an epoll
 * loop, each in its own process, writing down what really happened.
 *
 *   truth_loop FIRST_SEED COUNT TRUTH_FILE
 *
 * Schedule s (seed FIRST_SEED + s) forks a process that picks a data mode (the fd,
 * an id beside the fd, or a pointer in epoll_data), a guard (none, fd-check,
 * generation), and 1-3 threads, each with its own epoll fd, sharing one fd table.
 * The threads take turns (a mutex and a turn number, so the order of every call
 * is known): a turn is one epoll_wait(…, 0) or the dispatch of one event. Handlers
 * make a data call on their own fd, and may close, open (TCP listeners and
 * connections on 127.0.0.1, UDP, eventfd, pipes, timerfd), dup (dup, dup2 onto an
 * open number), register, modify and unregister fds, on any thread's epoll fd, and
 * once fork a child that runs a loop of its own.
 *
 * Truth lines, each starting with the schedule's seed (a process writes its lines
 * together, before it forks and at its end):
 *   S seed pid mode guard threads [child]
 *   D seed tid epfd batch index fd harvested ran call   a dispatch: registration
 *                          serials (ran 0 = dropped by the guard or no handler,
 *                          -1 = a freed object's handler, which made no call);
 *                          call 1 if the handler made a data call
 *   F seed tid epfd batch fd kind    an event that is a finding: likely | hazard | orphan
 *   X seed …                         the program could not tell an event's registration
 *
 * The rules that make an event a finding are the ones docs/strace.md states, applied
 * to the calls this program made, which it knows exactly:
 * - handled: any call naming its fd number after the harvest but close and DEL;
 * - hazard: closed (when keyed by its word: or unregistered) while not handled, and
 *   its key taken again before the thread's next wait (key: the number when
 *   epoll_data holds the fd, else the data word; taken: the number created again,
 *   or the word registered again);
 * - likely: the dispatcher ran a registration other than the one harvested and that
 *   handler made a data call (this is the stale dispatch itself, from the
 *   dispatcher, not from the rules);
 * - orphan: the registration harvested had its fd number closed (a dup kept it).
 * Handlers touch other fds only to close, unregister, or stimulate through ends that
 * are never registered (pipe write ends, client sockets, one UDP sender), so a
 * stale dispatch is always visible in the log (docs/strace.md says what is not). */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXFD 256
#define MAXREG 4096
#define MAXTHREADS 3
#define MAXEV 16
#define SLOTS 64

enum mode { M_FD, M_FDID, M_PTR };
static const char *mode_name[] = {"fd", "fd+id", "pointer"};
enum guard { G_NONE, G_FDCHECK, G_GEN };
static const char *guard_name[] = {"none", "fd-check", "generation"};
enum kind { K_NONE, K_PIPE_R, K_PIPE_W, K_EVENTFD, K_TIMERFD, K_UDP, K_LISTENER, K_CONN, K_CLIENT, K_EPOLL, K_TRUTH };

/* One registration: its serial, fd, owner thread, and (pointer mode) its slot. */
struct reg {
    int serial, fd, owner, slot, live, fd_closed;
    uint32_t interest;
    uint64_t word;
};
/* Pointer mode: the objects epoll_data points at, reused from a free list (LIFO). */
struct __attribute__((aligned(16))) object { struct reg *reg; int gen; };

struct fdinfo { int kind; int file; int listener_port; int creator; };

struct event { uint64_t word; uint32_t mask; struct reg *reg; int fd; int orphan;
               int state; /* 0 unhandled, 1 handled, 2 closed */ int taken; int stale_call; };

struct thread {
    int index, tid, epfd, batch, pending, next, alive;
    struct event ev[MAXEV];
    struct reg *by_fd[MAXFD];
};

static struct { enum mode mode; enum guard guard; int threads; } cfg;
static struct fdinfo fds[MAXFD];
static struct reg regs[MAXREG];
static int nregs;
static struct object objects[SLOTS];
static int free_slots[SLOTS], nfree;
static struct thread th[MAXTHREADS];
static int cur_thread = 0, next_file = 1, udp_sender = -1, truth_fd = -1, forked = 0, in_child = 0;
static uint64_t rng, cur_seed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn = -1, steps_left;
static char out[1 << 20];
static size_t outlen;

static uint32_t rnd(uint32_t n) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return n ? (uint32_t)(rng % n) : 0;
}
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out + outlen, sizeof out - outlen, fmt, ap);
    va_end(ap);
    if (n > 0 && outlen + n < sizeof out) outlen += n;
}
static void flush_truth(void) {
    size_t off = 0;
    while (off < outlen) { ssize_t n = write(truth_fd, out + off, outlen - off); if (n <= 0) break; off += n; }
    outlen = 0;
}

/* ---- what the rules need to know about every call ---- */

/* A call naming fd (other than close and DEL) handles its unhandled events. */
static void touch(int fd) {
    for (int t = 0; t < cfg.threads; t++)
        for (int i = 0; i < th[t].pending; i++)
            if (th[t].ev[i].fd == fd && th[t].ev[i].state == 0 && !th[t].ev[i].orphan) th[t].ev[i].state = 1;
}
static int key_is_word(struct event *e) { return (uint32_t)e->word != (uint32_t)e->fd; }
static void closed_number(int fd) {
    for (int t = 0; t < cfg.threads; t++)
        for (int i = 0; i < th[t].pending; i++)
            if (th[t].ev[i].fd == fd && th[t].ev[i].state == 0 && !th[t].ev[i].orphan) th[t].ev[i].state = 2;
}
static void created_number(int fd) {
    for (int t = 0; t < cfg.threads; t++)
        for (int i = 0; i < th[t].pending; i++) {
            struct event *e = &th[t].ev[i];
            if (e->fd == fd && e->state == 2 && !key_is_word(e)) e->taken = 1;
        }
}
static void registered_word(uint64_t word) {
    for (int t = 0; t < cfg.threads; t++)
        for (int i = 0; i < th[t].pending; i++) {
            struct event *e = &th[t].ev[i];
            if (e->word == word && e->state == 2 && key_is_word(e)) e->taken = 1;
        }
}

static int opened(int fd, int kind, int file) {
    if (fd < 0 || fd >= MAXFD) { if (fd >= 0) close(fd); return -1; }
    fds[fd].kind = kind;
    fds[fd].file = file ? file : next_file++;
    fds[fd].creator = cur_thread;
    created_number(fd);
    return fd;
}
static int file_refs(int file) {
    int n = 0;
    for (int fd = 0; fd < MAXFD; fd++) if (fds[fd].kind && fds[fd].file == file) n++;
    return n;
}

/* ---- registrations ---- */

static uint64_t word_for(struct reg *r) {
    switch (cfg.mode) {
    case M_FD: return (uint32_t)r->fd;
    case M_FDID: return ((uint64_t)r->serial << 32) | (uint32_t)r->fd;
    case M_PTR: {
        uint64_t p = (uint64_t)(uintptr_t)&objects[r->slot];
        return cfg.guard == G_GEN ? p | (uint64_t)(objects[r->slot].gen & 15) : p;
    }
    }
    return 0;
}
static void reg_add(int owner, int fd, uint32_t interest) {
    if (nregs >= MAXREG || th[owner].by_fd[fd] || fds[fd].kind == K_NONE) return;
    if (cfg.mode == M_PTR && nfree == 0) return;
    struct reg *r = &regs[nregs++];
    memset(r, 0, sizeof *r);
    r->serial = nregs; r->fd = fd; r->owner = owner; r->live = 1; r->interest = interest; r->slot = -1;
    if (cfg.mode == M_PTR) {
        r->slot = free_slots[--nfree];
        objects[r->slot].reg = r;
        objects[r->slot].gen++;
    }
    r->word = word_for(r);
    struct epoll_event ev = {.events = interest, .data.u64 = r->word};
    touch(fd);
    if (epoll_ctl(th[owner].epfd, EPOLL_CTL_ADD, fd, &ev) != 0) { r->live = 0; if (r->slot >= 0) { objects[r->slot].reg = NULL; free_slots[nfree++] = r->slot; } nregs--; return; }
    th[owner].by_fd[fd] = r;
    registered_word(r->word);
}
static int key_is_word(struct event *e);
static void reg_end(struct reg *r) {
    /* An event keyed by its word loses its object with the registration. */
    for (int t = 0; t < cfg.threads; t++)
        for (int i = 0; i < th[t].pending; i++)
            if (th[t].ev[i].reg == r && th[t].ev[i].state == 0 && !th[t].ev[i].orphan && key_is_word(&th[t].ev[i]))
                th[t].ev[i].state = 2;
    r->live = 0;
    th[r->owner].by_fd[r->fd] = NULL;
    if (r->slot >= 0) { objects[r->slot].reg = NULL; free_slots[nfree++] = r->slot; }
}
static void reg_del(struct reg *r) {
    epoll_ctl(th[r->owner].epfd, EPOLL_CTL_DEL, r->fd, NULL);
    reg_end(r);
}

/* Closes fd through the loop: its registrations end (with DEL, or without when the
 * kernel drops them itself or, in fd+id mode with the generation guard, as an orphan). */
static void close_fd(int fd) {
    if (fd < 0 || fds[fd].kind == K_NONE || fds[fd].kind == K_EPOLL || fds[fd].kind == K_TRUTH) return;
    int shared = file_refs(fds[fd].file) > 1;
    int orphans_allowed = cfg.mode == M_FDID && cfg.guard == G_GEN;
    for (int t = 0; t < cfg.threads; t++) {
        struct reg *r = th[t].by_fd[fd];
        if (!r) continue;
        if (rnd(10) < 6 || (shared && !orphans_allowed)) reg_del(r);
        else { if (shared) r->fd_closed = 1; reg_end(r); }
    }
    closed_number(fd);
    close(fd);
    fds[fd].kind = K_NONE;
}

/* ---- fds ---- */

static int listener_port(int fd) {
    struct sockaddr_in a; socklen_t l = sizeof a;
    touch(fd);
    getsockname(fd, (struct sockaddr *)&a, &l);
    return ntohs(a.sin_port);
}
static int open_kind(int kind) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = -1, p[2];
    switch (kind) {
    case K_PIPE_R:
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) return -1;
        opened(p[0], K_PIPE_R, 0);
        opened(p[1], K_PIPE_W, 0);
        if (rnd(2)) { touch(p[1]); if (write(p[1], "x", 1) < 0) {} }
        return p[0];
    case K_EVENTFD:
        return opened(eventfd(1, EFD_NONBLOCK | EFD_CLOEXEC), K_EVENTFD, 0);
    case K_TIMERFD: {
        fd = opened(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC), K_TIMERFD, 0);
        if (fd < 0) return -1;
        struct itimerspec when = {.it_value = {.tv_sec = 0, .tv_nsec = 1}};
        touch(fd);
        timerfd_settime(fd, TFD_TIMER_ABSTIME, &when, NULL);
        return fd;
    }
    case K_UDP:
        fd = opened(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), K_UDP, 0);
        if (fd < 0) return -1;
        touch(fd);
        bind(fd, (struct sockaddr *)&a, sizeof a);
        fds[fd].listener_port = listener_port(fd);
        return fd;
    case K_LISTENER:
        fd = opened(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), K_LISTENER, 0);
        if (fd < 0) return -1;
        touch(fd);
        bind(fd, (struct sockaddr *)&a, sizeof a);
        touch(fd);
        listen(fd, 64);
        fds[fd].listener_port = listener_port(fd);
        return fd;
    }
    return -1;
}
/* A client connecting to a listener: never registered, so writing on it touches no event. */
static void connect_client(void) {
    int listeners[MAXFD], n = 0;
    for (int fd = 0; fd < MAXFD; fd++) if (fds[fd].kind == K_LISTENER) listeners[n++] = fd;
    if (!n) return;
    int l = listeners[rnd(n)];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons(fds[l].listener_port)};
    int fd = opened(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), K_CLIENT, 0);
    if (fd < 0) return;
    touch(fd);
    connect(fd, (struct sockaddr *)&a, sizeof a);
}
static int count_open(void) { int n = 0; for (int fd = 0; fd < MAXFD; fd++) if (fds[fd].kind) n++; return n; }
static int random_fd(int closable) {
    int c[MAXFD], n = 0;
    for (int fd = 3; fd < MAXFD; fd++) {
        int k = fds[fd].kind;
        if (k == K_NONE || k == K_EPOLL || k == K_TRUTH || fd == udp_sender) continue;
        if (!closable && (k == K_PIPE_W || k == K_CLIENT)) continue;
        c[n++] = fd;
    }
    return n ? c[rnd(n)] : -1;
}
static uint32_t interest_for(int kind) {
    uint32_t in = EPOLLIN, flags[] = {0, 0, EPOLLET, EPOLLONESHOT};
    if (kind == K_UDP || kind == K_CONN) in = rnd(2) ? EPOLLIN | EPOLLOUT : (rnd(2) ? EPOLLIN : EPOLLOUT);
    return in | flags[rnd(4)];
}
static void open_and_register(void) {
    int kinds[] = {K_PIPE_R, K_EVENTFD, K_TIMERFD, K_UDP, K_LISTENER};
    int k = kinds[rnd(5)];
    if (k == K_LISTENER && rnd(2)) { connect_client(); return; }
    int fd = open_kind(k);
    if (fd >= 0 && rnd(5)) reg_add(rnd(cfg.threads), fd, interest_for(k));
}
static void stimulate(void) {
    int c[MAXFD], n = 0;
    /* Writes go only to ends this thread made: a data call on an fd another thread
     * made is what a loop that dispatches by number does with a stale event. */
    for (int fd = 3; fd < MAXFD; fd++)
        if (((fds[fd].kind == K_PIPE_W || fds[fd].kind == K_CLIENT) && fds[fd].creator == cur_thread)
            || fds[fd].kind == K_UDP) c[n++] = fd;
    if (!n) return;
    int fd = c[rnd(n)];
    if (fds[fd].kind == K_UDP) {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                                .sin_port = htons(fds[fd].listener_port)};
        touch(udp_sender);
        sendto(udp_sender, "u", 1, 0, (struct sockaddr *)&a, sizeof a);
    } else {
        touch(fd);
        if (write(fd, "s", 1) < 0) {}
    }
}

/* ---- the loop ---- */

static void child_loop(void);

/* The handler of r, run for an event with mask: a data call on its own fd, then
 * what a busy server's handlers do to other fds. */
static void run_handler(struct thread *t, struct reg *r, uint32_t mask) {
    int fd = r->fd;
    char buf[64];
    touch(fd);
    switch (fds[fd].kind) {
    case K_LISTENER: {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0 && opened(c, K_CONN, 0) >= 0) {
            int what = rnd(3);
            if (what == 0) close_fd(c);
            else if (what == 1) reg_add(rnd(cfg.threads), c, interest_for(K_CONN));
        }
        break;
    }
    case K_UDP:
        if (mask & EPOLLIN) recvfrom(fd, buf, sizeof buf, 0, NULL, NULL);
        else sendto(fd, "o", 1, 0, NULL, 0);
        break;
    default:
        if ((mask & EPOLLOUT) && !(mask & EPOLLIN)) { if (write(fd, "w", 1) < 0) {} }
        else if (read(fd, buf, sizeof buf) < 0) {}
    }
    int actions = (int)rnd(4);
    for (int i = 0; i < actions; i++) {
        switch (rnd(13)) {
        case 0: case 1: case 2: close_fd(random_fd(1)); break;
        case 3: close_fd(fd); return;
        case 4: case 5: case 12: if (count_open() < 60) open_and_register(); else close_fd(random_fd(1)); break;
        case 6: {  /* dup the handler's own fd, sometimes onto an open number */
            int target = random_fd(0), d;
            touch(fd);
            if (target >= 0 && target != fd && rnd(2) && fds[target].kind != K_NONE) {
                /* dup2 closes the target's registrations the kernel way: as close_fd would, without DEL */
                for (int u = 0; u < cfg.threads; u++) if (th[u].by_fd[target]) reg_del(th[u].by_fd[target]);
                closed_number(target);
                fds[target].kind = K_NONE;
                d = dup2(fd, target);
                if (d >= 0) opened(d, fds[fd].kind == K_LISTENER ? K_LISTENER : fds[fd].kind, fds[fd].file);
            } else {
                d = dup(fd);
                if (d >= 0) opened(d, fds[fd].kind, fds[fd].file);
            }
            if (d >= 0 && fds[d].kind == K_LISTENER) fds[d].listener_port = fds[fd].listener_port;
            if (d >= 0 && fds[d].kind == K_UDP) fds[d].listener_port = fds[fd].listener_port;
            if (d >= 0 && rnd(2)) reg_add(rnd(cfg.threads), d, interest_for(fds[d].kind));
            break;
        }
        case 7: {  /* modify its own registration (re-arm, or flip EPOLLOUT) */
            if (!r->live) break;
            r->interest = interest_for(fds[fd].kind);
            struct epoll_event ev = {.events = r->interest, .data.u64 = r->word};
            touch(fd);
            epoll_ctl(th[r->owner].epfd, EPOLL_CTL_MOD, fd, &ev);
            break;
        }
        case 8: {  /* unregister some registration, keeping its fd */
            int u = rnd(cfg.threads), victim = random_fd(0);
            if (victim >= 0 && th[u].by_fd[victim]) reg_del(th[u].by_fd[victim]);
            break;
        }
        case 9: case 10: stimulate(); break;
        case 11:
            if (!forked && !in_child && rnd(3) == 0) {
                forked = 1;
                flush_truth();
                pid_t pid = fork();
                if (pid == 0) { child_loop(); _exit(0); }
                if (pid > 0) waitpid(pid, NULL, 0);
            } else {
                connect_client();
            }
        }
    }
    (void)t;
}

static struct reg *harvested_reg(struct thread *t, uint64_t word) {
    switch (cfg.mode) {
    case M_FD: return t->by_fd[(uint32_t)word];
    case M_FDID: { uint32_t s = (uint32_t)(word >> 32); return s >= 1 && s <= (uint32_t)nregs ? &regs[s - 1] : NULL; }
    case M_PTR: return ((struct object *)(uintptr_t)(word & ~(uint64_t)15))->reg;
    }
    return NULL;
}

static void end_batch(struct thread *t) {
    for (int i = 0; i < t->pending; i++) {
        struct event *e = &t->ev[i];
        const char *kind = e->orphan ? "orphan" : e->stale_call ? "likely" : (e->state == 2 && e->taken) ? "hazard" : NULL;
        if (kind) say("F %llu %d %d %d %d %s\n", (unsigned long long)cur_seed, t->tid, t->epfd, t->batch, e->fd, kind);
    }
    t->pending = t->next = 0;
}

static void wait_step(struct thread *t) {
    struct epoll_event evs[MAXEV];
    end_batch(t);
    int n = epoll_wait(t->epfd, evs, 1 + (int)rnd(MAXEV), 0);
    if (n < 0) return;
    t->batch++;
    for (int i = 0; i < n; i++) {
        struct event *e = &t->ev[t->pending];
        memset(e, 0, sizeof *e);
        e->word = evs[i].data.u64;
        e->mask = evs[i].events;
        e->reg = harvested_reg(t, e->word);
        if (!e->reg) { say("X %llu no registration for word %llx\n", (unsigned long long)cur_seed, (unsigned long long)e->word); continue; }
        e->fd = e->reg->fd;
        e->orphan = e->reg->fd_closed;
        t->pending++;
    }
}

static void dispatch_step(struct thread *t) {
    struct event *e = &t->ev[t->next++];
    struct reg *ran = NULL;
    int dead = 0;
    if (!e->orphan) {
        if (cfg.mode == M_PTR) {
            struct object *o = (struct object *)(uintptr_t)(e->word & ~(uint64_t)15);
            ran = o->reg;
            if (!ran) dead = cfg.guard == G_NONE;  /* a freed object's handler runs on fd -1 */
            else if (cfg.guard == G_GEN && (uint64_t)(o->gen & 15) != (e->word & 15)) ran = NULL;
        } else {
            ran = t->by_fd[(uint32_t)e->word];
            if (ran && cfg.guard == G_FDCHECK && !(ran->interest & e->mask & (EPOLLIN | EPOLLOUT))) ran = NULL;
            if (ran && cfg.guard == G_GEN && (uint32_t)ran->serial != (uint32_t)(e->word >> 32)) ran = NULL;
        }
    }
    if (ran && ran != e->reg) e->stale_call = 1;
    say("D %llu %d %d %d %d %d %d %d %d\n", (unsigned long long)cur_seed, t->tid, t->epfd, t->batch, t->next - 1, e->fd, e->reg->serial,
        dead ? -1 : ran ? ran->serial : 0, ran ? 1 : 0);
    if (ran) run_handler(t, ran, e->mask);
}

static void step(struct thread *t) {
    cur_thread = t->index;
    if (t->next < t->pending) dispatch_step(t);
    else wait_step(t);
}

static void *thread_main(void *arg) {
    struct thread *t = arg;
    t->tid = (int)syscall(SYS_gettid);
    pthread_mutex_lock(&lock);
    for (;;) {
        while (turn != t->index && steps_left > 0) pthread_cond_wait(&turn_changed, &lock);
        if (steps_left <= 0) break;
        step(t);
        steps_left--;
        turn = (int)rnd((uint32_t)cfg.threads);
        pthread_cond_broadcast(&turn_changed);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void setup_thread(int i) {
    th[i].index = i;
    th[i].epfd = epoll_create1(EPOLL_CLOEXEC);
    fds[th[i].epfd].kind = K_EPOLL;
}

static void seed_fds(void) {
    udp_sender = opened(socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), K_UDP, 0);
    int n = 6 + (int)rnd(8);
    for (int i = 0; i < n; i++) open_and_register();
    connect_client();
}

/* The forked child: its own table (a copy), its own epoll fd, one thread. */
static void child_loop(void) {
    in_child = 1;
    outlen = 0;
    /* Inherited fds are the parent's too: the child leaves them alone. */
    for (int fd = 0; fd < MAXFD; fd++) if (fds[fd].kind) fds[fd].kind = K_TRUTH;
    for (int i = 1; i < MAXTHREADS; i++) th[i].alive = 0;
    cfg.threads = 1;
    memset(&th[0], 0, sizeof th[0]);
    nregs = 0;
    nfree = 0;
    for (int i = 0; i < SLOTS; i++) { objects[i].reg = NULL; free_slots[nfree++] = SLOTS - 1 - i; }
    setup_thread(0);
    th[0].tid = (int)syscall(SYS_gettid);
    say("S %llu %d %s %s 1 child\n", (unsigned long long)cur_seed, (int)getpid(), mode_name[cfg.mode], guard_name[cfg.guard]);
    seed_fds();
    for (int s = 0; s < 30; s++) step(&th[0]);
    end_batch(&th[0]);
    flush_truth();
}

static void run_schedule(uint64_t seed, const char *truth_path) {
    cur_seed = seed;
    rng = seed * 2654435761u + 88172645463325252ull;
    truth_fd = open(truth_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (truth_fd < 0 || truth_fd >= MAXFD) _exit(3);
    fds[truth_fd].kind = K_TRUTH;
    for (int fd = 0; fd < 3; fd++) fds[fd].kind = K_TRUTH;  /* stdio: never touched */
    cfg.mode = (enum mode)rnd(3);
    cfg.guard = (enum guard)rnd(3);
    if (cfg.mode == M_FD && cfg.guard == G_GEN) cfg.guard = G_FDCHECK;  /* no room for a generation */
    cfg.threads = 1 + (int)rnd(MAXTHREADS);
    for (int i = 0; i < SLOTS; i++) free_slots[nfree++] = SLOTS - 1 - i;
    for (int i = 0; i < cfg.threads; i++) setup_thread(i);
    th[0].tid = (int)syscall(SYS_gettid);
    say("S %llu %d %s %s %d\n", (unsigned long long)seed, (int)getpid(), mode_name[cfg.mode], guard_name[cfg.guard],
        cfg.threads);
    seed_fds();
    steps_left = 40 + (int)rnd(60);
    pthread_t ids[MAXTHREADS];
    pthread_mutex_lock(&lock);
    turn = 0;
    pthread_mutex_unlock(&lock);
    for (int i = 1; i < cfg.threads; i++) pthread_create(&ids[i], NULL, thread_main, &th[i]);
    thread_main(&th[0]);
    for (int i = 1; i < cfg.threads; i++) pthread_join(ids[i], NULL);
    for (int i = 0; i < cfg.threads; i++) end_batch(&th[i]);
    flush_truth();
}

int main(int argc, char **argv) {
    if (argc != 4) { fprintf(stderr, "usage: truth_loop FIRST_SEED COUNT TRUTH_FILE\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    unsigned long long first = strtoull(argv[1], NULL, 10), count = strtoull(argv[2], NULL, 10);
    for (unsigned long long s = first; s < first + count; s++) {
        pid_t pid = fork();
        if (pid == 0) { run_schedule(s, argv[3]); _exit(0); }
        int status = 0;
        if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            fprintf(stderr, "schedule %llu failed (status %d)\n", s, status);
            return 1;
        }
    }
    return 0;
}
