/* Wake-ups that must never be lost (issue 9's findings 2, 3, 5, 6): each
 * subject runs stock and under gpatch, with the same output and exit status
 * required; a lost wake-up shows as a hang, killed by the timeout. */
#include <criterion/criterion.h>
#include <string.h>

#include "harness.h"

TestSuite(wakeups, .fini = h_cleanup, .timeout = 300);

static char stock[1 << 14], patched[1 << 14];

#define same_output(prog, timeout_s) h_same_output(prog, timeout_s, stock, patched, sizeof stock)

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
