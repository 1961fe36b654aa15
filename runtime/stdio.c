/* stdio.c — a stream locked with flockfile stays locked across a park.
 *
 * glibc's stream lock is a recursive lock owned by a thread pointer, taken
 * inside every stdio call. A green thread that locks a stream (flockfile)
 * and then blocks (a write on a pipe, a sleep) parks holding it. Another
 * green thread that prints on that stream meanwhile would, with its own
 * TLS, wait for glibc's lock in the kernel (a futex no hook sees) and block
 * the worker, so the holder never runs again: a deadlock. With shared TLS
 * it would find the lock already its own (one thread pointer for all) and
 * print into the middle of the holder's output.
 *
 * So a green thread's flockfile first takes a gate of ours for the stream,
 * parking while another green thread holds it, and the shim's stdio hooks
 * (printf, puts, fwrite, fflush, fgets...) wait at the gate before glibc's
 * code takes its lock. glibc's lock is then only ever contended by OS
 * threads, as stock. The gates are few (streams locked explicitly at one
 * time): a small table; gp__files_held is its count, which the hooks read
 * first (0: nothing to wait for).
 */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define HELD_MAX 64
/* owner NULL: main, which locked the stream before the runtime started (it
 * is then the worker's main gthread, g0) */
struct held { const void *fp; struct gp_gthread *owner; int depth; };
static struct held held[HELD_MAX];
int gp__files_held;
static int hlock;

