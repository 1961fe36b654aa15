/* harness.h — run the stock-built programs of tests/progs, with
 * LD_PRELOAD=libgpatch.so in the child's environment only (never in this
 * Criterion runner), capture their output, and clean up every process we
 * started, by pid, whatever happens to the test. */
#ifndef GP_HARNESS_H
#define GP_HARNESS_H
#include <criterion/criterion.h>
#include <sched.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "gp.h" /* GP_WORKERS_DEFAULT */
#include "../tools/program_threads.h"

#define MAX_KIDS 16
static pid_t h_kids[MAX_KIDS];

static inline const char *h_root(void)
{
    const char *r = getenv("GPATCH_ROOT");
    return r ? r : ".";
}

/* How many worker OS threads gpatch runs the subjects on: GPATCH_WORKERS
 * from the runner's environment (the children inherit it), else gpatch's
 * default (sched.c's workers_wanted: see the README). */
static inline int h_workers(void)
{
    const char *w = getenv("GPATCH_WORKERS");
    if (w && *w) return atoi(w);
    if (GP_WORKERS_DEFAULT > 0) return GP_WORKERS_DEFAULT;
    cpu_set_t cs;
    return sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : 1;
}

/* "<key>=<workers><end>", the line a subject prints of its OS threads under gpatch */
static inline const char *h_workers_line(const char *key, const char *end)
{
    static char b[4][64];
    static int k;
    char *s = b[k++ % 4];
    snprintf(s, 64, "%s=%d%s", key, h_workers(), end);
    return s;
}

static inline char *h_path(const char *rel)
{
    static char bufs[8][512];
    static int k;
    char *b = bufs[k++ % 8];
    snprintf(b, 512, "%s/%s", h_root(), rel);
    return b;
}

/* kill and reap everything this test started: call from .fini */
static inline void h_cleanup(void)
{
    for (int i = 0; i < MAX_KIDS; i++)
        if (h_kids[i] > 0) {
            kill(h_kids[i], SIGKILL);
            waitpid(h_kids[i], NULL, 0);
            h_kids[i] = 0;
        }
}

struct h_proc { pid_t pid; int out; };

/* Start argv; preload: put libgpatch.so in the child's environment. stdout
 * comes back through a pipe; stderr goes to ours (Criterion shows it). */
