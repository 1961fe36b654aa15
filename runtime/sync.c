/* sync.c — wait queues for the program's synchronisation objects.
 *
 * The objects' state stays in the program's own storage (a pthread_mutex_t,
 * a sem_t...): the shim knows their layout and supplies a "try" function;
 * this file only knows "a green thread waits on address K until someone
 * wakes K". Waiter records live on the waiting gthread's stack and are
 * linked into one of a fixed number of buckets hashed by address, so
 * nothing is allocated per object or per wait.
 *
 * Any thread may wake K: the worker itself (directly onto the run queue) or
 * an OS thread that is not a gthread (the record is handed to the worker
 * through a locked list and the loop's async handle). That is what keeps an
 * object correct when gthreads and plain OS threads share it.
 *
 * The lost-wake-up rule: a waiter is queued *before* it tries the object one
 * last time, and a waker changes the object *before* it looks at the queue;
 * so either the try succeeds or the waker sees the waiter. Wake-ups may be
 * spurious; every waiter tries again.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256

struct swait {
    struct gp_list link;   /* in its bucket */
    struct gp_list remote; /* in the worker's remote-ready list */
    const void *key;
    struct gp_gthread *g;
    int queued;            /* still in the bucket */
};

static struct gp_list buckets[BUCKETS];
static int lock_word;        /* one spinlock for the queues: sections are tiny */
static int nwaiting;         /* gthreads queued anywhere (a waker's fast check) */
static struct gp_list remote_ready; /* woken by other OS threads, for the worker */
static int inited;

static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

static struct gp_list *bucket(const void *key)
{
    uintptr_t k = (uintptr_t)key;
    k ^= k >> 17;
    k *= 0x9E3779B97F4A7C15ull;
    return &buckets[(k >> 56) % BUCKETS];
}

static void init_once(void)
{
    if (__atomic_load_n(&inited, __ATOMIC_ACQUIRE)) return;
    lock();
    if (!inited) {
        for (int i = 0; i < BUCKETS; i++) gp_list_init(&buckets[i]);
        gp_list_init(&remote_ready);
        __atomic_store_n(&inited, 1, __ATOMIC_RELEASE);
    }
    unlock();
}

/* On the worker: move what other threads woke onto the run queue. */
void gp__sync_drain_remote(void)
{
    if (!inited || gp_list_empty(&remote_ready)) return;
    lock();
    struct gp_list *n;
    while ((n = gp_list_pop(&remote_ready))) {
        struct swait *w = gp_container(n, struct swait, remote);
        gp__ready(w->g, 0);
    }
    unlock();
}

int gp_sync_wake(const void *key, int n)
{
    if (!__atomic_load_n(&nwaiting, __ATOMIC_ACQUIRE)) return 0;
    init_once();
    struct gp_worker *w = gp__w;
    int on_worker = gp__tls.worker && w;
    int woke = 0, remote = 0;
    lock();
    struct gp_list *b = bucket(key);
    for (struct gp_list *l = b->next, *next; l != b && woke < n; l = next) {
        next = l->next;
        struct swait *sw = gp_container(l, struct swait, link);
        if (sw->key != key) continue;
        gp_list_del(&sw->link);
        sw->queued = 0;
        __atomic_fetch_sub(&nwaiting, 1, __ATOMIC_RELAXED);
        if (on_worker) {
            gp__ready(sw->g, 0);
        } else {
            gp_list_push(&remote_ready, &sw->remote);
            remote = 1;
        }
        woke++;
    }
    unlock();
    if (remote && gp__w) uv_async_send(&gp__w->async);
    return woke;
}

static int sync_wait(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns);

int gp_sync_wait(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns)
{
    struct gp_gthread *g = gp__call_begin();
    int r = sync_wait(key, try, ctx, dl, intr, poll_ns);
    gp__call_end(g);
    return r;
}

