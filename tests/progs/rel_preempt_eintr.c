/* rel_preempt_eintr: gpatch's preemption signal never makes a call return
 * EINTR. While threads compute (and are preempted), another thread on the
 * same worker makes 100 short waits of each kind that SA_RESTART never
 * restarts -- nanosleep, poll, select, epoll_wait, sigtimedwait, a read
 * with SO_RCVTIMEO -- as raw system calls (the instruction itself: the
 * worker's own OS thread sleeps in the kernel, and its CPU-time timer must
 * not interrupt it), and 10 through libc (gpatch's hooks: each parks, and
 * the computing ones keep the worker for a slice); it counts EINTRs
 * (stock: none, no handler is installed). Deterministic output; alarm
 * bounds a hang. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

#define N 100
static volatile int done;

static long raw6(long n, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

static void *compute(void *arg)
{
    (void)arg;
    volatile unsigned long x = 1;
    while (!done) x = x * 6364136223846793005ULL + 1;
    return NULL;
}

static int libc_eintr(int kind, int fd, int ep, const sigset_t *usr2)
{
    struct timespec ts = {0, 20000};
    struct pollfd p = {fd, POLLIN, 0};
    struct epoll_event ev;
    char c;
    int r;
    errno = 0;
    switch (kind) {
    case 0: r = nanosleep(&ts, NULL); break;
    case 1: r = poll(&p, 1, 0); break;
    case 2: {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(fd, &s);
        struct timeval tv = {0, 20};
        r = select(fd + 1, &s, NULL, NULL, &tv);
        break;
    }
    case 3: r = epoll_wait(ep, &ev, 1, 0); break;
    case 4: r = sigtimedwait(usr2, NULL, &ts); break;
    default: r = (int)read(fd, &c, 1); break; /* SO_RCVTIMEO: EAGAIN after 1 ms */
    }
    return r < 0 && errno == EINTR;
}

static int raw_eintr(int kind, int fd, int ep, const sigset_t *usr2)
{
    struct timespec ts = {0, 20000};
    struct pollfd p = {fd, POLLIN, 0};
    struct epoll_event ev;
    char c;
    long r;
    switch (kind) {
    case 0: r = raw6(SYS_nanosleep, (long)&ts, 0, 0, 0, 0, 0); break;
    case 1: r = raw6(SYS_poll, (long)&p, 1, 1, 0, 0, 0); break;
    case 2: {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(fd, &s);
        struct timeval tv = {0, 20};
        r = raw6(SYS_select, fd + 1, (long)&s, 0, 0, (long)&tv, 0);
        break;
    }
    case 3: r = raw6(SYS_epoll_wait, ep, (long)&ev, 1, 1, 0, 0); break;
    case 4: r = raw6(SYS_rt_sigtimedwait, (long)usr2, 0, (long)&ts, 8, 0, 0); break;
    default: r = raw6(SYS_read, fd, (long)&c, 1, 0, 0, 0); break;
    }
    return r == -EINTR;
}

static const char *names[] = {"nanosleep", "poll", "select", "epoll_wait", "sigtimedwait", "read SO_RCVTIMEO"};

static void *waiter(void *arg)
{
    (void)arg;
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    struct timeval tmo = {0, 1000};
    setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof tmo);
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = sv[0]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    for (int kind = 0; kind < 6; kind++) {
        int libc = 0, raw = 0;
        for (int i = 0; i < N; i++) {
            if (i % 10 == 0) libc += libc_eintr(kind, sv[0], ep, &usr2); /* each parks: a slice's wait */
            raw += raw_eintr(kind, sv[0], ep, &usr2);
            volatile unsigned long x = 1; /* some computing of its own between */
            for (int k = 0; k < 20000; k++) x = x * 3 + 1;
        }
        printf("%s: EINTR libc %d, raw %d\n", names[kind], libc, raw);
    }
    close(ep);
    close(sv[0]);
    close(sv[1]);
    return NULL;
}

int main(void)
{
    alarm(bound_s(60));
    setvbuf(stdout, NULL, _IOLBF, 0);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL); /* sigtimedwait waits for it; nobody sends it */
    pthread_t c[2], w;
    for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, compute, NULL);
    pthread_create(&w, NULL, waiter, NULL);
    pthread_join(w, NULL);
    done = 1;
    for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
    printf("done\n");
    return 0;
}