static inline struct h_proc h_spawn(char *const argv[], int preload, char *const extra_env[])
{
    int p[2];
    cr_assert(pipe2(p, O_CLOEXEC) == 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(p[1], 1);
        /* GPATCH_TEST_PRELOAD: another LD_PRELOAD for the subjects (`make test-asan`
         * gives libasan.so and the sanitized build-asan/libgpatch.so) */
        const char *lib = getenv("GPATCH_TEST_PRELOAD");
        if (preload) setenv("LD_PRELOAD", lib && *lib ? lib : h_path("build/libgpatch.so"), 1);
        else unsetenv("LD_PRELOAD");
        for (int i = 0; extra_env && extra_env[i]; i++) putenv(extra_env[i]);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    for (int i = 0; i < MAX_KIDS; i++)
        if (h_kids[i] == 0) {
            h_kids[i] = pid;
            break;
        }
    return (struct h_proc){pid, p[0]};
}

static inline void h_forget(pid_t pid)
{
    for (int i = 0; i < MAX_KIDS; i++)
        if (h_kids[i] == pid) h_kids[i] = 0;
}

/* GPATCH_TEST_SLOW=N: every deadline the harness keeps is N times longer
 * (the emulated machine of tests/vm runs programs several times slower;
 * tests/e2e/slow.c stretches Criterion's own timeouts by as much). */
static inline int h_slow(void)
{
    const char *s = getenv("GPATCH_TEST_SLOW");
    int n = s ? atoi(s) : 1;
    return n >= 1 && n <= 100 ? n : 1;
}

/* Read all of the child's stdout (up to timeout_s), then its exit status;
 * a child still running at the deadline is killed (status -1). */
static inline int h_collect(struct h_proc *pr, char *out, size_t cap, int timeout_s)
{
    timeout_s *= h_slow();
    size_t n = 0;
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        long left = timeout_s * 1000L - ((t.tv_sec - t0.tv_sec) * 1000L + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0) break;
        struct pollfd pf = {pr->out, POLLIN, 0};
        if (poll(&pf, 1, (int)left) <= 0) continue;
        ssize_t r = read(pr->out, out + n, cap - 1 - n);
        if (r <= 0) break;
        n += (size_t)r;
        if (n >= cap - 1) break;
    }
    out[n] = 0;
    close(pr->out);
    int st = 0;
    pid_t w = waitpid(pr->pid, &st, WNOHANG);
    /* its output ended: give its exit a moment (more on a slow machine,
     * where a process with threads takes longer to go) */
    for (int i = 0; w == 0 && i < h_slow(); i++) {
        usleep(200000);
        w = waitpid(pr->pid, &st, WNOHANG);
    }
    if (w == 0) {
        kill(pr->pid, SIGKILL);
        waitpid(pr->pid, &st, 0);
        h_forget(pr->pid);
        return -1;
    }
    h_forget(pr->pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static inline int h_run(char *const argv[], int preload, char *out, size_t cap, int timeout_s)
{
    struct h_proc pr = h_spawn(argv, preload, NULL);
    return h_collect(&pr, out, cap, timeout_s);
}

/* The differential check: prog run stock is the specification; under gpatch
 * (with env's settings added, NULL for none) it must exit 0 as stock did and
 * print exactly the same. Both outputs stay in the caller's buffers (cap
 * bytes each) for further checks. */
static inline void h_same_output_env(const char *prog, char *const env[], int timeout_s, char *stock, char *patched,
                                     size_t cap)
{
    char what[256] = "";
    for (size_t i = 0; env && env[i]; i++)
        snprintf(what + strlen(what), sizeof what - strlen(what), " %s", env[i]);
    char *argv[] = {h_path(prog), NULL};
    int a = h_run(argv, 0, stock, cap, timeout_s);
    struct h_proc pr = h_spawn(argv, 1, env);
    int b = h_collect(&pr, patched, cap, timeout_s);
    cr_assert_eq(a, 0, "%s stock exited %d:\n%s", prog, a, stock);
    cr_assert_eq(b, 0, "%s under gpatch%s exited %d:\n%s", prog, what, b, patched);
    cr_assert(strlen(stock) > 0, "%s printed nothing", prog);
    cr_assert_str_eq(patched, stock, "%s differs under gpatch%s.\n--- stock:\n%s\n--- gpatch:\n%s", prog, what, stock,
                     patched);
}

static inline void h_same_output(const char *prog, int timeout_s, char *stock, char *patched, size_t cap)
{
    h_same_output_env(prog, NULL, timeout_s, stock, patched, cap);
}

/* A server prints "port N" first: wait for it. */
static inline int h_port(struct h_proc *pr, int timeout_s)
{
    char line[128];
    size_t n = 0;
    struct pollfd pf = {pr->out, POLLIN, 0};
    while (n < sizeof line - 1 && poll(&pf, 1, timeout_s * h_slow() * 1000) > 0) {
        if (read(pr->out, line + n, 1) != 1) break;
        if (line[n++] == '\n') break;
    }
    line[n] = 0;
    int port = 0;
    sscanf(line, "port %d", &port);
    return port;
}

static inline long h_status_field(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long v = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') v = atol(line + fl + 1);
    if (f) fclose(f);
    return v;
}

/* pid's OS threads but gpatch's own helpers (tests/tools/program_threads.h); -1 if pid is gone */
static inline long h_program_threads(pid_t pid) { return program_threads((int)pid); }
#endif
