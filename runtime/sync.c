/* sync.c — wait queues for the program's synchronisation objects.
 *
 * The objects' state stays in the program's own storage (a pthread_mutex_t,
 * a sem_t...): the shim knows their layout and supplies a "try" function;
 * this file only knows "a green thread waits on address K until someone
 * wakes K". Waiter records live on the waiting gthread's stack and are
 * linked into one of a fixed number of buckets hashed by address, so
 * nothing is allocated per object or per wait.
 *
 * Any thread may wake K: the waiter's own worker (directly onto its run
 * queue), another worker or an OS thread that is not a gthread (the record
 * is handed to the waiter's worker through that worker's remote list, under
 * the one lock, and its loop's async handle), or a signal handler on
 * any OS thread (the key is posted to a lock-free array the worker drains:
 * the handler may have interrupted the very code that holds the lock). That
 * is what keeps an object correct when gthreads, plain OS threads and
 * handlers share it.
 *
 * The lost-wake-up rule: a waiter is queued *before* it tries the object one
 * last time, and a waker changes the object *before* it looks at the queue;
 * so either the try succeeds or the waker sees the waiter. The "looks" are
 * a Dekker pair (each side stores, then loads what the other stored), which
 * plain or acquire/release accesses do not order (x86 lets a store be passed
 * by a later load): both sides go through a seq_cst read-modify-write of
 * their bucket's waiter count, see queue() and gp_sync_wake().
 *
 * A wake is never lost by a waiter that does not act on it: a waiter that a
 * waker dequeued but that returns without the object (its deadline passed,
 * a signal interrupted it) passes the wake on; a condition waiter that was
 * signalled returns 0 even if its deadline passed meanwhile (POSIX allows
 * it, and the signal has nobody else to go to). Wake-ups may be spurious;
 * every waiter tries again.
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256
#define SIGQ 32 /* keys a signal handler can post before falling back to "wake everyone" */

struct swait {
    struct gp_list link;   /* in its bucket */
    struct gp_list remote; /* in its worker's remote-ready list */
    const void *key;
    struct gp_gthread *g;
    int queued;            /* still in the bucket (0 after park: a waker took it out) */
};

struct bucket {
    struct gp_list q;
    int nwaiting; /* gthreads queued here: the wakers' fast check (seq_cst RMW only) */
};

static struct bucket buckets[BUCKETS];
static int lock_word;        /* one spinlock for the queues (and every worker's remote list): sections are tiny */
static int inited;
/* wakes posted by signal handlers (any OS thread), drained by the worker */
static const void *sigq[SIGQ];
static int sigq_pending, sigq_overflow;

/* any OS thread, never a signal handler */
static void lock(void)
{
    while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void unlock(void) { __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE); }

/* any thread, signal-safe */
static struct bucket *bucket(const void *key)
{
    uintptr_t k = (uintptr_t)key;
    k ^= k >> 17;
    k *= 0x9E3779B97F4A7C15ull;
    return &buckets[(k >> 56) % BUCKETS];
}

/* any OS thread, never a signal handler */
static void init_once(void)
{
    if (__atomic_load_n(&inited, __ATOMIC_ACQUIRE)) return;
    lock();
    if (!inited) {
        for (int i = 0; i < BUCKETS; i++) gp_list_init(&buckets[i].q);
        __atomic_store_n(&inited, 1, __ATOMIC_RELEASE);
    }
    unlock();
}

/* gthread only, lock held: queue sw on its key. The waiter's half of the
 * Dekker pair: this seq_cst RMW comes before the waiter's next try of the
 * object; a waker's seq_cst RMW of the same count comes after it changed the
 * object. The two RMWs are ordered on the one count: if the waker's comes
 * first, the waiter's RMW reads from it (acquire from its release), so the
 * waiter's try sees the change; if the waiter's comes first, the waker reads
 * a count > 0 and scans the bucket. Closes: helper stores `done`, waiter
 * queues, both loads miss, the gthread parks forever with its job done. */
