/* loadgen — N concurrent HTTP clients on one thread (epoll), never
 * preloaded. Opens all N connections at once, sends one request on each,
 * reads each answer to EOF; meanwhile samples the server's /proc/PID/status
 * for its peak OS thread count and peak RSS.
 * Each client writes its request as soon as its connection is open.
 * Usage: loadgen PORT N [SERVER_PID] [TIMEOUT_S]
 * Slow clients: LOADGEN_SLOW_MS=M sends each request in two halves M ms
 * apart (the server holds every connection meanwhile); LOADGEN_RAMP=K opens
 * at most K new connections every 10 ms (a listen backlog may be small).
 * Prints: answered=A/N wall_s=W peak_threads=T peak_rss_kib=R (T: the server's
 * OS threads, gpatch's named helpers left out) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "program_threads.h"

struct conn { int fd, sent, ok, done, opened; double t_open; size_t got; char head[16]; };
static const char *REQ = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static void sample(int pid, long *threads, long *rss)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        long v;
        if (sscanf(line, "VmHWM: %ld", &v) == 1 && v > *rss) *rss = v;
    }
    fclose(f);
    long t = program_threads(pid);
    if (t > *threads) *threads = t;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: loadgen PORT N [SERVER_PID] [TIMEOUT_S]\n");
        return 2;
    }
    int port = atoi(argv[1]), n = atoi(argv[2]), pid = argc > 3 ? atoi(argv[3]) : 0;
    double timeout = argc > 4 ? atof(argv[4]) : 30;
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    struct conn *c = calloc((size_t)n, sizeof *c);
    int ep = epoll_create1(0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const char *sl = getenv("LOADGEN_SLOW_MS"), *rp = getenv("LOADGEN_RAMP");
    double slow = sl ? atof(sl) / 1000 : 0;
    int ramp = rp ? atoi(rp) : n, opened = 0;
    size_t half = slow > 0 ? strlen(REQ) / 2 : strlen(REQ);
    double t0 = now(), last_ramp = 0;
    long threads = 0, rss = 0;
    int done = 0, answered = 0;
    struct epoll_event evs[256];
    double last_sample = 0;
    while (done < n && now() - t0 < timeout) {
        if (opened < n && now() - last_ramp >= 0.01) { /* open the next batch */
            last_ramp = now();
            for (int k = 0; k < ramp && opened < n; k++, opened++) {
                struct conn *x = &c[opened];
                x->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
                x->t_open = now();
                if (x->fd < 0 || (connect(x->fd, (struct sockaddr *)&a, sizeof a) != 0 && errno != EINPROGRESS)) {
                    x->done = 1;
                    done++;
                    continue;
                }
                /* a client sends as soon as it is connected (on loopback the
                 * handshake is usually done when connect returns); if not yet,
                 * when the socket says it is writable */
                if (write(x->fd, REQ, half) == (ssize_t)half) x->sent = half == strlen(REQ) ? 2 : 1;
                struct epoll_event ev = {.events = x->sent ? EPOLLIN : EPOLLOUT | EPOLLIN, .data.u32 = (uint32_t)opened};
                epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev);
            }
        }
        if (slow > 0) /* second halves that are due */
            for (int i = 0; i < opened; i++)
                if (c[i].sent == 1 && now() - c[i].t_open >= slow) {
                    const char *rest = REQ + half;
                    if (write(c[i].fd, rest, strlen(rest)) == (ssize_t)strlen(rest)) c[i].sent = 2;
                }
        if (pid && now() - last_sample > 0.02) {
            sample(pid, &threads, &rss);
            last_sample = now();
        }
        int k = epoll_wait(ep, evs, 256, 5);
        for (int j = 0; j < k; j++) {
            struct conn *x = &c[evs[j].data.u32];
            if (x->done) continue;
            if (!x->sent && (evs[j].events & EPOLLOUT)) {
                if (write(x->fd, REQ, half) == (ssize_t)half) x->sent = half == strlen(REQ) ? 2 : 1;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = evs[j].data.u32};
                epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
            }
            if (evs[j].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                char buf[4096];
                ssize_t r;
                while ((r = read(x->fd, buf, sizeof buf)) > 0) {
                    size_t take = x->got < sizeof x->head - 1 ? sizeof x->head - 1 - x->got : 0;
                    if (take > (size_t)r) take = (size_t)r;
                    memcpy(x->head + x->got, buf, take);
                    x->got += (size_t)r;
                }
                if (r == 0 || (r < 0 && errno != EAGAIN)) {
                    x->ok = strncmp(x->head, "HTTP/1.", 7) == 0 && strncmp(x->head + 8, " 200", 4) == 0;
                    answered += x->ok;
                    x->done = 1;
                    done++;
                    close(x->fd);
                }
            }
        }
    }
    double wall = now() - t0;
    if (pid) sample(pid, &threads, &rss);
    printf("answered=%d/%d wall_s=%.3f peak_threads=%ld peak_rss_kib=%ld\n", answered, n, wall, threads, rss);
    return answered == n ? 0 : 1;
}
