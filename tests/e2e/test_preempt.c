/* Preemption (runtime/preempt.c): a green thread that computes without a
 * call is preempted at a safe point, in both TLS modes and with one and
 * two workers. Stock-built subjects, stock against gpatch; each also runs
 * with preemption off where it must visibly hang: what these tests would
 * catch if preemption broke. */
#include "harness.h"

TestSuite(preempt, .fini = h_cleanup, .timeout = 180);

#define CAP 8192

static void same(const char *prog, char **env)
{
    static char stock[CAP], patched[CAP];
    h_same_output_env(prog, env, 60, stock, patched, CAP);
}

/* spins that end, computations bit-exact (SSE, x87, AVX, rounding modes,
 * errno), a lock held while computing, malloc and snprintf beside it */
Test(preempt, computing_threads_share_the_worker_own_1)
{
    char *env[] = {"GPATCH_TLS=own", "GPATCH_WORKERS=1", NULL};
    same("build/progs/rel_preempt", env);
}

Test(preempt, computing_threads_share_the_worker_shared_1)
{
    char *env[] = {"GPATCH_TLS=shared", "GPATCH_WORKERS=1", NULL};
    same("build/progs/rel_preempt", env);
}

Test(preempt, computing_threads_share_the_worker_own_2)
{
    char *env[] = {"GPATCH_TLS=own", "GPATCH_WORKERS=2", NULL};
    same("build/progs/rel_preempt", env);
}

Test(preempt, computing_threads_share_the_worker_shared_2)
{
    char *env[] = {"GPATCH_TLS=shared", "GPATCH_WORKERS=2", NULL};
    same("build/progs/rel_preempt", env);
}

/* the defaults: whatever this machine's CPU makes them */
Test(preempt, computing_threads_share_the_worker_defaults)
{
    same("build/progs/rel_preempt", NULL);
}

/* the preemption signal stays the program's to see (its mask as it asked,
 * SIG_DFL) and to take (its handler, called once, preemption off) */
Test(preempt, the_signal_stays_the_programs)
{
    char *own[] = {"GPATCH_TLS=own", NULL};
    char *shared[] = {"GPATCH_TLS=shared", NULL};
    same("build/progs/rel_preempt_sig", own);
    same("build/progs/rel_preempt_sig", shared);
}

/* cooperative (GPATCH_PREEMPT_MS=0), shared TLS, one worker (no hand-off):
 * main's spin never ends -- the subject cannot finish */
Test(preempt, without_preemption_the_spin_hangs)
{
    char out[CAP];
    char *argv[] = {h_path("build/progs/rel_preempt"), NULL};
    char *env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=shared", "GPATCH_WORKERS=1", NULL};
    struct h_proc pr = h_spawn(argv, 1, env);
    int r = h_collect(&pr, out, CAP, 3);
    cr_assert_eq(r, -1, "the spin ended without preemption (exit %d):\n%s", r, out);
    cr_assert_null(strstr(out, "main's spin ended"), "%s", out);
}

/* --stats counts preemptions; with own TLS and hand-off on, a computing
 * thread is preempted, not handed off (hand-off waits three slices more for
 * a running owner); --debug says the slice */
static void stats_of(char **env, char *out)
{
    char *argv[] = {"/bin/sh", "-c", "exec \"$0\" 2>&1", h_path("build/progs/rel_preempt"), NULL};
    struct h_proc pr = h_spawn(argv, 1, env);
    int r = h_collect(&pr, out, CAP, 60);
    cr_assert_eq(r, 0, "exited %d:\n%s", r, out);
}

Test(preempt, stats_count_preemptions_before_handoffs)
{
    char out[CAP];
    char *env[] = {"GPATCH_TLS=own", "GPATCH_WORKERS=1", "GPATCH_HANDOFF_MS=10", "GPATCH_STATS=1", NULL};
    stats_of(env, out);
    unsigned long p = 0, h = 0;
    const char *s = strstr(out, "preemptions ");
    cr_assert(s && sscanf(s, "preemptions %lu; hand-offs %lu", &p, &h) == 2, "no figures in:\n%s", out);
    cr_assert(p >= 5, "only %lu preemptions:\n%s", p, out);
    cr_assert(h <= p / 4, "%lu hand-offs for %lu preemptions: hand-off took computing threads:\n%s", h, p, out);
}

Test(preempt, debug_says_the_slice)
{
    char out[CAP];
    char *env[] = {"GPATCH_PREEMPT_MS=7", "GPATCH_DEBUG=1", NULL};
    char *argv[] = {"/bin/sh", "-c", "exec \"$0\" 2>&1 | grep -m1 'preemption on'", h_path("build/progs/rel_preempt_sig"),
                    NULL};
    struct h_proc pr = h_spawn(argv, 1, env);
    int r = h_collect(&pr, out, CAP, 60);
    cr_assert_eq(r, 0, "exited %d:\n%s", r, out);
    cr_assert(strstr(out, "computing for 7 ms"), "%s", out);
}

Test(preempt, a_bad_setting_is_refused_with_the_default)
{
    char out[CAP];
    char *env[] = {"GPATCH_PREEMPT_MS=ten", "GPATCH_DEBUG=1", NULL};
    char *argv[] = {"/bin/sh", "-c", "exec \"$0\" 2>&1 | grep -m2 'PREEMPT_MS\\|preemption on'",
                    h_path("build/progs/rel_preempt_sig"), NULL};
    struct h_proc pr = h_spawn(argv, 1, env);
    int r = h_collect(&pr, out, CAP, 60);
    cr_assert_eq(r, 0, "exited %d:\n%s", r, out);
    cr_assert(strstr(out, "GPATCH_PREEMPT_MS must be"), "%s", out);
    cr_assert(strstr(out, "computing for 10 ms"), "%s", out);
}

/* a thread deep in a 16 KiB stack, preempted every millisecond: where the
 * preemption's signal frame or its handler's walk runs off the stack, the
 * process dies of SIGSEGV (as stock at that depth) with the overflow report
 * (before: SIGSEGV with no word -- the handler blocked SIGSEGV, and the
 * kernel's failed frame is a fault with no address) */
Test(preempt, overflow_in_the_preemption_handler_is_named)
{
    char out[CAP];
    char *env[] = {"GPATCH_PREEMPT_MS=1", "GPATCH_WORKERS=1", "GPATCH_STACK_GUARD=guard", NULL};
    for (int depth = 11; depth <= 13; depth++) {
        char d[8];
        snprintf(d, sizeof d, "%d", depth);
        char *argv[] = {"/bin/sh", "-c", "exec \"$0\" \"$1\" 2>&1", h_path("build/progs/preempt_deep"), d, NULL};
        struct h_proc pr = h_spawn(argv, 1, env);
        int r = h_collect(&pr, out, CAP, 60);
        cr_assert_eq(r, 128 + SIGSEGV, "depth %d: exited %d:\n%s", depth, r, out);
        cr_assert(strstr(out, "green thread 1 overflowed its 16 KiB stack"), "depth %d:\n%s", depth, out);
    }
}