static void queue(struct swait *sw)
{
    struct bucket *b = bucket(sw->key);
    gp_list_push(&b->q, &sw->link);
    sw->queued = 1;
    __atomic_fetch_add(&b->nwaiting, 1, __ATOMIC_SEQ_CST);
}

/* any OS thread, lock held: take sw out of its bucket */
static void dequeue(struct swait *sw)
{
    gp_list_del(&sw->link);
    sw->queued = 0;
    __atomic_fetch_sub(&bucket(sw->key)->nwaiting, 1, __ATOMIC_SEQ_CST);
}

/* gthread only: after its park, take the waiter out of every list. Returns
 * 1 when a waker had dequeued it (it holds a wake it must use or pass on). */
static int unqueue(struct swait *sw)
{
    lock();
    int woken = !sw->queued;
    if (sw->queued) dequeue(sw);
    if (!gp_list_empty(&sw->remote)) gp_list_del(&sw->remote); /* woken remotely, then readied otherwise */
    unlock();
    return woken;
}

/* any OS thread, lock held: dequeue up to n waiters on key; those of the
 * calling worker (me, NULL on other OS threads) go on its run queue, the
 * others to their worker's remote list (its bit is set in *remote) */
static int wake_locked(struct bucket *bk, const void *key, int n, struct gp_worker *me, uint64_t *remote)
{
    struct gp_list *b = &bk->q;
    int woke = 0;
    for (struct gp_list *l = b->next, *next; l != b && woke < n; l = next) {
        next = l->next;
        struct swait *sw = gp_container(l, struct swait, link);
        if (key && sw->key != key) continue; /* key NULL: every waiter in the bucket */
        dequeue(sw);
        struct gp_worker *home = sw->g->home;
        if (home == me) {
            gp__ready(sw->g, 0);
        } else {
            gp_list_push(&home->remote_ready, &sw->remote);
            __atomic_store_n(&home->remote_pending, 1, __ATOMIC_RELEASE);
            *remote |= 1ull << home->index;
        }
        woke++;
    }
    return woke;
}

/* signal-safe (any OS thread): a handler's wake. It may have interrupted
 * code holding the lock or in the middle of the run queue, so it touches
 * neither: it posts the key to a free slot (or, all slots taken, asks for
 * every waiter to be woken) and wakes the worker, which drains the posts
 * (gp__sync_drain_remote). The drain wakes every waiter on a posted key:
 * wake-ups may be spurious, and a slot carries no count. Ordering: the slot
 * CAS and the pending flag are seq_cst, the drain exchanges the flag before
 * it reads the slots: a post after the drain's exchange sets the flag again
 * and uv_async_send brings another drain. */
