/* The worker-pool server (tests/progs/pool_http.c: an acceptor thread, a
 * mutex + condition queue, workers that log each request's peer with a
 * numeric getnameinfo, poll before recv and answer with sendfile) under 200
 * concurrent keep-alive clients, stock and under gpatch: every response
 * byte-exact in both, the same counts printed at the end, and under gpatch
 * no request sent to a helper thread (a numeric getnameinfo only formats). */
#include "harness.h"

#include <sys/epoll.h>
#include <sys/resource.h>

TestSuite(pool_server, .fini = h_cleanup, .timeout = 120);

#define CLIENTS 200
#define REQS 25 /* per client; the last one asks the server to close */
#define WORKERS "256" /* more than CLIENTS: a connection keeps its worker */

static char body[700];

static void make_body(char *path)
{
    for (size_t i = 0; i < sizeof body; i++) body[i] = i % 50 == 49 ? '\n' : (char)('A' + (i * 7) % 26);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, body, sizeof body), (ssize_t)sizeof body);
    close(fd);
}

struct client {
    int fd, sent, closed;
    size_t got; /* bytes of the current response */
    char resp[1024];
};

static void send_request(struct client *c)
{
    char req[160];
    int last = c->sent == REQS - 1;
    int n = snprintf(req, sizeof req, "GET /file/%d HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n", c->sent,
                     last ? "Connection: close\r\n" : "");
    cr_assert_eq(write(c->fd, req, (size_t)n), n);
    c->sent++;
    c->got = 0;
}

/* All clients connect, then each sends its requests one after another,
 * reading each response whole before the next. Returns how many responses
 * were byte-exact; *eofs counts the connections the server closed after the
 * request that asked it to. */
static int run_clients(int port, int *eofs)
{
    char expect[1024];
    size_t elen = (size_t)snprintf(expect, sizeof expect,
                                   "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nContent-Type: text/plain\r\n\r\n",
                                   sizeof body);
    memcpy(expect + elen, body, sizeof body);
    elen += sizeof body;
    static struct client cl[CLIENTS];
    int ep = epoll_create1(0), good = 0, open_conns = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *eofs = 0;
    for (int i = 0; i < CLIENTS; i++) {
        memset(&cl[i], 0, sizeof cl[i]);
        cl[i].fd = socket(AF_INET, SOCK_STREAM, 0);
        cr_assert(cl[i].fd >= 0);
        cr_assert_eq(connect(cl[i].fd, (struct sockaddr *)&a, sizeof a), 0, "connect %d: %s", i, strerror(errno));
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, cl[i].fd, &ev);
        open_conns++;
    }
    for (int i = 0; i < CLIENTS; i++) send_request(&cl[i]); /* 200 requests in flight at once */
    time_t t0 = time(NULL);
    while (open_conns > 0 && time(NULL) - t0 < 60) {
        struct epoll_event evs[128];
        int k = epoll_wait(ep, evs, 128, 100);
        for (int j = 0; j < k; j++) {
            struct client *c = &cl[evs[j].data.u32];
            ssize_t r = read(c->fd, c->resp + c->got, sizeof c->resp - c->got);
            if (r <= 0) { /* the server hung up: right only after the last response */
                if (r == 0 && c->sent == REQS && c->got == 0) (*eofs)++;
                epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                close(c->fd);
                c->closed = 1;
                open_conns--;
                continue;
            }
            c->got += (size_t)r;
            if (c->got < elen) continue;
            if (c->got == elen && memcmp(c->resp, expect, elen) == 0) good++;
            if (c->sent < REQS) send_request(c);
            else c->got = 0; /* the server closes next */
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        if (!cl[i].closed) close(cl[i].fd);
    close(ep);
    return good;
}

/* pool jobs counted by GPATCH_STATS in its stderr, or -1 */
static long pool_jobs(const char *err)
{
    const char *p = strstr(err, "pool jobs ");
    return p ? strtol(p + 10, NULL, 10) : -1;
}

/* one run of the server: its stdout after SIGTERM in out, its stderr in err */
static int one_run(int preload, const char *file, int *good, int *eofs, char *out, size_t cap, char *err, size_t ecap)
{
    char errf[] = "/tmp/gpatch-pool-server-XXXXXX";
    int efd = mkstemp(errf);
    cr_assert(efd >= 0);
    char *sh[] = {"/bin/sh", "-c", "exec \"$0\" 0 \"$1\" \"$2\" 2>\"$3\"", h_path("build/progs/pool_http"), WORKERS,
                  (char *)file, errf, NULL};
    char *env[] = {"GPATCH_STATS=1", NULL};
    struct h_proc pr = h_spawn(sh, preload, env);
    int port = h_port(&pr, 20);
    cr_assert(port > 0, "pool_http did not start (%s)", preload ? "gpatch" : "stock");
    *good = run_clients(port, eofs);
    kill(pr.pid, SIGTERM);
    int st = h_collect(&pr, out, cap, 30);
    ssize_t n = read(efd, err, ecap - 1);
    err[n > 0 ? n : 0] = 0;
    close(efd);
    unlink(errf);
    return st;
}

Test(pool_server, keepalive_200_clients_same_as_stock_no_pool_jobs)
{
    char file[] = "/tmp/gpatch-pool-body-XXXXXX";
    make_body(file);
    static char out[2][4096], err[2][65536];
    int good[2], eofs[2], st[2];
    for (int preload = 0; preload < 2; preload++)
        st[preload] = one_run(preload, file, &good[preload], &eofs[preload], out[preload], sizeof out[0], err[preload],
                              sizeof err[0]);
    unlink(file);
    char want[128];
    snprintf(want, sizeof want, "answered %d\nlogged from 127.0.0.1 %d\n", CLIENTS * REQS, CLIENTS * REQS);
    cr_assert_eq(st[0], 0, "stock exited %d:\n%s\n%s", st[0], out[0], err[0]);
    cr_assert_eq(good[0], CLIENTS * REQS, "stock: %d of %d responses exact", good[0], CLIENTS * REQS);
    cr_assert_eq(eofs[0], CLIENTS, "stock closed %d of %d connections when asked", eofs[0], CLIENTS);
    cr_assert_str_eq(out[0], want, "stock printed:\n%s", out[0]);
    cr_assert_eq(st[1], 0, "under gpatch exited %d:\n%s\n%s", st[1], out[1], err[1]);
    cr_assert_eq(good[1], CLIENTS * REQS, "under gpatch: %d of %d responses exact", good[1], CLIENTS * REQS);
    cr_assert_eq(eofs[1], CLIENTS, "under gpatch: closed %d of %d connections when asked", eofs[1], CLIENTS);
    cr_assert_str_eq(out[1], want, "under gpatch printed:\n%s", out[1]);
    /* 5,000 numeric getnameinfo calls, and nothing else that could go to a
     * helper thread: answered on the green thread, none as a pool job */
    long jobs = pool_jobs(err[1]);
    cr_assert(jobs >= 0, "no stats under gpatch:\n%s", err[1]);
    cr_assert_eq(jobs, 0, "%ld pool jobs for %d requests:\n%s", jobs, CLIENTS * REQS, err[1]);
}
