/* Unit tests of several workers (GPATCH_WORKERS, sched.c "Workers"): the
 * runtime linked directly, two workers, green threads placed on both, and
 * storms of what crosses between them -- sync waits and wakes, joins,
 * cancels, an fd closed by one worker while another waits on it.
 *
 * The other unit suites test one worker's scheduling (orders of runs,
 * budgets): the constructor below makes that the default for the whole
 * runner; this suite asks for two in its init. Each Criterion test is its
 * own process, so each starts a fresh runtime with its own count. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <link.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "tls.h"

__attribute__((constructor)) static void one_worker_by_default(void) { gp_configure_workers(1); }

static void two_workers(void) { gp_configure_workers(2); }
TestSuite(workers, .init = two_workers, .timeout = 60);

static struct gp_thread_attr defaults = {0, NULL, 0, 0};

/* main's first create starts the runtime: both workers must be there */
static void *note_tid(void *a)
{
    *(pid_t *)a = gettid();
    return NULL;
}

Test(workers, two_workers_run_gthreads_on_two_os_threads)
{
    pid_t tid[4] = {0};
    uintptr_t h[4];
    for (int i = 0; i < 4; i++) cr_assert_eq(gp_thread_create(&h[i], &defaults, note_tid, &tid[i]), 0);
    cr_assert_eq(gp__nworkers, 2);
    for (int i = 0; i < 4; i++) cr_assert_eq(gp_thread_join(h[i], NULL, GP_FOREVER), 0);
    int on_main = 0, elsewhere = 0;
    for (int i = 0; i < 4; i++) {
        cr_assert_neq(tid[i], 0);
        if (tid[i] == getpid()) on_main++;
        else elsewhere++;
    }
    cr_assert(on_main > 0 && elsewhere > 0, "placed in turn: %d on main's worker, %d on the other", on_main,
              elsewhere);
}

/* ---- a lock made of gp_sync_wait/gp_sync_wake, as the shim's mutex ---------- */
static int lock_word;
static long counter;

static int try_lock(void *ctx)
{
    (void)ctx;
    int z = 0;
    return __atomic_compare_exchange_n(&lock_word, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED) ? 0 : -EAGAIN;
}

static void lock(void)
{
    if (try_lock(NULL) != 0) cr_assert_eq(gp_sync_wait(&lock_word, try_lock, NULL, GP_FOREVER, 0, 0), 0);
}

static void unlock(void)
{
    __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
    gp_sync_wake(&lock_word, 1);
}

enum { ROUNDS = 20000 };

static void *adder(void *a)
{
    (void)a;
    for (int i = 0; i < ROUNDS; i++) {
        lock();
        long v = counter;
        if (i % 64 == 0) gp_yield(); /* hold it across a switch now and then */
        counter = v + 1;
        unlock();
    }
    return NULL;
}

Test(workers, lock_storm_loses_no_wake_and_no_update)
{
    enum { N = 16 };
    uintptr_t h[N];
    for (int i = 0; i < N; i++) cr_assert_eq(gp_thread_create(&h[i], &defaults, adder, NULL), 0);
    for (int i = 0; i < N; i++) cr_assert_eq(gp_thread_join(h[i], NULL, GP_FOREVER), 0);
    cr_assert_eq(counter, (long)N * ROUNDS);
}

/* ---- a semaphore's ping-pong between two workers ------------------------------- */
static int tokens[2];

