/* Programs nobody here wrote: Debian's CPython. Its threads are green
 * threads under gpatch (locks are sem_clockwait, the GIL a condition
 * variable, time.sleep an absolute clock_nanosleep). */
#include "harness.h"

TestSuite(python, .fini = h_cleanup, .timeout = 120);

static char out[65536];

/* python3 -m http.server (ThreadingHTTPServer: a thread per connection)
 * holds 2,000 slow clients at once, on one OS thread. The clients open 400
 * connections a second (the server's listen backlog is 5) and send each
 * request in two halves 6 s apart, so all of them are connected together. */
Test(python, http_server_2000_concurrent_slow_clients)
{
    /* its access log (stderr) is not ours to show; exec keeps the pid */
    char *argv[] = {"bash", "-c",
                    "exec /usr/bin/python3 -m http.server 0 --bind 127.0.0.1 --directory / 2>/dev/null", NULL};
    /* port 0: read it from the server's first line */
    struct h_proc pr = h_spawn(argv, 1, (char *[]){"PYTHONUNBUFFERED=1", NULL});
    char line[256] = {0};
    size_t n = 0;
    struct pollfd pf = {pr.out, POLLIN, 0};
    while (n < sizeof line - 1 && poll(&pf, 1, 10000) > 0 && read(pr.out, line + n, 1) == 1 && line[n] != '\n') n++;
    int port = 0;
    char *at = strstr(line, "port ");
    if (at) port = atoi(at + 5);
    cr_assert(port > 0, "http.server did not start: %s", line);
    char ports[16], pids[16];
    snprintf(ports, sizeof ports, "%d", port);
    snprintf(pids, sizeof pids, "%d", (int)pr.pid);
    char *lg[] = {h_path("build/tools/loadgen"), ports, "2000", pids, "90", NULL};
    struct h_proc l = h_spawn(lg, 0, (char *[]){"LOADGEN_SLOW_MS=6000", "LOADGEN_RAMP=4", NULL});
    int st = h_collect(&l, out, sizeof out, 100);
    cr_assert_eq(st, 0, "loadgen: %s", out);
    cr_assert(strstr(out, "answered=2000/2000"), "%s", out);
    cr_assert(strstr(out, h_workers_line("peak_threads", " ")), "the server left its %d worker OS threads: %s", h_workers(), out);
}

/* threads, queues, a thread pool and subprocesses, as a user writes them */
Test(python, threads_queue_pool_subprocess)
{
    char *argv[] = {"/usr/bin/python3", "-c",
                    "import threading, queue, time, subprocess, concurrent.futures as cf\n"
                    "q = queue.Queue()\n"
                    "ts = [threading.Thread(target=lambda i=i: (time.sleep(0.2), q.put(i))) for i in range(100)]\n"
                    "t0 = time.time(); [t.start() for t in ts]; [t.join() for t in ts]\n"
                    "print('threads', sorted(q.get() for _ in range(100)) == list(range(100)), time.time() - t0 < 5)\n"
                    "with cf.ThreadPoolExecutor(8) as ex: print('pool', sum(ex.map(lambda x: x * x, range(100))))\n"
                    "print('subprocess', subprocess.run(['echo', 'hi'], capture_output=True, text=True).stdout.strip())\n"
                    "print('os threads', open('/proc/self/status').read().split('Threads:')[1].split()[0])\n",
                    NULL};
    int st = h_run(argv, 1, out, sizeof out, 60);
    cr_assert_eq(st, 0, "%s", out);
    cr_assert(strstr(out, "threads True True\npool 328350\nsubprocess hi\n"), "%s", out);
}