/* any thread: the table's lock (held for a few loads and stores, never across a park) */
static void hl(void)
{
    while (__atomic_exchange_n(&hlock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&hlock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void hu(void) { __atomic_store_n(&hlock, 0, __ATOMIC_RELEASE); }

/* any thread that gated(): the caller, a gthread, or NULL for main before the
 * runtime started */
static struct gp_gthread *me(void) { return GP_ME() ? GP_ME()->cur : NULL; }
static int mine(const struct held *h, struct gp_gthread *m)
{
    return h->owner == m || (!h->owner && gp__w && m == gp__w->g0);
}

/* any thread, under hl() */
static struct held *find(const void *fp)
{
    for (int i = 0; i < gp__files_held; i++)
        if (held[i].fp == fp) return &held[i];
    return NULL;
}

/* any thread: the key gthreads wait on for a stream (odd: never a sync
 * object's), and the key of those waiting for every stream (fflush(NULL)) */
static const void *key(const void *fp) { return (const char *)fp + 1; }
static const void *any_key(void) { return &gp__files_held; }

/* gates held by main before the runtime started (owner NULL), under hl() */
static int held_by_main_before;

/* Signal-safe, on g's own OS thread (preempt.c): does g hold a stream's
 * lock (flockfile)? glibc's lock is then held in the program's own code,
 * and preempting it there lets another green thread of its worker at the
 * stream through the stdio calls no gate covers (feof, ferror, the wide
 * ones, fclose...): with shared TLS glibc takes it for the holder (one
 * thread pointer) and goes in, with own TLS it waits in the kernel and
 * stops the worker. Such a holder is not preempted, as before preemption
 * (rel_preempt_flockfile). */
int gp__holds_stream(const struct gp_gthread *g)
{
    return __atomic_load_n(&g->streams, __ATOMIC_RELAXED) > 0 ||
           (gp__w && g == gp__w->g0 && __atomic_load_n(&held_by_main_before, __ATOMIC_RELAXED) > 0);
}

/* gthread only, a gp_sync_wait try: take fp's gate, or -EAGAIN */
static int take(void *fp)
{
    struct gp_gthread *m = me();
    int r = 0;
    hl();
    struct held *h = find(fp);
    if (h && !mine(h, m)) {
        r = -EAGAIN;
    } else if (h) {
        h->depth++;
    } else if (gp__files_held < HELD_MAX) {
        held[gp__files_held] = (struct held){fp, m, 1};
        if (m) m->streams++;
        else held_by_main_before++;
        /* release: a hook that reads the count without the lock sees the entry */
        __atomic_store_n(&gp__files_held, gp__files_held + 1, __ATOMIC_RELEASE);
    } /* else: more than HELD_MAX streams locked at once: this one goes ungated */
    hu();
    return r;
}

/* gthread only, a gp_sync_wait try: 0 when no other gthread holds fp's gate
 * (fp NULL: any gate) */
static int free_for_me(void *fp)
{
    struct gp_gthread *m = me();
    int r = 0;
    hl();
    for (int i = 0; i < gp__files_held; i++)
        if ((!fp || held[i].fp == fp) && !mine(&held[i], m)) r = -EAGAIN;
    hu();
    return r;
}

/* any thread: is it a gthread, outside a signal handler (a handler must not
 * park)? A gthread a hand-off left on its OS thread comes back to its worker
 * first (gp_is_current_gthread): it is a gthread all the same, and the gate
 * it holds must open when it unlocks (an unlock that took it for an OS
 * thread left the gate shut for good, and the next printf parked forever) */
static int on_gthread(void) { return !gp__tls.in_handler && gp_is_current_gthread(); }
/* any thread: may it own a gate? a gthread, or main before the runtime starts */
static int gated(void) { return gp__w ? on_gthread() : gp_can_spawn(); }

/* any thread (those not gated() return 0 at once): flockfile's gate, parked
 * for while another gthread holds it; trylock: -EBUSY instead of waiting.
 * Before the runtime starts nobody else can hold one: main takes it at once. */
int gp_file_lock(void *fp, int trylock)
{
    if (!gated()) return 0;
    if (!gp__w) return take(fp);
    if (trylock) return take(fp) ? -EBUSY : 0;
    return gp_sync_wait(key(fp), take, fp, GP_FOREVER, 0, 0);
}

/* any thread (those not gated() do nothing): funlockfile's; the last unlock
 * opens the gate and wakes who waits at it */
void gp_file_unlock(void *fp)
{
    if (!gated()) return;
    struct gp_gthread *m = me();
    int open = 0;
    hl();
    struct held *h = find(fp);
    if (h && mine(h, m) && --h->depth == 0) {
        if (h->owner) h->owner->streams--;
        else held_by_main_before--;
        *h = held[gp__files_held - 1];
        __atomic_store_n(&gp__files_held, gp__files_held - 1, __ATOMIC_RELEASE);
        open = 1;
    }
    hu();
    /* gp_sync_wake's seq_cst RMW orders the removal above before its look
     * at the waiters (the Dekker pair with gp_sync_wait's queue-then-try) */
    if (open && gp__w) {
        gp_sync_wake(key(fp), INT_MAX);
        gp_sync_wake(any_key(), INT_MAX);
    }
}

/* any thread (only a gthread waits; others return at once): a stdio call on
 * fp (NULL: on every stream) waits while another gthread holds its gate */
/* any thread: does the calling gthread hold fp's gate (flockfile)? */
int gp_file_mine(void *fp)
{
    if (!gp__w || !on_gthread() || !gp_files_held()) return 0;
    hl();
    struct held *h = find(fp);
    int r = h && mine(h, me());
    hu();
    return r;
}

void gp_file_wait(void *fp)
{
    if (!on_gthread()) return;
    gp_sync_wait(fp ? key(fp) : any_key(), free_for_me, fp, GP_FOREVER, 0, 0);
}

/* the child of a fork, in its only thread. Stock, glibc's fork unlocks every
 * stream in the child of a process with threads; under gpatch the child was
 * seen (glibc 2.36) to find a stream as another green thread held it across a
 * park, locked for good (tls_stdio's fork round hung). The streams gated here
 * are exactly those: their lock is unlocked as glibc unlocks it (its
 * _IO_lock_t: lock word, count, owner, all zero). */
void gp__files_fork_reset(void)
{
    for (int i = 0; i < gp__files_held; i++) {
        FILE *f = (FILE *)held[i].fp;
        if (f->_lock && !(f->_flags & 0x8000 /* _IO_USER_LOCK: the caller's own locking */))
            memset(f->_lock, 0, 2 * sizeof(int) + sizeof(void *));
    }
    __atomic_store_n(&gp__files_held, 0, __ATOMIC_RELAXED);
    held_by_main_before = 0;
    __atomic_store_n(&hlock, 0, __ATOMIC_RELAXED);
}
