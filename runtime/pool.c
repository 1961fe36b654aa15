/* pool.c — work that cannot be polled (waitpid, flock, DNS...) runs on a
 * growable pool of helper OS threads while the calling gthread parks.
 *
 * Not libuv's threadpool: it has a fixed 4 threads, and four gthreads
 * blocked in flock() on a lock a fifth one holds would fill it and deadlock.
 * Here a job never waits for a free thread: if none is idle, one is made.
 * Idle helpers retire after a while. Helpers block every signal, so signals
 * keep going to the program's own threads, as stock.
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
static int idle, nthreads;
static uint32_t work_seq; /* futex word idle helpers sleep on */

static void plock(void)
{
    while (__atomic_exchange_n(&qlock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&qlock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void punlock(void) { __atomic_store_n(&qlock, 0, __ATOMIC_RELEASE); }

static void *helper(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        plock();
        struct job *j = head;
        if (j) {
            head = j->next;
            if (!head) tail = &head;
            punlock();
            j->fn(j->ctx);
            __atomic_store_n(&j->done, 1, __ATOMIC_RELEASE);
            gp_sync_wake(j, 1);
            continue;
        }
        uint32_t seq = __atomic_load_n(&work_seq, __ATOMIC_ACQUIRE);
        idle++;
        punlock();
        struct timespec ts = {IDLE_RETIRE_S, 0};
        long r = syscall(SYS_futex, &work_seq, FUTEX_WAIT_PRIVATE, seq, &ts, NULL, 0);
        plock();
        idle--;
        if (r != 0 && errno == ETIMEDOUT && !head && nthreads > 1) {
            nthreads--;
            punlock();
            return NULL;
        }
        punlock();
    }
}

static int job_done(void *ctx)
{
    return __atomic_load_n(&((struct job *)ctx)->done, __ATOMIC_ACQUIRE) ? 0 : -EAGAIN;
}

int gp_offload(void (*fn)(void *ctx), void *ctx)
{
    struct job j = {fn, ctx, NULL, 0};
    __atomic_add_fetch(&gp__stats.pool_jobs, 1, __ATOMIC_RELAXED);
    plock();
    *tail = &j;
    tail = &j.next;
    int spawn = idle == 0;
    if (spawn) nthreads++;
    __atomic_fetch_add(&work_seq, 1, __ATOMIC_RELEASE);
    punlock();
    if (spawn) {
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 256 * 1024);
        int r = R(pthread_create)(&t, &a, helper, NULL);
        pthread_attr_destroy(&a);
        if (r != 0) {
            plock();
            nthreads--;
            int others = nthreads;
            punlock();
            if (!others) { /* no helper at all: do it here, blocking the worker */
                plock();
                struct job **p = &head;
                while (*p && *p != &j) p = &(*p)->next;
                if (*p) {
                    *p = j.next;
                    if (!*p) tail = p;
                }
                punlock();
                fn(ctx);
                return 0;
            }
        }
    } else {
        syscall(SYS_futex, &work_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    }
    return gp_sync_wait(&j, job_done, &j, GP_FOREVER, GP_INTR_NONE, 0);
}

void gp__pool_fork_reset(void)
{
    /* the helpers are the parent's: the child starts with none */
    qlock = 0;
    head = NULL;
    tail = &head;
    idle = nthreads = 0;
}
