/* Workers (GPATCH_WORKERS): tests/progs/workers_edge.c stock against gpatch
 * with one and two workers, own and shared TLS. The rest of the suite runs
 * with one and with two workers (make check-tests) and counts the workers'
 * OS threads (harness.h, h_workers). */
#include "harness.h"

TestSuite(workers_e2e, .fini = h_cleanup, .timeout = 240);

static char stock[16384], patched[16384];

static void same_with(const char *workers, const char *tls)
{
    char *argv[] = {h_path("build/progs/workers_edge"), NULL};
    int a = h_run(argv, 0, stock, sizeof stock, 60);
    cr_assert_eq(a, 0, "stock exited %d:\n%s", a, stock);
    char *env[] = {(char *)workers, (char *)tls, NULL};
    struct h_proc pr = h_spawn(argv, 1, env);
    int b = h_collect(&pr, patched, sizeof patched, 60);
    cr_assert_eq(b, 0, "under gpatch (%s %s) exited %d (-1: killed at the timeout):\n%s", workers, tls, b, patched);
    cr_assert(strstr(stock, "ping-pong rounds 4000"), "%s", stock);
    cr_assert_str_eq(patched, stock, "differs under gpatch (%s %s).\n--- stock:\n%s\n--- gpatch:\n%s", workers, tls,
                     stock, patched);
}

Test(workers_e2e, one_worker_own_tls) { same_with("GPATCH_WORKERS=1", "GPATCH_TLS=own"); }
Test(workers_e2e, two_workers_own_tls) { same_with("GPATCH_WORKERS=2", "GPATCH_TLS=own"); }
Test(workers_e2e, two_workers_shared_tls) { same_with("GPATCH_WORKERS=2", "GPATCH_TLS=shared"); }
