/* Hand-off of a stuck worker (runtime/handoff.c): a thread stuck where
 * gpatch cannot see -- fgets() on a pipe, a read by an inline syscall
 * instruction, a spin on a plain flag, a compute loop -- no longer stalls
 * the other threads. Stock-built subjects, stock against gpatch with own TLS
 * and GPATCH_HANDOFF_MS=10; each also runs with hand-off off (or with shared
 * TLS, where green threads never move), where it must visibly stall: that is
 * what these tests would catch if hand-off broke. Preemption is off in
 * them all (GPATCH_PREEMPT_MS=0): it would take a spinner first, which is
 * test_preempt.c's to check. The hand-off runs use
 * the pass's worker count (`make check-tests` runs one and two); the runs
 * that must stall pin one worker, except the two-worker ones below, whose
 * subject keeps both workers stuck. */
#include "harness.h"

TestSuite(handoff, .fini = h_cleanup, .timeout = 120);

#define CAP 4096

static char *on_env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=own", "GPATCH_HANDOFF_MS=10", NULL};
static char *on2_env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=own", "GPATCH_HANDOFF_MS=10", "GPATCH_WORKERS=2", NULL};
static char *off2_env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=own", "GPATCH_HANDOFF_MS=0", "GPATCH_WORKERS=2", NULL};
static char *off_env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=own", "GPATCH_HANDOFF_MS=0", "GPATCH_WORKERS=1", NULL};
static char *shared_env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=shared", "GPATCH_HANDOFF_MS=10", "GPATCH_WORKERS=1", NULL};

static int run_env(char *const argv[], int preload, char **env, char *out, int timeout_s)
{
    struct h_proc pr = h_spawn(argv, preload, env);
    return h_collect(&pr, out, CAP, timeout_s);
}

/* stock is the specification; with hand-off, gpatch prints the same */
static void same_with_env(char **env, const char *prog, const char *mode, const char *mode2)
{
    static char stock[CAP], patched[CAP];
    char *argv[] = {h_path(prog), (char *)mode, (char *)mode2, NULL};
    int a = run_env(argv, 0, NULL, stock, 30);
    int b = run_env(argv, 1, env, patched, 30);
    cr_assert_eq(a, 0, "%s %s stock exited %d:\n%s", prog, mode, a, stock);
    cr_assert_eq(b, 0, "%s %s under gpatch exited %d:\n%s", prog, mode, b, patched);
    cr_assert(strlen(stock) > 0);
    cr_assert_str_eq(patched, stock, "%s %s differs.\n--- stock:\n%s\n--- gpatch:\n%s", prog, mode, stock, patched);
}

static void same_with_handoff2(const char *prog, const char *mode, const char *mode2)
{
    same_with_env(on_env, prog, mode, mode2);
}

static void same_with_handoff(const char *prog, const char *mode) { same_with_handoff2(prog, mode, NULL); }

Test(handoff, fgets_on_a_pipe_leaves_the_others_running)
{
    same_with_handoff("build/progs/stuck_read", "fgets");
}

Test(handoff, raw_syscall_read_leaves_the_others_running)
{
    same_with_handoff("build/progs/stuck_read", "raw");
}

/* the subject can tell: without hand-off (or with shared TLS) the others stall */
Test(handoff, without_handoff_the_others_stall)
{
    char out[CAP];
    char *argv[] = {h_path("build/progs/stuck_read"), "raw", NULL};
    int r = run_env(argv, 1, off_env, out, 30);
    cr_assert_eq(r, 0, "exited %d:\n%s", r, out);
    cr_assert(strstr(out, "during the blocked read: stalled"), "hand-off off, yet:\n%s", out);
    r = run_env(argv, 1, shared_env, out, 30);
    cr_assert_eq(r, 0, "exited %d:\n%s", r, out);
    cr_assert(strstr(out, "during the blocked read: stalled"), "shared TLS must never hand off, yet:\n%s", out);
}

Test(handoff, spin_on_a_plain_flag_finishes)
{
    same_with_handoff("build/progs/stuck_spin", "spin");
}

Test(handoff, compute_loop_lets_sleepers_wake)
{
    same_with_handoff("build/progs/stuck_spin", "compute");
}

/* fork by a thread that may be away from its worker: the child keeps that
 * thread only, starts a runtime of its own and runs threads in it */
Test(handoff, fork_after_a_handoff)
{
    same_with_handoff2("build/progs/stuck_spin", "spin", "fork");
}

/* without hand-off the spinner keeps the worker and the setter never runs */
Test(handoff, without_handoff_the_spin_hangs)
{
    char out[CAP];
    char *argv[] = {h_path("build/progs/stuck_spin"), "spin", NULL};
    int r = run_env(argv, 1, off_env, out, 4);
    cr_assert_eq(r, -1, "the spin finished without hand-off (exit %d):\n%s", r, out);
}

/* After a hand-off the thread left behind and the others of its worker
 * run at once, on two OS threads: glibc must see two thread ids, or the
 * loader's recursive lock lets the second holder in (runtime/sched.c,
 * gp__evict; tls.c, gp__tls_sync_tid) */
Test(handoff, loader_lock_after_a_handoff_is_one_holders)
{
    same_with_handoff("build/progs/handoff_loader", NULL);
}

/* Two workers, both stuck (four spinners, placement gives each worker at
 * least one): each is handed on by its own hand-off, and the setter runs */
Test(handoff, two_workers_both_stuck_are_handed_off)
{
    same_with_env(on2_env, "build/progs/stuck_spin", "spin4", NULL);
}

