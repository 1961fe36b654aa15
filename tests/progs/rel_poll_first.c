/* rel_poll_first: calls on files whose kernel refuses RWF_NOWAIT (pipes before
 * Linux 6.x, anonymous inodes always), which gpatch polls before it calls.
 *
 * - write() and writev() of 1 MiB into a pipe whose reader is another thread
 *   (on gpatch, a green thread that may share the writer's worker): stock
 *   writes it all, blocking until the reader has read; a wait that blocked
 *   the worker in the kernel would never let the reader run.
 * - writes that the kernel refuses at once (timerfd, signalfd, inotify: EINVAL)
 *   and reads it refuses at once (an epoll fd: EINVAL): a poll of those files
 *   never reports that direction, so a wait for it would last forever.
 * - an eventfd still waits as stock: a write that would overflow its counter
 *   blocks until a reader takes it.
 *
 * Run it under gpatch with GPATCH_NO_RWF_NOWAIT=1 to take the pipe path the
 * old kernels take on any kernel. Output is deterministic; alarm(20) bounds a
 * hang. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <unistd.h>
#include "bound.h"

#define BIG (1 << 20)

static void report(const char *what, long r)
{
    printf("%-34s ret=%ld errno=%s\n", what, r, r < 0 ? strerror(errno) : "-");
    fflush(stdout);
}

struct drain { int fd; long got; unsigned sum; };

static void *drain(void *arg)
{
    struct drain *d = arg;
    char buf[3000];
    ssize_t n;
    while ((n = read(d->fd, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++) d->sum = d->sum * 31 + (unsigned char)buf[i];
        d->got += n;
    }
    return NULL;
}

static void *eventfd_reader(void *arg)
{
    int fd = *(int *)arg;
    usleep(50000);
    uint64_t v;
    long r = read(fd, &v, sizeof v);
    return (void *)(r == sizeof v && v == 0xfffffffffffffffeull ? 1L : 0L);
}

static void pipe_write(int use_writev, char *big)
{
    int p[2];
    pipe(p);
    struct drain d = {p[0], 0, 0};
    pthread_t t;
    pthread_create(&t, NULL, drain, &d);
    long r;
    if (use_writev) {
        struct iovec v[3] = {{big, 1000}, {big + 1000, BIG / 2}, {big + 1000 + BIG / 2, BIG / 2 - 1000}};
        r = writev(p[1], v, 3);
    } else {
        r = write(p[1], big, BIG);
    }
    report(use_writev ? "writev 1 MiB into a pipe" : "write 1 MiB into a pipe", r);
    close(p[1]);
    pthread_join(t, NULL);
    report("  the reader got", d.got);
    report("  its checksum", (long)d.sum);
    close(p[0]);
}

int main(void)
{
    alarm(bound_s(20));
    setvbuf(stdout, NULL, _IOLBF, 0);
    char *big = malloc(BIG);
    for (int i = 0; i < BIG; i++) big[i] = (char)(i * 7 + i / 4096);
    pipe_write(0, big);
    pipe_write(1, big);

    /* a small write is one write, whole, as stock */
    int p[2];
    pipe(p);
    report("write 100 bytes into a pipe", write(p[1], big, 100));
    char buf[200];
    report("  read back", read(p[0], buf, sizeof buf));
    close(p[0]);
    close(p[1]);

    uint64_t one = 1;
    int tfd = timerfd_create(CLOCK_MONOTONIC, 0);
    report("write to a timerfd", write(tfd, &one, sizeof one));
    close(tfd);

    sigset_t m;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    int sfd = signalfd(-1, &m, 0);
    report("write to a signalfd", write(sfd, &one, sizeof one));
    close(sfd);

    int ifd = inotify_init();
    report("write to an inotify fd", write(ifd, &one, sizeof one));
    close(ifd);

    int efd = epoll_create1(0);
    report("read an epoll fd", read(efd, buf, sizeof buf));
    close(efd);

    int evfd = eventfd(0, 0);
    uint64_t v = 0xfffffffffffffffeull;
    report("eventfd: write to the top", write(evfd, &v, sizeof v));
    pthread_t t;
    pthread_create(&t, NULL, eventfd_reader, &evfd);
    report("eventfd: write waits for a reader", write(evfd, &one, sizeof one));
    void *ok;
    pthread_join(t, &ok);
    report("  the reader read the top", (long)ok);
    report("eventfd: read what the wait wrote", read(evfd, &v, sizeof v));
    report("  value", (long)v);
    close(evfd);
    free(big);
    return 0;
}
