#define _GNU_SOURCE
/* Two loop threads share one fd table. The worker harvests an event for a pipe;
 * before it dispatches, the main thread closes that pipe and creates a new pipe,
 * which takes the same number; the worker then dispatches by fd number and reads
 * the new pipe (EAGAIN). Semaphores force that interleaving; strace prints the
 * threads' calls interleaved, split as unfinished/resumed. */
#include <fcntl.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <unistd.h>

static sem_t harvested, replaced;
static int watched[2];

static void *worker(void *unused) {
    (void)unused;
    int epfd = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = (uint64_t)watched[0]};
    epoll_ctl(epfd, EPOLL_CTL_ADD, watched[0], &ev);
    struct epoll_event out[4];
    int n = epoll_wait(epfd, out, 4, 1000);
    sem_post(&harvested);
    sem_wait(&replaced);
    char buf[8];
    for (int i = 0; i < n; i++) read((int)out[i].data.u64, buf, sizeof buf); /* dispatch by number */
    epoll_wait(epfd, out, 4, 0);
    close(epfd);
    return NULL;
}

int main(void) {
    sem_init(&harvested, 0, 0);
    sem_init(&replaced, 0, 0);
    if (pipe2(watched, O_NONBLOCK) != 0) return 2;
    if (write(watched[1], "x", 1) != 1) return 2;
    pthread_t thread;
    pthread_create(&thread, NULL, worker, NULL);
    sem_wait(&harvested);
    close(watched[0]);
    int fresh[2];
    if (pipe2(fresh, O_NONBLOCK) != 0) return 2; /* fresh[0] takes watched[0]'s number */
    sem_post(&replaced);
    pthread_join(thread, NULL);
    return 0;
}
