/* Unit tests of the wait queues (runtime/sync.c) and the helper pool
 * (runtime/pool.c), linked directly (no hooks, no preload). Each Criterion
 * test is its own process with a fresh runtime: the test's thread becomes
 * the main gthread at the first gp_thread_create. Lost wake-ups show up as
 * hangs, bounded by the suite's timeout. */
#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>

#include "internal.h"

TestSuite(sync_pool, .timeout = 60);

static struct gp_thread_attr defaults = {0, NULL, 0, 0};

/* a counter of tokens: try takes one */
struct tokens { int n; };
static int take(void *ctx)
{
    struct tokens *t = ctx;
    int n = __atomic_load_n(&t->n, __ATOMIC_ACQUIRE);
    while (n > 0)
        if (__atomic_compare_exchange_n(&t->n, &n, n - 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 0;
    return -EAGAIN;
}
static void give(struct tokens *t, int wake)
{
    __atomic_fetch_add(&t->n, 1, __ATOMIC_RELEASE);
    if (wake) gp_sync_wake(t, 1);
}

static void *noop(void *a) { return a; }

/* the runtime is started and main is a gthread */
static void start(void)
{
    uintptr_t h;
    cr_assert_eq(gp_thread_create(&h, &defaults, noop, NULL), 0);
    cr_assert_eq(gp_thread_join(h, NULL, GP_FOREVER), 0);
}

static struct tokens q1;
static void *taker(void *a)
{
    long n = (long)a, got = 0;
    for (long i = 0; i < n; i++) got += gp_sync_wait(&q1, take, &q1, GP_FOREVER, GP_INTR_NONE, 0) == 0;
    return (void *)got;
}

Test(sync_pool, waiters_woken_in_queue_order_by_gthreads)
{
    uintptr_t a, b;
    gp_thread_create(&a, &defaults, taker, (void *)3);
    gp_thread_create(&b, &defaults, taker, (void *)3);
    gp_yield(); /* both queue */
    for (int i = 0; i < 6; i++) {
        give(&q1, 1);
        gp_yield();
    }
    void *ra, *rb;
    cr_assert_eq(gp_thread_join(a, &ra, GP_FOREVER), 0);
    cr_assert_eq(gp_thread_join(b, &rb, GP_FOREVER), 0);
    cr_assert_eq((long)ra + (long)rb, 6);
    cr_assert_eq(q1.n, 0);
}

Test(sync_pool, wake_with_nobody_waiting_returns_zero)
{
    start();
    static int k;
    cr_assert_eq(gp_sync_wake(&k, 1), 0);
    cr_assert_eq(gp_sync_wake(&k, INT_MAX), 0);
}

Test(sync_pool, expired_deadline_times_out_or_takes)
{
    start();
    struct tokens t = {0};
    cr_assert_eq(gp_sync_wait(&t, take, &t, gp_now() - 1, GP_INTR_NONE, 0), -ETIMEDOUT);
    cr_assert_eq(gp_sync_wait(&t, take, &t, 0, GP_INTR_NONE, 0), -ETIMEDOUT);
    t.n = 1;
    cr_assert_eq(gp_sync_wait(&t, take, &t, gp_now() - 1, GP_INTR_NONE, 0), 0, "available: no timeout");
    cr_assert_eq(gp_sync_wait(&t, take, &t, gp_now() + 2000000, GP_INTR_NONE, 0), -ETIMEDOUT);
}

/* ---- wakes from OS threads that are not gthreads ----------------------------- */
/* As a pool helper's `done`: the foreign thread is the only writer of
 * `produced` and publishes with a plain release store (no RMW, which on x86
 * would fence by accident), then wakes; the gthreads consume. */
#define FOREIGN_ROUNDS 20000
static struct { int produced, consumed; } q2;
static int take_produced(void *ctx)
{
    (void)ctx;
    if (__atomic_load_n(&q2.produced, __ATOMIC_ACQUIRE) <= q2.consumed) return -EAGAIN;
    /* gthreads only, one worker: no race among them; the giver reads it */
    __atomic_store_n(&q2.consumed, q2.consumed + 1, __ATOMIC_RELEASE);
    return 0;
}
static void *foreign_giver(void *a)
{
    (void)a;
    for (int i = 1; i <= FOREIGN_ROUNDS; i++) {
        __atomic_store_n(&q2.produced, i, __ATOMIC_RELEASE);
        gp_sync_wake(&q2, 1);
        /* the next one only once this one is taken: a lost wake-up is not
         * papered over by a later one, it hangs */
        for (int spin = 0; __atomic_load_n(&q2.consumed, __ATOMIC_RELAXED) < i; spin++) {
            if (spin < 4000) __builtin_ia32_pause(); /* react at once: the race's window is short */
            else sched_yield();                      /* a loaded machine: let the worker run */
        }
    }
    return NULL;
}
static void *foreign_taker(void *a)
{
    (void)a;
    long got = 0;
    for (int i = 0; i < FOREIGN_ROUNDS / 2; i++)
        got += gp_sync_wait(&q2, take_produced, NULL, GP_FOREVER, GP_INTR_NONE, 0) == 0;
    return (void *)got;
}

/* No poll interval: only gp_sync_wake from the foreign thread wakes the
 * takers, so one lost wake-up (the waiter's and the waker's store/load
 * reordered) hangs the test. The window is a few instructions wide: this
 * catches the old plain-load check only now and then (a busy-spinning giver
 * did, 1 run in 4, but starved the rest of the suite on a loaded machine);
 * the differential subject rel_pool_wake is the reliable reproducer. */
Test(sync_pool, wakes_from_a_foreign_os_thread_are_never_lost, .timeout = 120)
{
    uintptr_t a, b;
    gp_thread_create(&a, &defaults, foreign_taker, NULL);
    gp_thread_create(&b, &defaults, foreign_taker, NULL);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, foreign_giver, NULL), 0);
    void *ra, *rb;
    cr_assert_eq(gp_thread_join(a, &ra, GP_FOREVER), 0);
    cr_assert_eq(gp_thread_join(b, &rb, GP_FOREVER), 0);
    pthread_join(t, NULL);
    cr_assert_eq((long)ra + (long)rb, FOREIGN_ROUNDS);
}

