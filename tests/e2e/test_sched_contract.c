/* The scheduler's contract (runtime/sched.c), each rule checked by a
 * stock-built subject run stock and preloaded: same output, same status.
 *  - a wait that returns without parking (a deadline already passed, a zero
 *    timeout) lets the others run, and now and then the loop turn;
 *  - pthread_cancel reaches a thread parked in a cancellation point, and a
 *    cancelled condition waiter holds its mutex when its handlers run;
 *  - GPATCH_SHUFFLE=SEED perturbs the scheduler's choices without changing
 *    any result. */
#include "harness.h"

TestSuite(sched_contract, .fini = h_cleanup, .timeout = 240);

static char stock[65536], patched[65536];

static void same_output_env(const char *prog, const char *env, int timeout_s)
{
    char *argv[] = {h_path(prog), NULL};
    int a = h_run(argv, 0, stock, sizeof stock, timeout_s);
    char envbuf[64];
    char *extra[] = {envbuf, NULL};
    if (env) snprintf(envbuf, sizeof envbuf, "%s", env);
    struct h_proc pr = h_spawn(argv, 1, env ? extra : NULL);
    int b = h_collect(&pr, patched, sizeof patched, timeout_s);
    cr_assert_eq(a, 0, "%s stock exited %d:\n%s", prog, a, stock);
    cr_assert_eq(b, 0, "%s under gpatch (%s) exited %d (-1: killed at the timeout):\n%s", prog,
                 env ? env : "no settings", b, patched);
    cr_assert(strlen(stock) > 0, "%s printed nothing", prog);
    cr_assert_str_eq(patched, stock, "%s differs under gpatch (%s).\n--- stock:\n%s\n--- gpatch:\n%s", prog,
                     env ? env : "no settings", stock, patched);
}

/* cond_timedwait with a 1 us or a past deadline, poll(NULL, 0, 0),
 * nanosleep({0, 0}), clock_nanosleep at a past time, sem_timedwait,
 * pthread_timedjoin_np and pthread_mutex_timedlock past their deadlines, in
 * loops waiting for a thread that only has to run, or to wake from a sleep
 * first: the old library spun on the first one forever */
Test(sched_contract, expired_waits_let_others_run) { same_output_env("build/progs/rel_expired_wait", NULL, 60); }

/* cancel-then-join of workers in pthread_cond_wait, timedwait, sem_wait,
 * pthread_join, and a cancel pending at pthread_cond_wait: the old library
 * never woke the condition waiters and the join hung */
Test(sched_contract, cancel_reaches_condition_waiters) { same_output_env("build/progs/rel_cancel_cond", NULL, 60); }

/* the same subjects under a few shuffle seeds: another schedule, the same results */
Test(sched_contract, shuffled_schedules_same_results)
{
    const char *progs[] = {"build/progs/rel_expired_wait", "build/progs/rel_cancel_cond", "build/progs/sync_edge"};
    for (int seed = 1; seed <= 3; seed++) {
        char env[64];
        snprintf(env, sizeof env, "GPATCH_SHUFFLE=%d", seed);
        for (size_t i = 0; i < sizeof progs / sizeof *progs; i++) same_output_env(progs[i], env, 90);
    }
}
