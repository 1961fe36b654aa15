/* Wake-ups that must never be lost (issue 9's findings 2, 3, 5, 6): each
 * subject runs stock and under gpatch, with the same output and exit status
 * required; a lost wake-up shows as a hang, killed by the timeout. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

TestSuite(wakeups, .fini = h_cleanup, .timeout = 300);

static char stock[1 << 14], patched[1 << 14];

static void same_output(const char *prog, int timeout_s)
{
    char *argv[] = {h_path(prog), NULL};
    int a = h_run(argv, 0, stock, sizeof stock, timeout_s);
    int b = h_run(argv, 1, patched, sizeof patched, timeout_s);
    cr_assert_eq(a, 0, "%s stock exited %d:\n%s", prog, a, stock);
    cr_assert_eq(b, 0, "%s under gpatch exited %d:\n%s", prog, b, patched);
    cr_assert(strlen(stock) > 0, "%s printed nothing", prog);
    cr_assert_str_eq(patched, stock, "%s differs under gpatch.\n--- stock:\n%s\n--- gpatch:\n%s", prog, stock, patched);
}

/* 64 threads x 3,000 calls done by the helper pool (reverse lookups, flock):
 * the helper's "done" and the waiter's queueing, a store then a load on
 * each side, must not both miss */
Test(wakeups, pool_completion_wakes_its_waiter) { same_output("build/progs/rel_pool_wake", 120); }

/* a cond signal at a timed waiter's deadline wakes somebody */
Test(wakeups, cond_signal_at_deadline_not_lost) { same_output("build/progs/rel_cond_timeout_signal", 60); }

/* sem_post from a SIGALRM handler while the queues are busy */
Test(wakeups, sem_post_from_signal_handler) { same_output("build/progs/rel_sem_post_signal", 90); }

/* blocking calls that wait for calls made after them: one helper each */
Test(wakeups, pool_jobs_waiting_for_later_jobs) { same_output("build/progs/rel_pool_chain", 60); }