/* ---- a condition signal at a waiter's deadline ------------------------------- */
static int cond_key;
static void no_release(void *ctx) { (void)ctx; }
static int no_reacquire(void *ctx) { (void)ctx; return 0; }
static void *cond_waiter(void *a)
{
    gp_deadline dl = (gp_deadline)(intptr_t)a;
    return (void *)(long)gp_cond_wait(&cond_key, no_release, no_reacquire, NULL, dl ? dl : GP_FOREVER);
}
static void *foreign_signal(void *a)
{
    (void)a;
    return (void *)(long)gp_sync_wake(&cond_key, 1);
}

/* The timed waiter (queued first) is dequeued by a signal from another OS
 * thread after its deadline, and its timer fires before the worker sees the
 * wake: it must return 0 (it consumed the signal), or the untimed waiter,
 * which the signal skipped, is never woken. */
Test(sync_pool, cond_signal_at_deadline_is_consumed_not_lost)
{
    start();
    gp_deadline dl = gp_now() + 3000000;
    uintptr_t timed, untimed;
    gp_thread_create(&timed, &defaults, cond_waiter, (void *)(intptr_t)dl);
    gp_thread_create(&untimed, &defaults, cond_waiter, (void *)0);
    gp_yield(); /* both park, the timed one first in the queue */
    while (gp_now() < dl + 2000000) {} /* keep the worker: the timer is due, unseen */
    pthread_t t;
    void *woke;
    pthread_create(&t, NULL, foreign_signal, NULL);
    pthread_join(t, &woke);
    cr_assert_eq((long)woke, 1);
    void *rt;
    cr_assert_eq(gp_thread_join(timed, &rt, GP_FOREVER), 0);
    cr_assert_eq((long)rt, 0, "signalled: 0, not ETIMEDOUT (%ld)", (long)rt);
    gp_sync_wake(&cond_key, 1); /* the untimed one's turn */
    cr_assert_eq(gp_thread_join(untimed, &rt, GP_FOREVER), 0);
    cr_assert_eq((long)rt, 0);
}

/* ---- wakes from signal handlers ------------------------------------------------ */
static struct tokens q3, pp_a, pp_b;
static volatile sig_atomic_t handler_posts, storm_done;
static void on_alarm(int sig)
{
    (void)sig;
    gp__tls.in_handler++; /* what the shim's trampoline does around a handler */
    give(&q3, 1);
    handler_posts++;
    gp__tls.in_handler--;
}
#define HANDLER_TAKES 3000
static void *handler_taker(void *a)
{
    (void)a;
    long got = 0;
    for (int i = 0; i < HANDLER_TAKES; i++) got += gp_sync_wait(&q3, take, &q3, GP_FOREVER, GP_INTR_NONE, 0) == 0;
    storm_done = 1;
    return (void *)got;
}
static void *ping(void *a)
{
    struct tokens *mine = a, *other = mine == &pp_a ? &pp_b : &pp_a;
    while (!storm_done) {
        give(other, 1);
        gp_sync_wait(mine, take, mine, gp_now() + 1000000, GP_INTR_NONE, 0);
    }
    give(other, 1);
    return NULL;
}

/* A SIGALRM storm lands while two gthreads keep the queues' lock busy; the
 * handler's wakes never take that lock (they would deadlock on it) and are
 * never lost: the taker collects every token it waits for. */