static void wake_from_handler(const void *key)
{
    int posted = 0;
    for (int i = 0; i < SIGQ && !posted; i++) {
        const void *cur = __atomic_load_n(&sigq[i], __ATOMIC_SEQ_CST);
        if (cur == key) posted = 1; /* already posted: its drain comes after our change */
        else if (!cur && __atomic_compare_exchange_n(&sigq[i], &cur, key, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
            posted = 1;
    }
    if (!posted) __atomic_store_n(&sigq_overflow, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&sigq_pending, 1, __ATOMIC_SEQ_CST);
    struct gp_worker *w = gp__w; /* main's worker drains the posts */
    if (w) gp__async_send(&w->async); /* async-signal-safe */
}

/* any OS thread, after dropping the lock: wake the workers whose remote
 * lists wake_locked filled */
static void send_remote(uint64_t remote)
{
    for (int i = 0; remote; i++, remote >>= 1)
        if (remote & 1) gp__async_send(&gp__workers[i]->async);
}

/* scheduler context of worker w: move what other threads and signal
 * handlers woke onto the run queue */
void gp__sync_drain_remote(struct gp_worker *w)
{
    if (!__atomic_load_n(&inited, __ATOMIC_ACQUIRE)) return;
    uint64_t remote = 0;
    if (__atomic_exchange_n(&sigq_pending, 0, __ATOMIC_SEQ_CST)) {
        int all = __atomic_exchange_n(&sigq_overflow, 0, __ATOMIC_SEQ_CST);
        lock();
        for (int i = 0; i < SIGQ; i++) {
            const void *key = __atomic_exchange_n(&sigq[i], NULL, __ATOMIC_SEQ_CST);
            if (key && !all) wake_locked(bucket(key), key, INT_MAX, w, &remote);
        }
        for (int i = 0; all && i < BUCKETS; i++) wake_locked(&buckets[i], NULL, INT_MAX, w, &remote);
        unlock();
        send_remote(remote);
    }
    /* the flag is set under the lock with each push and cleared under it
     * here; a stale 0 is corrected by that waker's uv_async_send */
    if (!__atomic_load_n(&w->remote_pending, __ATOMIC_ACQUIRE)) return;
    lock();
    __atomic_store_n(&w->remote_pending, 0, __ATOMIC_RELAXED);
    struct gp_list *n;
    while ((n = gp_list_pop(&w->remote_ready))) {
        struct swait *sw = gp_container(n, struct swait, remote);
        gp__ready(sw->g, 0);
    }
    unlock();
}

/* any thread, signal-safe from a handler run through the shim's trampoline
 * (gp__tls.in_handler): wake up to n gthreads waiting on key; returns how
 * many were taken off the queue (0 from a handler: its wake is deferred). */
int gp_sync_wake(const void *key, int n)
{
    struct bucket *b = bucket(key);
    /* The waker's half of the Dekker pair (see queue()): the caller changed
     * the object before this seq_cst RMW; a plain load here could be
     * satisfied before that store is visible, and miss a waiter that has
     * just queued and then read the unchanged object. */
    if (!__atomic_fetch_add(&b->nwaiting, 0, __ATOMIC_SEQ_CST)) return 0;
    if (GP_UNLIKELY(gp__tls.in_handler)) {
        wake_from_handler(key);
        return 0;
    }
    init_once();
    uint64_t remote = 0;
    lock();
    int woke = wake_locked(b, key, n, GP_ME(), &remote);
    unlock();
    send_remote(remote);
    return woke;
}

/* gthread only: a waiter that was dequeued by a wake but returns without
 * the object hands the wake to the next waiter (spurious if there is none
 * that needs it) */
static void pass_on(const void *key) { gp_sync_wake(key, 1); }

static int sync_wait(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns);
static int wait_for_wake(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns);

/* gthread only */
int gp_sync_wait(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns)
{
    struct gp_gthread *g = gp__call_begin();
    int r = intr & GP_WAKE_ENDS ? wait_for_wake(key, try, ctx, dl, intr, poll_ns)
                                : sync_wait(key, try, ctx, dl, intr, poll_ns);
    gp__call_end(g);
    return r;
}

static int sync_wait(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns)
{
    init_once();
    struct swait sw = {.key = key, .g = GP_ME()->cur};
    gp_list_init(&sw.remote);
    for (;;) {
        lock();
        queue(&sw);
        unlock();
        int r = try(ctx); /* after queue()'s seq_cst RMW: see there */
        gp_deadline pdl = dl;
        if (r == -EAGAIN && poll_ns > 0) { /* a waker we may not hear: look again soon */
            gp_deadline soon = gp_after_ns(poll_ns);
            if (pdl < 0 || soon < pdl) pdl = soon;
        }
        int w = r == -EAGAIN ? gp__park("sync", pdl, intr) : 0;
        int woken = unqueue(&sw);
        if (w == -ECANCELED) { /* intr & GP_INTR_CANCEL: sem_wait */
            if (woken) pass_on(key); /* a wake it took after the cancel readied it */
            if (intr & GP_CANCEL_RETURN) return -ECANCELED;
            gp__cancel_exit();
        }
        if (r != -EAGAIN) {
            /* got the object (or an error) on the try: a wake that raced in
             * between was meant for someone still waiting */
            if (woken && r != 0) pass_on(key);
            return r;
        }
        if (w == -EINTR) {
            if (woken) pass_on(key);
            return -EINTR;
        }
        if (w == -ETIMEDOUT && dl >= 0 && gp_now() >= dl) {
            if (try(ctx) == 0) return 0;
            if (woken) pass_on(key);
            return -ETIMEDOUT;
        }
    }
}

/* gthread only, lock not held: is sw still queued (no waker took it)? */
static int still_queued(struct swait *sw)
{
    lock();
    int q = sw->queued;
    unlock();
    return q;
}

/* gthread only. A wait that a wake ends (GP_WAKE_ENDS: the futex's): as the
 * kernel's FUTEX_WAKE wakes the waiters it counts whether or not anyone
 * changed the word, a waker that takes this waiter off the queue ends the
 * wait with 0, whatever try would say now. So the waiter stays queued from
 * its first try until it returns, through the looks every poll_ns (for a
 * change nobody woke it for): no moment in which a wake could pass it by.
 * A wake taken while the first try already said "not waiting" (the word
 * differed, -EALREADY) also returns 0: the waker counted it, and the caller
 * looks at its word again either way; only an error (-EFAULT) returns its
 * error and passes the wake on. Not a cancellation point (no futex wait
 * is). */
static int wait_for_wake(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns)
{
    init_once();
    struct swait sw = {.key = key, .g = GP_ME()->cur};
    gp_list_init(&sw.remote);
    lock();
    queue(&sw);
    unlock();
    int r = try(ctx); /* after queue()'s seq_cst RMW: see there */
    while (r == -EAGAIN) {
        gp_deadline pdl = dl;
        if (poll_ns > 0) {
            gp_deadline soon = gp_after_ns(poll_ns);
            if (pdl < 0 || soon < pdl) pdl = soon;
        }
        int w = gp__park("sync", pdl, intr & GP_INTR_MASK);
        if (!still_queued(&sw)) break; /* woken: below */
        if (w == -EINTR) r = -EINTR;
        else if (w == -ETIMEDOUT && dl >= 0 && gp_now() >= dl) r = try(ctx) == 0 ? 0 : -ETIMEDOUT;
        else r = try(ctx); /* a poll, or a spurious ready: look again, still queued */
    }
    if (unqueue(&sw)) { /* a waker counted it */
        if (r == 0 || r == -EAGAIN || r == -EALREADY || r == -EINTR || r == -ETIMEDOUT) return 0;
        pass_on(key);
    }
    return r;
}

/* gthread only */
int gp_cond_wait(const void *key, void (*release)(void *ctx), int (*reacquire)(void *ctx), void *ctx, gp_deadline dl)
{
    init_once();
    struct swait sw = {.key = key, .g = GP_ME()->cur};
    gp_list_init(&sw.remote);
    lock();
    queue(&sw);
    unlock();
    release(ctx); /* queued first: a signal after the unlock finds us */
    int w = gp__park("pthread_cond_wait", dl, GP_NOINTR | GP_CANCELPT);
    /* Dequeued by a signal or broadcast: this waiter consumed it, so it
     * returns 0 even if its timer fired first (-ETIMEDOUT), as glibc does
     * when a signal and the deadline race. Returning ETIMEDOUT would lose
     * the signal: the waker counted it delivered and another waiter, still
     * queued, would sleep on. */
    int woken = unqueue(&sw);
    int r = reacquire(ctx);
    if (w == -ECANCELED) { /* with the mutex held again, as glibc */
        if (woken) pass_on(key); /* it took a signal too: pass it on */
        gp__cancel_exit();
    }
    if (r != 0) return r;
    return w == -ETIMEDOUT && !woken ? -ETIMEDOUT : 0;
}

/* the child after fork (its only thread) */
void gp__sync_fork_reset(void)
{
    /* only the forking gthread survives: no waiter is left anywhere */
    lock_word = 0;
    memset(buckets, 0, sizeof buckets);
    memset(sigq, 0, sizeof sigq);
    sigq_pending = sigq_overflow = 0;
    inited = 0;
}

/* ---- write holders, per gthread --------------------------------------------
 * glibc records an rwlock's writer as an OS thread id, and the gthreads of a
 * worker share one: the shim asks here which gthread write-holds the lock.
 * Each gthread lists what it write-holds (rarely more than one object, so a
 * short array searched from its end, most recent first). A gthread changes
 * only its own list, under the record lock, because main's question below
 * reads every gthread's, and with several workers those run meanwhile. */
static const void **owned(struct gp_gthread *g) { return g->owned_heap ? g->owned_heap : g->owned_in; }

/* gthread only */
int gp_owner_note(const void *obj)
{
    struct gp_gthread *g = GP_ME()->cur;
    unsigned cap = g->owned_heap ? g->owned_cap : GP_OWNED_IN;
    const void **t = NULL, **old = NULL;
    if (g->owned_n == cap && !(t = malloc(2 * cap * sizeof *t))) return -ENOMEM;
    gp__rec_lock();
    if (t) {
        memcpy(t, owned(g), g->owned_n * sizeof *t);
        old = g->owned_heap;
        g->owned_heap = t;
        g->owned_cap = 2 * cap;
    }
    owned(g)[g->owned_n++] = obj;
    gp__rec_unlock();
    free(old);
    return 0;
}

static int owns(struct gp_gthread *g, const void *obj)
{
    const void **o = owned(g);
    for (unsigned i = g->owned_n; i-- > 0;)
        if (o[i] == obj) return (int)i;
    return -1;
}

/* gthread only */
void gp_owner_forget(const void *obj)
{
    struct gp_gthread *g = GP_ME()->cur;
    int i = owns(g, obj);
    if (i < 0) return;
    gp__rec_lock();
    const void **o = owned(g);
    o[i] = o[--g->owned_n];
    gp__rec_unlock();
}

/* gthread only */
int gp_owner_holds(const void *obj, int libc_owner)
{
    struct gp_worker *w = GP_ME();
    if (owns(w->cur, obj) >= 0) return 1;
    if (w->cur != gp__w->g0 || libc_owner != gp_os_tid()) return 0;
    /* libc says this OS thread's: some gthread of ours (with own TLS every
     * gthread's block shows glibc main's id, on any worker), or main from
     * before there were gthreads (nobody noted it then) */
    int other = 0;
    gp__rec_lock();
    for (struct gp_list *n = gp__w->all.next; n != &gp__w->all && !other; n = n->next)
        other = owns(gp_container(n, struct gp_gthread, all), obj) >= 0;
    gp__rec_unlock();
    return !other;
}

/* any gthread: does some gthread of ours list obj (it holds it, wherever
 * it is: running, parked, away)? The slow path of a contended lock only. */
int gp_owner_anyone(const void *obj)
{
    int any = 0;
    gp__rec_lock();
    for (struct gp_list *n = gp__w->all.next; n != &gp__w->all && !any; n = n->next)
        any = owns(gp_container(n, struct gp_gthread, all), obj) >= 0;
    gp__rec_unlock();
    return any;
}

/* gthread only (the exiting one): it may exit holding locks, as under glibc
 * they stay held; its list goes */
void gp__owner_drop(struct gp_gthread *g)
{
    gp__rec_lock();
    const void **old = g->owned_heap;
    g->owned_heap = NULL;
    g->owned_n = g->owned_cap = 0;
    gp__rec_unlock();
    free(old);
}

/* ---- thread-specific data, per gthread ------------------------------------
 * A key number comes back after pthread_key_delete: the next create may hand
 * it out again. As glibc, each key has a sequence number (odd: in use, even:
 * deleted, 0: never seen here, e.g. made through an alias we do not hook,
 * which then works as before), bumped by every create and delete; a value is
 * stored with the number it was set under and counts only while that is
 * still the key's. So a new key reads NULL in every gthread, even one that
 * had set the old key, and its destructor never sees the old key's values
 * (which the program may have freed after the delete).
 * Any thread: create and delete publish the destructor before the number
 * (release), the readers load the number first (acquire); a delete racing a
 * thread's use of the same key is the program's race, as in glibc. */
#define KEYS_MAX 1024
static void (*dtors[KEYS_MAX])(void *);
static unsigned key_seq[KEYS_MAX];

/* any thread: the real pthread_key_create gave out key */
void gp_key_created(unsigned key, void (*dtor)(void *))
{
    if (key >= KEYS_MAX) return;
    __atomic_store_n(&dtors[key], dtor, __ATOMIC_RELAXED);
    unsigned s = __atomic_load_n(&key_seq[key], __ATOMIC_RELAXED);
    __atomic_store_n(&key_seq[key], s + (s & 1 ? 2 : 1), __ATOMIC_RELEASE); /* odd: in use */
}

/* any thread: the real pthread_key_delete took key back */
void gp_key_deleted(unsigned key)
{
    if (key >= KEYS_MAX) return;
    unsigned s = __atomic_load_n(&key_seq[key], __ATOMIC_RELAXED);
    __atomic_store_n(&key_seq[key], s + (s & 1 ? 1 : 2), __ATOMIC_RELEASE); /* even, never 0 */
    __atomic_store_n(&dtors[key], NULL, __ATOMIC_RELAXED);
}

static unsigned seq_of(unsigned key) { return __atomic_load_n(&key_seq[key], __ATOMIC_ACQUIRE); }

/* gthread only */
/* the gthread whose keys these are: the worker's current one, or one a
 * hand-off left away, inside a signal handler (gp_away_self); only that
 * gthread itself touches its values */
static struct gp_gthread *tsd_owner(void)
{
    return GP_ME() ? GP_ME()->cur : gp__tls.evicted;
}

void *gp_tsd_get(unsigned key)
{
    struct gp_gthread *g = tsd_owner();
    if (key >= g->tsd_n) return NULL;
    struct gp_tsd *t = &g->tsd[key];
    return t->seq == seq_of(key) ? t->v : NULL;
}

/* gthread only */
int gp_tsd_set(unsigned key, const void *v)
{
    struct gp_gthread *g = tsd_owner();
    if (key >= KEYS_MAX) return -EINVAL;
    unsigned seq = seq_of(key);
    if (seq && !(seq & 1)) return -EINVAL; /* deleted */
    if (key >= g->tsd_n) {
        unsigned n = g->tsd_n ? g->tsd_n : 8;
        while (n <= key) n *= 2;
        struct gp_tsd *t = realloc(g->tsd, n * sizeof *t);
        if (!t) return -ENOMEM;
        memset(t + g->tsd_n, 0, (n - g->tsd_n) * sizeof *t);
        g->tsd = t;
        g->tsd_n = n;
    }
    g->tsd[key] = (struct gp_tsd){(void *)v, seq};
    return 0;
}

/* at gthread exit, as glibc: up to PTHREAD_DESTRUCTOR_ITERATIONS rounds; a
 * value set under an older generation of its key is dropped unseen */
void gp__tsd_run_dtors(struct gp_gthread *g)
{
    for (int round = 0; round < 4 && g->tsd; round++) {
        int any = 0;
        for (unsigned k = 0; k < g->tsd_n; k++) {
            struct gp_tsd *t = &g->tsd[k];
            void *v = t->v;
            if (!v) continue;
            t->v = NULL;
            if (t->seq != seq_of(k)) continue;
            void (*dtor)(void *) = __atomic_load_n(&dtors[k], __ATOMIC_RELAXED);
            if (dtor) {
                dtor(v);
                any = 1;
            }
        }
        if (!any) break;
    }
    /* unhooked from the thread before it is freed: the free may read a key */
    struct gp_tsd *t = g->tsd;
    g->tsd = NULL;
    g->tsd_n = 0;
    free(t);
}
