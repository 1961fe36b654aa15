/* rel_handoff_eintr: no signal of gpatch's may make a program's call fail.
 * A thread alternates a few milliseconds of computing with a ~1 ms blocking
 * system call, hundreds of times; main waits in pthread_join. Under gpatch
 * with own TLS the computing thread keeps its worker past the hand-off
 * threshold (GPATCH_HANDOFF_MS, 10 ms) again and again, and the hand-off
 * signal must never land so that one of those calls returns EINTR, which
 * stock never does here (nothing sends this process a signal). Most calls
 * are made by an inline `syscall` instruction gpatch never sees:
 *   clock_nanosleep (relative), nanosleep, clock_nanosleep (absolute),
 *   read of a pipe a child process writes to after ~1 ms, poll and ppoll
 *   with a 1 ms timeout, a futex wait with a 1 ms timeout, epoll_wait,
 *   select (all of them calls the kernel ends with EINTR after a handler,
 *   SA_RESTART or not, but the read);
 * and, at the start of each round, one through libc (syscall(2)'s
 * clock_nanosleep, nanosleep, poll), which gpatch hooks: the thread comes
 * back to its worker there, and the next round is handed off anew.
 * Output: per kind, the calls made and how many failed (EINTR, or any
 * answer but the expected one): all 0. argv[1]: rounds (default 150, about
 * 3 s); argv[2]: ms of computing between two calls (default 4). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static volatile uint64_t sink;
static int rounds = 150, compute_ms = 4;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the vDSO */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void compute(int ms)
{
    int64_t end = now_ns() + (int64_t)ms * 1000000;
    uint64_t h = 1469598103934665603ull;
    while (now_ns() < end)
        for (int i = 0; i < 2000; i++) h = (h ^ (uint64_t)i) * 1099511628211ull;
    sink = h;
}

/* a system call by the instruction itself: -errno on failure */
static long sc(long nr, long a, long b, long c, long d, long e, long f)
{
    long r;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                     : "rcx", "r11", "memory");
    return r;
}

enum {
    K_CNS, K_NS, K_CNS_ABS, K_READ, K_POLL, K_PPOLL, K_FUTEX, K_EPOLL, K_SELECT, /* raw */
    K_LIBC_SYSCALL, K_LIBC_NANOSLEEP, K_LIBC_POLL,                            /* through libc */
    K_N
};
#define N_RAW 9
static const char *names[K_N] = {"clock_nanosleep", "nanosleep", "clock_nanosleep(abs)", "read(pipe)", "poll",
                                 "ppoll", "futex wait", "epoll_wait", "select",
                                 "libc syscall(clock_nanosleep)", "libc nanosleep", "libc poll"};
static int calls[K_N], fails[K_N], eintr[K_N];

static int req_w, data_r, idle_r, ep;
static uint32_t fword;

static void one(int k)
{
    const struct timespec ms1 = {0, 1000000};
    long r = 0, want = 0;
    switch (k) {
    case K_CNS:
        r = sc(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, (long)&ms1, 0, 0, 0);
        break;
    case K_NS:
        r = sc(SYS_nanosleep, (long)&ms1, 0, 0, 0, 0, 0);
        break;
    case K_CNS_ABS: {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        t.tv_nsec += 1000000;
        if (t.tv_nsec >= 1000000000) t.tv_sec++, t.tv_nsec -= 1000000000;
        r = sc(SYS_clock_nanosleep, CLOCK_MONOTONIC, TIMER_ABSTIME, (long)&t, 0, 0, 0);
        break;
    }
    case K_READ: { /* the child answers each request byte after ~1 ms */
        char b = 'q';
        if (sc(SYS_write, req_w, (long)&b, 1, 0, 0, 0) != 1) {
            r = -1000;
            break;
        }
        r = sc(SYS_read, data_r, (long)&b, 1, 0, 0, 0);
        want = 1;
        break;
    }
    case K_POLL: {
        struct pollfd p = {idle_r, POLLIN, 0};
        r = sc(SYS_poll, (long)&p, 1, 1, 0, 0, 0);
        break;
    }
    case K_PPOLL: {
        struct pollfd p = {idle_r, POLLIN, 0};
        struct timespec t = ms1;
        r = sc(SYS_ppoll, (long)&p, 1, (long)&t, 0, 8, 0);
        break;
    }
    case K_FUTEX:
        r = sc(SYS_futex, (long)&fword, FUTEX_WAIT_PRIVATE, 0, (long)&ms1, 0, 0);
        want = -ETIMEDOUT;
        break;
    case K_EPOLL: {
        struct epoll_event ev;
        r = sc(SYS_epoll_wait, ep, (long)&ev, 1, 1, 0, 0);
        break;
    }
    case K_SELECT: {
        fd_set s;
        FD_ZERO(&s);
        FD_SET(idle_r, &s);
        struct timeval tv = {0, 1000};
        r = sc(SYS_select, idle_r + 1, (long)&s, 0, 0, (long)&tv, 0);
        break;
    }
    case K_LIBC_SYSCALL:
        r = syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ms1, NULL);
        if (r) r = -errno;
        break;
    case K_LIBC_NANOSLEEP:
        r = nanosleep(&ms1, NULL) ? -errno : 0;
        break;
    case K_LIBC_POLL: {
        struct pollfd p = {idle_r, POLLIN, 0};
        r = poll(&p, 1, 1);
        if (r < 0) r = -errno;
        break;
    }
    }
    calls[k]++;
    if (r == -EINTR) eintr[k]++;
    else if (r != want) fails[k]++;
}

static void *worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < rounds; i++) {
        one(N_RAW + i % (K_N - N_RAW)); /* through libc: under gpatch, back to the worker */
        for (int j = 0; j < 4; j++) {
            compute(compute_ms);
            one((i * 4 + j) % N_RAW);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    alarm(bound_s(60));
    if (argc > 1) rounds = atoi(argv[1]);
    if (argc > 2) compute_ms = atoi(argv[2]);
    int req[2], data[2], idle[2];
    if (pipe(req) || pipe(data) || pipe(idle)) return 1;
    pid_t child = fork();
    if (child == 0) { /* answers each request after ~1 ms; ends at EOF */
        close(req[1]);
        close(data[0]);
        char b;
        while (read(req[0], &b, 1) == 1) {
            struct timespec t = {0, 1000000};
            nanosleep(&t, NULL);
            if (write(data[1], &b, 1) != 1) break;
        }
        _exit(0);
    }
    close(req[0]);
    close(data[1]);
    req_w = req[1];
    data_r = data[0];
    idle_r = idle[0];
    ep = epoll_create1(0);
    pthread_t t;
    pthread_create(&t, NULL, worker, NULL);
    pthread_join(t, NULL);
    close(req_w);
    waitpid(child, NULL, 0);
    int total = 0;
    for (int k = 0; k < K_N; k++) {
        printf("%-30s calls %4d  EINTR %d  other failures %d\n", names[k], calls[k], eintr[k], fails[k]);
        total += eintr[k] + fails[k];
    }
    printf("failed calls: %d\n", total);
    return 0;
}