Test(sync_pool, wakes_from_a_signal_handler_take_no_lock)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    uintptr_t t, p1, p2;
    gp_thread_create(&t, &defaults, handler_taker, NULL);
    gp_thread_create(&p1, &defaults, ping, &pp_a);
    gp_thread_create(&p2, &defaults, ping, &pp_b);
    struct itimerval it = {{0, 100}, {0, 100}};
    setitimer(ITIMER_REAL, &it, NULL);
    void *got;
    cr_assert_eq(gp_thread_join(t, &got, GP_FOREVER), 0);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    gp_thread_join(p1, NULL, GP_FOREVER);
    gp_thread_join(p2, NULL, GP_FOREVER);
    cr_assert_eq((long)got, HANDLER_TAKES);
    cr_assert_geq(handler_posts, HANDLER_TAKES);
}

/* ---- the pool ----------------------------------------------------------------- */
static int chain_pipe[2];
static void job_read(void *ctx)
{
    char c;
    *(long *)ctx = read(chain_pipe[0], &c, 1);
}
static void job_write(void *ctx) { *(long *)ctx = write(chain_pipe[1], "x", 1); }
static void job_nothing(void *ctx) { *(long *)ctx = 1; }
static void *offload_fn(void *a)
{
    long r = 0;
    gp_offload((void (*)(void *))a, &r);
    return (void *)r;
}

/* Chains of jobs, each waiting for the one queued after it (job i reads
 * its pipe, then writes the previous link's; the last one only writes), one
 * idle helper to begin with, and one more link each round: every job needs
 * a helper of its own at the same time. */
#define CHAIN_ROUNDS 12
static int links[CHAIN_ROUNDS + 2][2];
struct link { long i, last, ok; };
static void run_link(void *ctx)
{
    struct link *l = ctx;
    char c = 'x';
    l->ok = 1;
    if (!l->last) l->ok &= read(links[l->i][0], &c, 1) == 1;
    if (l->i > 0) l->ok &= write(links[l->i - 1][1], &c, 1) == 1;
}
static void *link_gthread(void *a)
{
    gp_offload(run_link, a);
    return NULL;
}

Test(sync_pool, each_queued_job_gets_a_helper_of_its_own, .timeout = 30)
{
    uintptr_t h;
    gp_thread_create(&h, &defaults, offload_fn, (void *)job_nothing);
    void *r;
    gp_thread_join(h, &r, GP_FOREVER);
    cr_assert_eq((long)r, 1);
    gp_sleep(gp_now() + 20000000); /* the helper goes to sleep, idle */
    for (int round = 1; round <= CHAIN_ROUNDS; round++) {
        int n = round + 2;
        struct link l[CHAIN_ROUNDS + 2];
        uintptr_t g[CHAIN_ROUNDS + 2];
        for (int i = 0; i < n; i++) {
            cr_assert_eq(pipe(links[i]), 0);
            l[i] = (struct link){i, i == n - 1, 0};
        }
        for (int i = 0; i < n; i++) gp_thread_create(&g[i], &defaults, link_gthread, &l[i]);
        for (int i = 0; i < n; i++) {
            cr_assert_eq(gp_thread_join(g[i], NULL, GP_FOREVER), 0);
            cr_assert_eq(l[i].ok, 1, "round %d link %d", round, i);
        }
        for (int i = 0; i < n; i++) {
            close(links[i][0]);
            close(links[i][1]);
        }
    }
}

/* A helper cannot be created (RLIMIT_NPROC, after giving up root, which
 * ignores it) while the only helper is busy with a job that waits for the
 * new one: the new job runs on the worker instead of waiting for a helper. */
Test(sync_pool, job_runs_inline_when_no_helper_can_be_made, .timeout = 20)
{
    cr_assert_eq(pipe(chain_pipe), 0);
    uintptr_t reader, writer;
    gp_thread_create(&reader, &defaults, offload_fn, (void *)job_read);
    gp_yield(); /* the reader's job is on the only helper, blocked in read */
    struct rlimit rl = {1, 1};
    cr_assert_eq(setrlimit(RLIMIT_NPROC, &rl), 0);
    if (getuid() == 0) cr_assert_eq(setuid(65534), 0);
    pthread_t probe;
    int pr = pthread_create(&probe, NULL, noop, NULL);
    cr_assert_eq(pr, EAGAIN, "thread creation must fail here (%d)", pr);
    gp_thread_create(&writer, &defaults, offload_fn, (void *)job_write);
    void *rr, *rw;
    cr_assert_eq(gp_thread_join(writer, &rw, GP_FOREVER), 0);
    cr_assert_eq(gp_thread_join(reader, &rr, GP_FOREVER), 0);
    cr_assert_eq((long)rw, 1);
    cr_assert_eq((long)rr, 1);
}
