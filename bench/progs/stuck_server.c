/* stuck_server: a thread-per-connection echo server on 127.0.0.1 while one
 * of its threads sits in a read no preload can see (an inline syscall
 * instruction on a pipe) for 2 s. A client process (forked before any
 * thread exists, one thread, poll) keeps 16 connections busy on a fixed
 * schedule, one 64-byte request per connection every 10 ms, and measures
 * each round trip from its scheduled send time (so a stalled server is not
 * hidden by fewer requests). After 2 s it writes the pipe, which ends the
 * stuck read. Prints "p50_ms=... p99_ms=... max_ms=... n=..." over the 2 s.
 * Used by bench/run.py (stock against gpatch, with and without hand-off).
 * With the argument "compute", instead of the stuck read two threads compute
 * in a loop that makes no call for the 2 s (until main reads the client's
 * "go" on the pipe): the fairness of preemption (GPATCH_PREEMPT_MS). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CONNS 16
#define PERIOD_NS 10000000LL
#define WINDOW_NS 2000000000LL
#define MSG 64

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return x < y ? -1 : x > y;
}

static int full(int fd, char *b, int n, int wr)
{
    for (int d = 0; d < n;) {
        ssize_t r = wr ? write(fd, b + d, n - d) : read(fd, b + d, n - d);
        if (r <= 0) return -1;
        d += (int)r;
    }
    return 0;
}

static void client(int port, int wfd)
{
    int fd[CONNS];
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < CONNS; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd[i], (struct sockaddr *)&a, sizeof a)) _exit(2);
    }
    usleep(100000);
    static long long lat[CONNS * (WINDOW_NS / PERIOD_NS + 2)];
    int n = 0;
    char buf[MSG];
    memset(buf, 'x', sizeof buf);
    long long t0 = now_ns();
    long long next[CONNS];
    int got[CONNS]; /* bytes of the answer read so far; -1: nothing outstanding */
    for (int i = 0; i < CONNS; i++) next[i] = t0 + PERIOD_NS * i / CONNS, got[i] = -1;
    long long sent_at[CONNS];
    while (now_ns() - t0 < WINDOW_NS) {
        long long t = now_ns();
        for (int i = 0; i < CONNS; i++)
            if (got[i] < 0 && t >= next[i]) {
                if (full(fd[i], buf, MSG, 1)) _exit(3);
                sent_at[i] = next[i]; /* the schedule, not the moment: a late send counts as waiting */
                got[i] = 0;
            }
        struct pollfd p[CONNS];
        for (int i = 0; i < CONNS; i++) p[i] = (struct pollfd){fd[i], got[i] >= 0 ? POLLIN : 0, 0};
        if (poll(p, CONNS, 1) < 0) _exit(4);
        for (int i = 0; i < CONNS; i++)
            if (p[i].revents & POLLIN) {
                ssize_t r = read(fd[i], buf, MSG - got[i]);
                if (r <= 0) _exit(5);
                got[i] += (int)r;
                if (got[i] == MSG) {
                    lat[n++] = now_ns() - sent_at[i];
                    got[i] = -1;
                    next[i] += PERIOD_NS;
                    if (next[i] < now_ns() - PERIOD_NS) next[i] = now_ns(); /* fell behind: resume the schedule */
                }
            }
    }
    /* requests still unanswered count with their wait so far */
    for (int i = 0; i < CONNS; i++)
        if (got[i] >= 0) lat[n++] = now_ns() - sent_at[i];
    if (write(wfd, "go\n", 3) != 3) _exit(6);
    for (int i = 0; i < CONNS; i++) close(fd[i]);
    qsort(lat, n, sizeof *lat, cmp);
    printf("p50_ms=%.3f p99_ms=%.3f max_ms=%.3f n=%d\n", lat[n / 2] / 1e6, lat[n * 99 / 100] / 1e6, lat[n - 1] / 1e6, n);
    fflush(stdout);
    _exit(0);
}

static void *handler(void *arg)
{
    int fd = (int)(long)arg;
    char b[MSG];
    while (full(fd, b, MSG, 0) == 0 && full(fd, b, MSG, 1) == 0) {
    }
    close(fd);
    return NULL;
}

static int lfd, pfd[2];

static void *acceptor(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(lfd, NULL, NULL);
        if (c < 0) return NULL;
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        pthread_create(&t, NULL, handler, (void *)(long)c);
        pthread_detach(t);
    }
}

static void *stuck(void *arg)
{
    (void)arg;
    char b[8];
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"((long)SYS_read), "D"((long)pfd[0]), "S"(b), "d"(sizeof b)
                     : "rcx", "r11", "memory");
    return (void *)r;
}

static volatile int stop;

/* (also ends 3 s after it began: without preemption, main, which would
 * set stop, may never run; clock_gettime is the vDSO's, no system call) */
static void *compute(void *arg)
{
    unsigned long x = (unsigned long)arg;
    long long end = now_ns() + 3 * 1000000000LL;
    for (int i = 0; !stop; i++) {
        x = x * 6364136223846793005UL + 1442695040888963407UL;
        if (!(i & 0xfffff) && now_ns() > end) break;
    }
    return (void *)x;
}

int main(int argc, char **argv)
{
    int computing = argc > 1 && strcmp(argv[1], "compute") == 0;
    lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(lfd, (struct sockaddr *)&a, sizeof a) || listen(lfd, 128) || getsockname(lfd, (struct sockaddr *)&a, &al))
        return 1;
    if (pipe(pfd)) return 1;
    pid_t kid = fork();
    if (kid == 0) {
        close(pfd[0]);
        client(ntohs(a.sin_port), pfd[1]);
    }
    close(pfd[1]);
    pthread_t s, t, c[2];
    pthread_create(&t, NULL, acceptor, NULL);
    if (computing) {
        for (int i = 0; i < 2; i++) pthread_create(&c[i], NULL, compute, (void *)(long)(i + 1));
        char b[8];
        if (read(pfd[0], b, sizeof b) <= 0) return 1;
        stop = 1;
        for (int i = 0; i < 2; i++) pthread_join(c[i], NULL);
    } else {
        pthread_create(&s, NULL, stuck, NULL);
        pthread_join(s, NULL);
    }
    int st;
    waitpid(kid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}