/* Two workers: the spinner, left behind by a hand-off, posts a semaphore
 * and unlocks a mutex as its first calls, while the other worker has been
 * idle a while (stealing's offer at those points must bring it back to its
 * worker first: it crashed, with no worker on that OS thread) */
static void stats_run(const char *workers, const char *mode, const char *mode2, unsigned long *h,
                      unsigned long *peak);
Test(handoff, post_after_a_handoff_while_a_worker_idles)
{
    same_with_env(on2_env, "build/progs/stuck_spin", "spin", "post");
    /* and a hand-off did happen: the setter runs on the other worker, so
     * the spinner's is handed on only if the monitor saw it computing (one
     * the kernel kept off the CPU, on a loaded machine, is not): up to 5 runs,
     * each of which must succeed */
    unsigned long h = 0, peak = 0;
    for (int i = 0; i < 5 && h < 1; i++) stats_run("GPATCH_WORKERS=2", "spin", "post", &h, &peak);
    cr_assert(h >= 1 && peak >= 2, "spin post, two workers: no hand-off in 5 runs (hand-offs %lu, peak OS threads %lu)",
              h, peak);
}

/* ...and the same subject without hand-off keeps both workers for good */
Test(handoff, two_workers_without_handoff_hang)
{
    char out[CAP];
    char *argv[] = {h_path("build/progs/stuck_spin"), "spin4", NULL};
    int r = run_env(argv, 1, off2_env, out, 4);
    cr_assert_eq(r, -1, "the spinners finished without hand-off (exit %d):\n%s", r, out);
}

/* --stats counts them: hand-offs, and the OS threads that carried gthreads
 * at once (one per worker, one per gthread away) */
/* one run of stuck_spin MODE [MODE2] under --stats: it must exit 0; its
 * hand-offs and peak OS threads */
static void stats_run(const char *workers, const char *mode, const char *mode2, unsigned long *h,
                      unsigned long *peak)
{
    char path[] = "/tmp/gpatch-handoff-stats-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    char out[CAP];
    char *env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=own", "GPATCH_HANDOFF_MS=10", (char *)workers, "GPATCH_STATS=1", NULL};
    char *argv[] = {"/bin/sh", "-c", "exec \"$0\" \"$2\" ${3:+\"$3\"} 2>\"$1\"", h_path("build/progs/stuck_spin"), path,
                    (char *)mode, (char *)mode2, NULL};
    int r = run_env(argv, 1, env, out, 30);
    char err[CAP] = {0};
    ssize_t n = read(fd, err, sizeof err - 1);
    close(fd);
    unlink(path);
    cr_assert_eq(r, 0, "exited %d:\n%s\n%s", r, out, err);
    cr_assert(n > 0);
    const char *p = strstr(err, "hand-offs ");
    cr_assert(p && sscanf(p, "hand-offs %lu, peak OS threads %lu", h, peak) == 2, "no hand-off figures in:\n%s", err);
}

static void stats_show(const char *workers, const char *mode, unsigned long min_h, unsigned long min_peak)
{
    unsigned long h = 0, peak = 0;
    stats_run(workers, mode, NULL, &h, &peak);
    cr_assert(h >= min_h && peak >= min_peak, "%s %s: hand-offs %lu, peak OS threads %lu (want >= %lu, >= %lu)",
              workers, mode, h, peak, min_h, min_peak);
}

Test(handoff, stats_count_handoffs)
{
    stats_show("GPATCH_WORKERS=1", "spin", 1, 2);
}

/* both workers stuck: at least one hand-off each, three OS threads at once */
Test(handoff, stats_count_handoffs_of_two_workers)
{
    stats_show("GPATCH_WORKERS=2", "spin4", 2, 3);
}

/* Issue 19. Each subject is stock-built and its output is the
 * specification; each runs with hand-off on (the pass's worker count, then
 * two workers) and with shared TLS (no hand-off: must not break either). */
static char *shared2_env[] = {"GPATCH_PREEMPT_MS=0", "GPATCH_TLS=shared", "GPATCH_HANDOFF_MS=10", "GPATCH_WORKERS=2", NULL};

static void same_everywhere(const char *prog)
{
    same_with_env(on_env, prog, NULL, NULL);
    same_with_env(on2_env, prog, NULL, NULL);
    same_with_env(shared_env, prog, NULL, NULL);
    same_with_env(shared2_env, prog, NULL, NULL);
}

/* a thread handed off rejoins at its first entry into gpatch, the stdio
 * gate included (a funlockfile that left the gate shut hung main's next
 * printf); never inside a signal handler */
Test(handoff, gates_and_identity_after_a_handoff)
{
    same_everywhere("build/progs/rel_handoff_gates");
}

/* no hand-off signal makes a sleep, poll, select, futex or epoll wait
 * return EINTR (the subject counts them: all 0) */
Test(handoff, no_call_fails_with_eintr, .timeout = 180)
{
    same_with_env(on_env, "build/progs/rel_handoff_eintr", NULL, NULL);
    same_with_env(on2_env, "build/progs/rel_handoff_eintr", NULL, NULL);
}

/* robust, priority-inheritance and process-shared mutexes held across a
 * stall: unlocks succeed, waiters (a child process too) get the lock */
Test(handoff, glibc_mutexes_held_while_stuck)
{
    same_everywhere("build/progs/rel_handoff_locks");
}

/* computing under a frame with no unwind information */
Test(handoff, frames_without_unwind_information)
{
    same_everywhere("build/progs/rel_handoff_unwind");
}