static int sync_wait(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns)
{
    init_once();
    struct swait sw = {.key = key, .g = gp__w->cur};
    gp_list_init(&sw.remote);
    for (;;) {
        lock();
        gp_list_push(bucket(key), &sw.link);
        sw.queued = 1;
        __atomic_fetch_add(&nwaiting, 1, __ATOMIC_RELEASE);
        unlock();
        int r = try(ctx);
        gp_deadline pdl = dl;
        if (r == -EAGAIN && poll_ns > 0) { /* a waker we may not hear: look again soon */
            gp_deadline soon = gp_after_ns(poll_ns);
            if (pdl < 0 || soon < pdl) pdl = soon;
        }
        int w = r == -EAGAIN ? gp__park("sync", pdl, intr) : 0;
        lock();
        if (sw.queued) {
            gp_list_del(&sw.link);
            sw.queued = 0;
            __atomic_fetch_sub(&nwaiting, 1, __ATOMIC_RELAXED);
        }
        if (!gp_list_empty(&sw.remote)) gp_list_del(&sw.remote); /* woken remotely, then readied otherwise */
        unlock();
        if (w == -ECANCELED) { /* intr & GP_INTR_CANCEL: sem_wait */
            gp_sync_wake(key, 1); /* a wake it took after the cancel readied it: pass it on */
            gp__cancel_exit();
        }
        if (r != -EAGAIN) return r;
        if (w == -EINTR) return -EINTR;
        if (w == -ETIMEDOUT && dl >= 0 && gp_now() >= dl) return try(ctx) == 0 ? 0 : -ETIMEDOUT;
    }
}

int gp_cond_wait(const void *key, void (*release)(void *ctx), int (*reacquire)(void *ctx), void *ctx, gp_deadline dl)
{
    init_once();
    struct swait sw = {.key = key, .g = gp__w->cur};
    gp_list_init(&sw.remote);
    lock();
    gp_list_push(bucket(key), &sw.link);
    sw.queued = 1;
    __atomic_fetch_add(&nwaiting, 1, __ATOMIC_RELEASE);
    unlock();
    release(ctx); /* queued first: a signal after the unlock finds us */
    int w = gp__park("pthread_cond_wait", dl, GP_NOINTR | GP_CANCELPT);
    lock();
    if (sw.queued) {
        gp_list_del(&sw.link);
        sw.queued = 0;
        __atomic_fetch_sub(&nwaiting, 1, __ATOMIC_RELAXED);
    }
    if (!gp_list_empty(&sw.remote)) gp_list_del(&sw.remote);
    unlock();
    int r = reacquire(ctx);
    if (w == -ECANCELED) { /* with the mutex held again, as glibc */
        gp_sync_wake(key, 1); /* it may have taken a signal too: pass it on (spurious at worst) */
        gp__cancel_exit();
    }
    if (r != 0) return r;
    return w == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

void gp__sync_fork_reset(void)
{
    /* only the forking gthread survives: no waiter is left anywhere */
    lock_word = 0;
    nwaiting = 0;
    inited = 0;
}

/* ---- thread-specific data, per gthread ------------------------------------ */
#define KEYS_MAX 1024
static void (*dtors[KEYS_MAX])(void *);

void gp_key_dtor(unsigned key, void (*dtor)(void *))
{
    if (key < KEYS_MAX) dtors[key] = dtor;
}

void *gp_tsd_get(unsigned key)
{
    struct gp_gthread *g = gp__w->cur;
    return key < g->tsd_n ? g->tsd[key] : NULL;
}

int gp_tsd_set(unsigned key, const void *v)
{
    struct gp_gthread *g = gp__w->cur;
    if (key >= KEYS_MAX) return -EINVAL;
    if (key >= g->tsd_n) {
        unsigned n = g->tsd_n ? g->tsd_n : 8;
        while (n <= key) n *= 2;
        void **t = realloc(g->tsd, n * sizeof *t);
        if (!t) return -ENOMEM;
        memset(t + g->tsd_n, 0, (n - g->tsd_n) * sizeof *t);
        g->tsd = t;
        g->tsd_n = n;
    }
    g->tsd[key] = (void *)v;
    return 0;
}

/* at gthread exit, as glibc: up to PTHREAD_DESTRUCTOR_ITERATIONS rounds */
void gp__tsd_run_dtors(struct gp_gthread *g)
{
    for (int round = 0; round < 4 && g->tsd; round++) {
        int any = 0;
        for (unsigned k = 0; k < g->tsd_n; k++) {
            void *v = g->tsd[k];
            if (v && dtors[k]) {
                g->tsd[k] = NULL;
                dtors[k](v);
                any = 1;
            }
        }
        if (!any) break;
    }
    free(g->tsd);
    g->tsd = NULL;
    g->tsd_n = 0;
}
