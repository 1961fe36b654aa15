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

/* Stealing: tests/progs/steal_spin's short threads end and leave a worker
 * idle while the other has two long ones ready; the idle one takes one. Each
 * thread checks its TLS, errno, pthread_self, a sleep's timer, a mutex and a
 * condition ping-pong at every step (it may resume on the other worker at
 * each). tests/progs/io_steal's three threads wait in read() and answer,
 * two with a long job and one with a short one each round: a worker that
 * runs out takes one at a call's end (gp_offer_self). The output is
 * stock's; the stats say that gthreads moved (io_steal: at a call's end, in
 * one run at least of up to twenty: on a loaded machine, where another
 * test takes a core, a worker is descheduled rather than idle, and a run
 * may see none). */
static void steal_with(const char *prog, const char *steal, int want_moves)
{
    char *sargv[] = {h_path(prog), NULL};
    int a = h_run(sargv, 0, stock, sizeof stock, 60);
    cr_assert_eq(a, 0, "stock exited %d:\n%s", a, stock);
    cr_assert(strstr(stock, "every check held"), "%s", stock);
    int at_end = strstr(prog, "io_steal") != NULL;
    /* stderr into the output too: the stats line */
    char *argv[] = {"/bin/sh", "-c", "exec 2>&1; exec \"$0\"", h_path(prog), NULL};
    char *env[] = {"GPATCH_WORKERS=2", "GPATCH_TLS=own", "GPATCH_STATS=1", (char *)steal, NULL};
    long all = 0, ends = 0;
    int runs = want_moves && at_end ? 20 : 5;
    for (int round = 0; round < runs && !(round >= 5 && ends > 0); round++) {
        struct h_proc pr = h_spawn(argv, 1, env);
        int b = h_collect(&pr, patched, sizeof patched, 60);
        cr_assert_eq(b, 0, "under gpatch (%s) exited %d (-1: killed at the timeout):\n%s", steal, b, patched);
        cr_assert(strstr(patched, stock), "differs under gpatch (%s).\n--- stock:\n%s\n--- gpatch:\n%s", steal, stock,
                  patched);
        const char *m = strstr(patched, "moved by stealing ");
        cr_assert(m, "no stats line:\n%s", patched);
        char *rest;
        long moves = strtol(m + strlen("moved by stealing "), &rest, 10);
        cr_assert(strncmp(rest, " (", 2) == 0, "no count of moves at a call's end:\n%s", patched);
        long end = atol(rest + 2);
        cr_assert(end <= moves, "more moves at a call's end than moves:\n%s", patched);
        if (want_moves && !at_end) cr_assert_gt(moves, 0, "nothing was stolen:\n%s", patched);
        if (!want_moves) cr_assert_eq(moves, 0, "GPATCH_STEAL=0, yet gthreads moved:\n%s", patched);
        all += moves;
        ends += end;
    }
    if (want_moves && at_end) cr_assert_gt(ends, 0, "no gthread moved at a call's end in %d runs (%ld moves)", runs, all);
}

Test(workers_e2e, idle_worker_steals) { steal_with("build/progs/steal_spin", "GPATCH_STEAL=1", 1); }
Test(workers_e2e, steal_off_keeps_placement) { steal_with("build/progs/steal_spin", "GPATCH_STEAL=0", 0); }
Test(workers_e2e, io_woken_thread_moves_at_a_calls_end) { steal_with("build/progs/io_steal", "GPATCH_STEAL=1", 1); }
Test(workers_e2e, io_woken_threads_stay_without_stealing) { steal_with("build/progs/io_steal", "GPATCH_STEAL=0", 0); }