static int take(void *ctx)
{
    int *t = ctx, v = __atomic_load_n(t, __ATOMIC_ACQUIRE);
    while (v > 0)
        if (__atomic_compare_exchange_n(t, &v, v - 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) return 0;
    return -EAGAIN;
}

static void post(int *t)
{
    __atomic_add_fetch(t, 1, __ATOMIC_RELEASE);
    gp_sync_wake(t, 1);
}

static void *ponger(void *a)
{
    long rounds = (long)a;
    for (long i = 0; i < rounds; i++) {
        cr_assert_eq(gp_sync_wait(&tokens[1], take, &tokens[1], GP_FOREVER, 0, 0), 0);
        post(&tokens[0]);
    }
    return (void *)rounds;
}

Test(workers, ping_pong_across_workers)
{
    enum { R = 20000 };
    uintptr_t h;
    /* main is on worker 0; the first gthread goes there too, the second to
     * worker 1: create a placeholder first so that the ponger crosses */
    uintptr_t first;
    cr_assert_eq(gp_thread_create(&first, &defaults, note_tid, &(pid_t){0}), 0);
    cr_assert_eq(gp_thread_create(&h, &defaults, ponger, (void *)(long)R), 0);
    for (long i = 0; i < R; i++) {
        post(&tokens[1]);
        cr_assert_eq(gp_sync_wait(&tokens[0], take, &tokens[0], GP_FOREVER, 0, 0), 0);
    }
    void *r;
    cr_assert_eq(gp_thread_join(h, &r, GP_FOREVER), 0);
    cr_assert_eq((long)r, R);
    cr_assert_eq(gp_thread_join(first, NULL, GP_FOREVER), 0);
}

/* ---- joins: every gthread joined by another one, wherever each runs ---------- */
static void *short_nap(void *a)
{
    gp_sleep(gp_after_ns(((long)a % 3) * 1000000));
    return a;
}

static void *joiner(void *a)
{
    uintptr_t target = (uintptr_t)a;
    void *r = NULL;
    cr_assert_eq(gp_thread_join(target, &r, GP_FOREVER), 0);
    return r;
}

Test(workers, join_storm_across_workers)
{
    enum { N = 400 };
    static uintptr_t t[N], j[N];
    for (long i = 0; i < N; i++) {
        cr_assert_eq(gp_thread_create(&t[i], &defaults, short_nap, (void *)i), 0);
        cr_assert_eq(gp_thread_create(&j[i], &defaults, joiner, (void *)t[i]), 0);
    }
    for (long i = 0; i < N; i++) {
        void *r = NULL;
        cr_assert_eq(gp_thread_join(j[i], &r, GP_FOREVER), 0);
        cr_assert_eq((long)r, i);
    }
}

/* ---- cancel: a gthread parked on the other worker ----------------------------- */
static void *sleeps_long(void *a)
{
    (void)a;
    gp_sleep(gp_after_ns(30LL * 1000000000));
    return (void *)1;
}

Test(workers, cancel_reaches_a_gthread_parked_on_another_worker)
{
    enum { N = 8 };
    uintptr_t h[N];
    for (int i = 0; i < N; i++) cr_assert_eq(gp_thread_create(&h[i], &defaults, sleeps_long, NULL), 0);
    gp_sleep(gp_after_ns(20 * 1000000)); /* they are asleep by now, most likely: not required */
    for (int i = 0; i < N; i++) cr_assert_eq(gp_thread_cancel(h[i]), 0);
    for (int i = 0; i < N; i++) {
        void *r = NULL;
        cr_assert_eq(gp_thread_join(h[i], &r, GP_FOREVER), 0);
        cr_assert_eq(r, PTHREAD_CANCELED);
    }
}

/* ---- close: one worker closes an fd another worker's gthread waits on -------- */
static int pairs[8][2];

static ssize_t try_recv(struct gp_io *op, int how)
{
    char c;
    (void)how;
    ssize_t n = recv(op->fd, &c, 1, MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

static void *reader(void *a)
{
    long i = (long)a;
    struct gp_io op = {.attempt = try_recv, .fd = pairs[i][0], .events = GP_IN, .len = 1};
    return (void *)(long)gp_io(&op);
}

Test(workers, close_by_one_worker_wakes_a_waiter_on_another)
{
    uintptr_t h[8];
    for (long i = 0; i < 8; i++) {
        cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pairs[i]), 0);
        cr_assert_eq(gp_thread_create(&h[i], &defaults, reader, (void *)i), 0);
    }
    gp_sleep(gp_after_ns(20 * 1000000)); /* the readers park, most likely: not required */
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(gp_fd_close(pairs[i][0]), 0);
        close(pairs[i][0]);
    }
    for (int i = 0; i < 8; i++) {
        void *r = NULL;
        cr_assert_eq(gp_thread_join(h[i], &r, GP_FOREVER), 0);
        /* EBADF: the wake-up the runtime gives a waiter whose fd is closed
         * (or, if the reader had not parked yet, its own attempt's EBADF) */
        cr_assert_eq((long)r, -EBADF);
        close(pairs[i][1]);
    }
}

