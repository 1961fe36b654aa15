/* pool.c — work that cannot be polled (waitpid, flock, DNS...) runs on a
 * growable pool of helper OS threads while the calling gthread parks.
 *
 * Not libuv's threadpool: it has a fixed 4 threads, and four gthreads
 * blocked in flock() on a lock a fifth one holds would fill it and deadlock.
 * Here a job never waits for a free thread: every queued job has a helper
 * of its own, an idle one claimed for it or a new one. Idle helpers retire
 * after a while. Helpers block every signal, so signals keep going to the
 * program's own threads, as stock.
 *
 * Counting, under qlock: `idle` is the helpers asleep and not yet claimed,
 * `claims` those woken for a job but not yet up. A job takes one unit of
 * `idle` (idle--, claims++) or makes a helper; a helper that wakes takes a
 * claim if there is one, else its own unit of idle. So `idle` never counts a
 * helper twice: two jobs queued back to back while one helper sleeps make a
 * second helper (counting that sleeper for both left the second job queued
 * behind a first that may wait for it: a flock waiting for a process that a
 * queued waitpid would reap).
 *
 * When no helper can be made (pthread_create fails, RLIMIT_NPROC) and none
 * is free, the job runs on the calling worker, blocking every gthread until
 * it returns (a note on stderr, once). Queueing it instead would guarantee
 * nothing: the busy helpers may be waiting for this very job. Run here it
 * completes unless it waits for another gthread of this worker.
 *
 * A job record lives on the parked gthread's stack; the helper marks it done
 * and wakes it through the sync queues (sync.c), which hand the wake-up to
 * the worker from any OS thread.
 */
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

#define IDLE_RETIRE_S 30

struct job {
    void (*fn)(void *ctx);
    void *ctx;
    struct job *next;
    int done;
};

static int qlock;
static struct job *head, **tail = &head;
static int idle, claims, nthreads;
static uint32_t work_seq; /* futex word idle helpers sleep on */
static int create_failed_noted;

/* any OS thread */
static void plock(void)
{
    while (__atomic_exchange_n(&qlock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&qlock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void punlock(void) { __atomic_store_n(&qlock, 0, __ATOMIC_RELEASE); }

/* a helper OS thread */
static void *helper(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_BLOCK, &all, NULL);
    for (;;) {
        plock();
        struct job *j = head;
        if (j) {
            head = j->next;
            if (!head) tail = &head;
            punlock();
            j->fn(j->ctx);
            /* release: the job's results before `done`. The waiter's
             * seq_cst RMW in its queue and ours in gp_sync_wake order this
             * store against its read of `done` (the Dekker pair is in sync.c). */
            __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
            gp_sync_wake(j, 1);
            continue;
        }
        /* read under qlock: a job queued after this read bumps work_seq
         * (under qlock too), so the futex wait below returns at once */
        uint32_t seq = __atomic_load_n(&work_seq, __ATOMIC_ACQUIRE);
        idle++;
        punlock();
        struct timespec ts = {IDLE_RETIRE_S, 0};
        long r = R(syscall)(SYS_futex, &work_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
        int timedout = r != 0 && errno == ETIMEDOUT;
        plock();
        int claimed = claims > 0;
        if (claimed) claims--; /* one of the helpers woken for a job: any will do */
        else idle--;
        if (timedout && !claimed && !head && nthreads > 1) {
            nthreads--;
            punlock();
            return NULL;
        }
        punlock();
    }
}

/* gthread only */
static int job_done(void *ctx)
{
    return __atomic_load_n(&((struct job *)ctx)->done, __ATOMIC_ACQUIRE) ? 0 : -EAGAIN;
}

/* any OS thread: a new helper; 0 or an error number */
static int spawn(void)
{
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 256 * 1024);
    int r = R(pthread_create)(&t, &a, helper, NULL);
    pthread_attr_destroy(&a);
    return r;
}

/* gthread only */
/* gthread only: j queued for a helper (0), or, with no helper to be had, run
 * here already (1) */
static int submit(struct job *j)
{
    void (*fn)(void *ctx) = j->fn;
    void *ctx = j->ctx;
    __atomic_add_fetch(&gp__stats.pool_jobs, 1, __ATOMIC_RELAXED);
    plock();
    *tail = j;
    tail = &j->next;
    int claim = idle > 0;
    if (claim) { /* this sleeper is ours: the next job counts one fewer */
        idle--;
        claims++;
    } else {
        nthreads++;
    }
    __atomic_fetch_add(&work_seq, 1, __ATOMIC_RELEASE);
    punlock();
    if (claim) {
        R(syscall)(SYS_futex, &work_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    } else if (spawn() != 0) {
        plock();
        nthreads--;
        struct job **p = &head; /* still queued? (a helper that finished may have taken it) */
        while (*p && *p != j) p = &(*p)->next;
        int mine = *p != NULL;
        if (mine) {
            *p = j->next;
            if (!*p) tail = p;
        }
        punlock();
        if (mine) {
            if (!__atomic_exchange_n(&create_failed_noted, 1, __ATOMIC_RELAXED)) {
                static const char note[] = "gpatch: cannot create a helper thread; blocking calls now run on the worker\n";
                (void)!R(write)(2, note, sizeof note - 1);
            }
            fn(ctx);
            return 1;
        }
    }
    return 0;
}

int gp_offload(void (*fn)(void *ctx), void *ctx)
{
    struct job j = {fn, ctx, NULL, 0};
    if (submit(&j)) return 0;
    return gp_sync_wait(&j, job_done, &j, GP_FOREVER, GP_INTR_NONE, 0);
}

/* gthread only: gp_offload whose wait is a cancellation point. A cancel
 * (pending, and enabled) while fn runs on its helper calls on_cancel(ctx) on
 * this gthread, which must make fn return soon; the wait then goes on until
 * fn has returned (its record is on this stack), and -ECANCELED tells the
 * caller to act on the cancel once it has put things back. 0 otherwise. A
 * job run here for want of a helper is not cancelled. */
int gp_offload_cancellable(void (*fn)(void *ctx), void *ctx, void (*on_cancel)(void *ctx))
{
    struct job j = {fn, ctx, NULL, 0};
    if (submit(&j)) return 0;
    int r = gp_sync_wait(&j, job_done, &j, GP_FOREVER, GP_INTR_NONE | GP_CANCELPT | GP_CANCEL_RETURN, 0);
    if (r != -ECANCELED) return r;
    on_cancel(ctx);
    gp_sync_wait(&j, job_done, &j, GP_FOREVER, GP_INTR_NONE, 0);
    return -ECANCELED;
}

/* the child after fork (its only thread) */
void gp__pool_fork_reset(void)
{
    /* the helpers are the parent's: the child starts with none */
    qlock = 0;
    head = NULL;
    tail = &head;
    idle = claims = nthreads = 0;
}
