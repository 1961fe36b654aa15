/* Servers: the stock-built thread-per-connection programs under gpatch,
 * 1,000 concurrent clients on loopback, compared with the same run stock. */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

TestSuite(servers, .fini = h_cleanup, .timeout = 120);

/* N clients at once, each sends its own 1 KiB and expects it back intact.
 * Every client stays connected until all are answered, then the server's
 * thread count is read from /proc (also once after the connects).
 * Returns how many got their bytes back. */
static int echo_clients(int port, int n, pid_t server, long *peak_threads)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    int *fd = calloc((size_t)n, sizeof *fd);
    size_t *got = calloc((size_t)n, sizeof *got);
    int ep = epoll_create1(0), ok = 0, done = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; i++) {
        fd[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&a, sizeof a) != 0) {
            done++;
            continue;
        }
        char msg[1024];
        memset(msg, 'a' + i % 26, sizeof msg);
        snprintf(msg, 16, "%08d", i);
        (void)!write(fd[i], msg, sizeof msg);
        fcntl(fd[i], F_SETFL, O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
    }
    *peak_threads = h_program_threads(server);
    struct epoll_event evs[128];
    time_t t0 = time(NULL);
    while (done < n && time(NULL) - t0 < 60) {
        int k = epoll_wait(ep, evs, 128, 100);
        for (int j = 0; j < k; j++) {
            int i = (int)evs[j].data.u32;
            char buf[2048];
            ssize_t r = read(fd[i], buf, sizeof buf);
            if (r <= 0) continue;
            if (got[i] == 0) {
                char want[16];
                snprintf(want, sizeof want, "%08d", i);
                if (r < 8 || memcmp(buf, want, 8) != 0) got[i] = 1u << 30; /* wrong data */
            }
            got[i] += (size_t)r;
            if (got[i] == 1024) { /* stays open: its server thread lives on */
                ok++;
                done++;
                epoll_ctl(ep, EPOLL_CTL_DEL, fd[i], NULL);
            }
        }
    }
    /* every echoed client is still connected, so a stock server holds one
     * thread per connection now, whatever the timing was on the way here */
    long th = h_program_threads(server);
    if (th > *peak_threads) *peak_threads = th;
    for (int i = 0; i < n; i++)
        if (fd[i] >= 0) close(fd[i]);
    free(fd);
    free(got);
    close(ep);
    return ok;
}

static void echo_run(int preload, int *ok, long *threads)
{
    char *argv[] = {h_path("build/progs/echo_server"), "0", NULL};
    struct h_proc pr = h_spawn(argv, preload, NULL);
    int port = h_port(&pr, 10);
    cr_assert(port > 0, "echo_server did not start");
    *ok = echo_clients(port, 1000, pr.pid, threads);
    h_cleanup();
}

Test(servers, echo_1000_concurrent_clients)
{
    int ok_stock, ok_gp;
    long th_stock, th_gp;
    echo_run(0, &ok_stock, &th_stock);
    echo_run(1, &ok_gp, &th_gp);
    cr_assert_eq(ok_stock, 1000, "stock answered %d", ok_stock);
    cr_assert_eq(ok_gp, 1000, "under gpatch answered %d", ok_gp);
    cr_assert_gt(th_stock, 100, "stock should run a thread per connection (%ld)", th_stock);
    cr_assert_eq(th_gp, h_workers(), "under gpatch the server should stay on its %d worker OS threads, saw %ld", h_workers(), th_gp);
}

/* the seed scenario: handler sleeps 1 s, 1,000 clients at once; all answer,
 * on one OS thread (the wall time is the benchmark's to quote, not a test's) */
Test(servers, sleep_scenario_one_os_thread)
{
    char *argv[] = {h_path("build/progs/sleep_server"), "0", "1000", NULL};
    struct h_proc pr = h_spawn(argv, 1, NULL);
    int port = h_port(&pr, 10);
    cr_assert(port > 0);
    char ports[16], pids[16], out[512];
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(pids, sizeof pids, "%d", (int)pr.pid);
    char *lg[] = {h_path("build/tools/loadgen"), ports, "1000", pids, "60", NULL};
    int st = h_run(lg, 0, out, sizeof out, 90);
    cr_assert_eq(st, 0, "loadgen: %s", out);
    cr_assert(strstr(out, "answered=1000/1000"), "%s", out);
    cr_assert(strstr(out, h_workers_line("peak_threads", " ")), "the server left its %d worker OS threads: %s", h_workers(), out);
}

/* Keep-alive rounds with every connection ready at once: N clients each
 * write a message, then all read their echo; between rounds a third of them
 * hang up and reconnect, so the server closes fds and accepts new ones (same
 * numbers) while others' events are pending. With more than 1,024 fds ready
 * libuv polls again within one loop turn, and gpatch runs woken green threads
 * inside the event callbacks: this is the run that exercises it.
 * Returns the number of (client, round) echoes that came back intact. */
static int keepalive_rounds(int port, int n, int rounds)
{
    int *fd = calloc((size_t)n, sizeof *fd);
    int ep = epoll_create1(0), good = 0;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < n; i++) fd[i] = -1;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            if (fd[i] >= 0 && r > 0 && i % 3 == r % 3) { /* hang up, come back */
                close(fd[i]);
                fd[i] = -1;
            }
            if (fd[i] < 0) {
                fd[i] = socket(AF_INET, SOCK_STREAM, 0);
                if (fd[i] < 0 || connect(fd[i], (struct sockaddr *)&a, sizeof a) != 0) continue;
                struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd[i], &ev);
            }
        }
        for (int i = 0; i < n; i++) { /* everyone writes before anyone reads */
            char msg[64], head[32];
            memset(msg, ' ', sizeof msg);
            memcpy(msg, head, (size_t)snprintf(head, sizeof head, "%06d/%02d", i, r));
            (void)!write(fd[i], msg, sizeof msg);
        }
        int answered = 0;
        time_t t0 = time(NULL);
        char *seen = calloc((size_t)n, 1);
        while (answered < n && time(NULL) - t0 < 30) {
            struct epoll_event evs[256];
            int k = epoll_wait(ep, evs, 256, 100);
            for (int j = 0; j < k; j++) {
                int i = (int)evs[j].data.u32;
                char buf[64], want[32];
                if (seen[i] || recv(fd[i], buf, sizeof buf, MSG_WAITALL) != (ssize_t)sizeof buf) continue;
                seen[i] = 1;
                answered++;
                snprintf(want, sizeof want, "%06d/%02d", i, r);
                if (memcmp(buf, want, 9) == 0) good++;
            }
        }
        free(seen);
    }
    for (int i = 0; i < n; i++)
        if (fd[i] >= 0) close(fd[i]);
    free(fd);
    close(ep);
    return good;
}

Test(servers, keepalive_3000_all_ready_with_reconnects)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    const int n = 3000, rounds = 5;
    int good[2];
    for (int preload = 0; preload < 2; preload++) {
        char *argv[] = {h_path("build/progs/echo_server"), "0", NULL};
        struct h_proc pr = h_spawn(argv, preload, NULL);
        int port = h_port(&pr, 10);
        cr_assert(port > 0, "echo_server did not start");
        good[preload] = keepalive_rounds(port, n, rounds);
        h_cleanup();
    }
    cr_assert_eq(good[0], n * rounds, "stock: %d of %d echoes intact", good[0], n * rounds);
    cr_assert_eq(good[1], n * rounds, "under gpatch: %d of %d echoes intact", good[1], n * rounds);
}
