/* The pool-route audit: calls that cannot wait (a numeric getnameinfo or
 * getaddrinfo, a lock nobody holds, a child that has already exited) answer
 * on the green thread; only calls that really wait go to a helper thread. */
#include "harness.h"

TestSuite(pool_routes, .fini = h_cleanup, .timeout = 60);

static char stock[65536], patched[65536];

/* pool jobs counted by GPATCH_STATS in the output, or -1 */
static long pool_jobs(const char *out)
{
    const char *p = strstr(out, "pool jobs ");
    return p ? strtol(p + 10, NULL, 10) : -1;
}

Test(pool_routes, inline_when_nothing_to_wait_for)
{
    char *argv[] = {h_path("build/progs/pool_inline"), NULL};
    int a = h_run(argv, 0, stock, sizeof stock, 30);
    cr_assert_eq(a, 0, "stock exited %d:\n%s", a, stock);
    cr_assert(strstr(stock, "done\n"), "%s", stock);
    /* the same run with its stderr (the stats block) in a file */
    char errf[] = "/tmp/gpatch-pool-routes-XXXXXX";
    int efd = mkstemp(errf);
    cr_assert(efd >= 0);
    char *sh[] = {"/bin/sh", "-c", "exec \"$0\" 2>\"$1\"", argv[0], errf, NULL};
    char *env[] = {"GPATCH_STATS=1", NULL};
    struct h_proc pr = h_spawn(sh, 1, env);
    int b = h_collect(&pr, patched, sizeof patched, 30);
    static char err[65536];
    ssize_t n = read(efd, err, sizeof err - 1);
    err[n > 0 ? n : 0] = 0;
    close(efd);
    unlink(errf);
    cr_assert_eq(b, 0, "under gpatch exited %d:\n%s\n%s", b, patched, err);
    long jobs = pool_jobs(err);
    cr_assert_str_eq(patched, stock, "differs under gpatch.\n--- stock:\n%s\n--- gpatch:\n%s", stock, patched);
    /* two calls wait (a flock on a child's lock, a waitpid on a sleeping
     * child); everything else, errors included, is answered inline */
    cr_assert_eq(jobs, 2, "expected 2 pool jobs, saw %ld", jobs);
}