/* ---- stealing (sched.c "Stealing") -------------------------------------------
 * Two short gthreads and two long ones that yield at every step: the short
 * ones end, their worker would sleep, and takes a ready long one from the
 * other. Each long one counts its steps in its own TLS (it may resume on the
 * other worker's OS thread at any yield) and sleeps now and then (its timer,
 * lent by the worker it runs on). */
static __thread long steps_here;
static pid_t last_tid[4];
static int go; /* all four are placed before any ends: placement is then fixed */

static void *yielder(void *a)
{
    long i = (long)a, n = i % 2 ? 60000 : 500;
    while (!__atomic_load_n(&go, __ATOMIC_ACQUIRE)) gp_yield_movable();
    for (long k = 0; k < n; k++) {
        steps_here++;
        gp_yield_movable(); /* the program's yield: a clean point */
        if (k % 2048 == 0) gp_sleep(gp_after_ns(100000));
    }
    last_tid[i] = gettid(); /* the OS thread it ends on */
    return (void *)steps_here;
}

Test(workers, an_idle_worker_steals_a_ready_gthread)
{
#ifndef GP_TSAN /* (ThreadSanitizer keeps its state in TLS: one block per OS thread only) */
    gp_configure_tls(1); /* the runner's default is shared: stealing needs own TLS */
#endif
    uintptr_t h[4];
    long want[4] = {500, 60000, 500, 60000};
    cr_assert_eq(gp_thread_create(&h[0], &defaults, yielder, (void *)0L), 0);
    if (!gp__steal_on) { /* (under ThreadSanitizer: one TLS block per OS thread, nothing moves) */
        __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
        gp_thread_join(h[0], NULL, GP_FOREVER);
        return;
    }
    for (long i = 1; i < 4; i++) cr_assert_eq(gp_thread_create(&h[i], &defaults, yielder, (void *)i), 0);
    /* placed in turn: 0 and 2 (short) on one worker, 1 and 3 (long) on main's;
     * once the short ones end, their worker is hungry and main's has two ready */
    __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
    for (int i = 0; i < 4; i++) {
        void *r;
        cr_assert_eq(gp_thread_join(h[i], &r, GP_FOREVER), 0);
        cr_assert_eq((long)r, want[i], "thread %d counted %ld steps in its TLS, not %ld", i, (long)r, want[i]);
    }
    cr_assert_gt(__atomic_load_n(&gp__stats.steals, __ATOMIC_RELAXED), 0, "nothing was stolen");
    /* the short ones are gone, one long one moved over: they end on the two
     * workers' OS threads (neither worker has two ready again to give back) */
    cr_assert_neq(last_tid[1], last_tid[3], "both long gthreads ended on OS thread %d", last_tid[1]);
}

/* Stealing leaves alone a gthread whose worker's tid holds one of the loader's
 * locks (it may be inside a library's constructor): they are found in
 * _rtld_global, and a dl_iterate_phdr callback (run with the loader's write
 * lock held) sees its own tid as a holder; outside, nobody holds them. */
static int look_inside(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)info, (void)size;
    *(int *)data = gp__dl_locked_by(gettid());
    return 1;
}

Test(workers, the_loaders_locks_are_found_and_seen_held)
{
    gp__dl_locks_find();
    cr_assert(gp__dl_locks_known(), "the loader's locks were not found in this glibc's _rtld_global");
    cr_assert_eq(gp__dl_locked_by(gettid()), 0, "held outside any loader call");
    int inside = 0;
    dl_iterate_phdr(look_inside, &inside);
    cr_assert_eq(inside, 1, "a dl_iterate_phdr callback's thread should hold the loader's write lock");
    cr_assert_eq(gp__dl_locked_by(gettid()), 0, "released after");
}
