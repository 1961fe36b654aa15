/* sigthread.c — a green thread's signals: its own mask, which signal the
 * next handler on the worker interrupts the call of, and the signals sent to
 * it alone that it blocks or waits for in sigwait, which the runtime keeps
 * for it as the kernel keeps an OS thread's (the essay below). The shim
 * (shim/signal.c, shim/thread.c) makes the calls; this file keeps the
 * records, under the record lock. */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int exited(struct gp_gthread *g) { return gp__gthread_exited(g); }

/* any OS thread: the next signal handled on the worker interrupts h's call.
 * A relaxed store: the pthread_kill system call that follows orders it
 * before the handler, which is what reads it (through gp__signals). */
int gp_thread_prefer_signal(uintptr_t h)
{
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    int r = !g || exited(g) ? -ESRCH : 0;
    if (!r) __atomic_store_n(&gp__w->sig_target, g, __ATOMIC_RELAXED);
    gp__rec_unlock();
    return r;
}

/* ---- a signal sent to one green thread --------------------------------------
 * The kernel keeps a thread-directed signal that its target blocks pending
 * for that thread alone, until it sigwaits for it, unblocks it or exits. Left
 * to the kernel, a signal sent to a green thread would pend on the OS thread
 * it was sent to (worker 0's, main's, whose mask is not the target's), where
 * a sigwait on another worker never sees it, another green thread's sigwait
 * may take it, and a handler runs at once if main lets it through. So the
 * runtime keeps it instead, in the target's sig_pend (bits) with the
 * sender's details in sig_info, whenever the target (not main: main's mask
 * and pending set are the OS thread's own) blocks it in its own mask or
 * waits for it in sigwait (gp_thread_sigwaiting, before its first attempt).
 *
 * Who touches what: the sender (any OS thread, never a signal handler)
 * decides and keeps under the record lock; sig_info is allocated outside
 * it, by whoever finds it missing, and installed under it. The target takes
 * its kept signals under the lock: in sigwait (gp_thread_sig_take), when its
 * mask lets one through (gp_thread_sig_take_unblocked: the shim then
 * delivers it to its handler on this OS thread), at exit (gp__thread_dying:
 * gone with it, as an OS thread's; a forked child starts with none). A mask
 * change that unblocks takes the lock too: a sender that read the old mask
 * has kept its signal before the change, and the caller's take that follows
 * finds it (the shim follows every change of a green thread's mask with
 * one: pthread_sigmask, and the waits that bring a mask of their own); one
 * that reads the new mask sends it the usual way (worker 0's OS thread,
 * whose handler interrupts the target). A sigwait says it waits before it
 * looks at what was kept, so a sender in between keeps and pokes, and the
 * look or the poke finds it. A sigwait is woken through its worker's inbox
 * (GP_X_POKE). Standard and real-time signals alike are kept once per
 * number (stock queues real-time ones). */
struct gp_siginfo { int code, pid; unsigned uid; union sigval value; };

/* under the record lock: does g keep sig (it waits for it in sigwait, or,
 * unless waiting_only, blocks it)? Not while g's calls go straight to the
 * kernel (it alone is alive, or it holds a lock glibc keeps): a sigwait of
 * its then waits in the kernel, which would never see a kept signal. */
static int keeps(struct gp_gthread *g, int sig, int waiting_only)
{
    uint64_t bit = 1ull << (sig - 1);
    if (g->sigwaiting && (g->sigwait_set & bit)) return 1;
    if (waiting_only || __atomic_load_n(&gp__nlive, __ATOMIC_RELAXED) < 2 ||
        __atomic_load_n(&g->foreign, __ATOMIC_RELAXED))
        return 0;
    return (__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & bit) != 0;
}

/* any OS thread, never a signal handler: keep sig for h if h waits for it
 * in sigwait now, or (unless waiting_only) blocks it: 1 (kept for h), 0
 * (send it the usual way: h lets it through, or is main), -ESRCH (gone),
 * -ENOMEM (no room for its details: sent the usual way). A standard signal
 * already kept keeps its first sender's details, as the kernel's. */
int gp_thread_sig_post(uintptr_t h, int sig, const siginfo_t *si, int waiting_only)
{
    struct gp_siginfo *spare = NULL;
    int r;
    struct gp_worker *home = NULL;
    struct gp_gthread *woken = NULL;
    int id = 0;
    for (;;) {
        gp__rec_lock();
        struct gp_gthread *g = gp__gthread_from_handle(h);
        r = !g || exited(g) ? -ESRCH : 0;
        if (!r && g != gp__w->g0 && sig >= 1 && sig <= 64 && keeps(g, sig, waiting_only)) {
            if (!g->sig_info && spare) g->sig_info = spare, spare = NULL;
            if (g->sig_info) {
                uint64_t bit = 1ull << (sig - 1);
                if (!(__atomic_load_n(&g->sig_pend, __ATOMIC_RELAXED) & bit))
                    g->sig_info[sig - 1] = (struct gp_siginfo){si->si_code, si->si_pid, si->si_uid, si->si_value};
                __atomic_or_fetch(&g->sig_pend, bit, __ATOMIC_RELAXED);
                r = 1;
                if (g->sigwaiting) home = __atomic_load_n(&g->home, __ATOMIC_ACQUIRE), woken = g, id = g->id;
            } else {
                r = 2; /* room first, outside the lock */
            }
        }
        gp__rec_unlock();
        if (r != 2) break;
        if (!(spare = calloc(64, sizeof *spare))) return -ENOMEM;
    }
    free(spare);
    if (home) gp__xpost(home, woken, id, GP_X_POKE, 0); /* its worker readies it, if it still waits */
    return r;
}

/* the details kept for sig (taken off under the record lock) into info */
static void fill_info(siginfo_t *info, int sig, struct gp_siginfo k)
{
    memset(info, 0, sizeof *info);
    info->si_signo = sig;
    info->si_code = k.code;
    info->si_pid = k.pid;
    info->si_uid = k.uid;
    info->si_value = k.value;
}

/* under the record lock: take the lowest kept signal of bits off g */
static int take_locked(struct gp_gthread *g, uint64_t bits, struct gp_siginfo *k)
{
    uint64_t m = __atomic_load_n(&g->sig_pend, __ATOMIC_RELAXED) & bits;
    if (!m) return 0;
    int sig = __builtin_ctzll(m) + 1;
    __atomic_and_fetch(&g->sig_pend, ~(1ull << (sig - 1)), __ATOMIC_RELAXED);
    *k = g->sig_info[sig - 1];
    return sig;
}

/* gthread only: take the lowest kept signal of set (bits) into info (may be
 * NULL); the signal, or 0 */
int gp_thread_sig_take(uint64_t set, siginfo_t *info)
{
    struct gp_gthread *g = GP_ME()->cur;
    if (!(__atomic_load_n(&g->sig_pend, __ATOMIC_RELAXED) & set)) return 0; /* the common case: no lock */
    struct gp_siginfo k;
    gp__rec_lock();
    int sig = take_locked(g, set, &k);
    gp__rec_unlock();
    if (sig && info) fill_info(info, sig, k);
    return sig;
}

/* gthread only: take the lowest kept signal its own mask now lets through
 * (the caller delivers it to its handler); the signal, or 0 */
int gp_thread_sig_take_unblocked(siginfo_t *info)
{
    struct gp_gthread *g = GP_ME()->cur;
    if (!__atomic_load_n(&g->sig_pend, __ATOMIC_RELAXED)) return 0;
    struct gp_siginfo k;
    gp__rec_lock();
    int sig = take_locked(g, ~g->sigmask, &k);
    gp__rec_unlock();
    if (sig) fill_info(info, sig, k);
    return sig;
}

/* gthread only: the signals kept for it (sigpending's share) */
uint64_t gp_thread_sig_kept(void)
{
    return __atomic_load_n(&GP_ME()->cur->sig_pend, __ATOMIC_RELAXED);
}

/* gthread only: the calling gthread waits in sigwait for set (bits), or no
 * longer (set 0). -ENOMEM when the details of a kept signal have no room. */
int gp_thread_sigwaiting(uint64_t set)
{
    struct gp_gthread *g = GP_ME()->cur;
    struct gp_siginfo *spare = NULL;
    if (set && !__atomic_load_n(&g->sig_info, __ATOMIC_RELAXED) && !(spare = calloc(64, sizeof *spare)))
        return -ENOMEM;
    gp__rec_lock();
    if (!g->sig_info && spare) g->sig_info = spare, spare = NULL;
    g->sigwaiting = set != 0;
    g->sigwait_set = set;
    gp__rec_unlock();
    free(spare);
    return 0;
}
/* any gthread: what every sigwait in progress, on any worker, waits for */
uint64_t gp_sigwait_all(void)
{
    uint64_t m = 0;
    gp__rec_lock();
    for (struct gp_list *n = gp__w->all.next; n != &gp__w->all; n = n->next) {
        struct gp_gthread *o = gp_container(n, struct gp_gthread, all);
        if (o->sigwaiting) m |= o->sigwait_set;
    }
    gp__rec_unlock();
    return m;
}

int gp_thread_sigmask(int how, const uint64_t *set, uint64_t *old)
{
    struct gp_gthread *g = GP_ME()->cur;
    uint64_t m = g->sigmask;
    if (set) {
        if (how == SIG_BLOCK) m |= *set;
        else if (how == SIG_UNBLOCK) m &= ~*set;
        else if (how == SIG_SETMASK) m = *set;
        else return -EINVAL;
    }
    if (old) *old = g->sigmask;
    /* SIGKILL and SIGSTOP cannot be blocked */
    m &= ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
    if (g->sigmask & ~m) { /* it unblocks: ordered with senders (see above) */
        gp__rec_lock();
        __atomic_store_n(&g->sigmask, m, __ATOMIC_RELAXED);
        gp__rec_unlock();
    } else { /* a sender that reads the old mask sends it the usual way */
        __atomic_store_n(&g->sigmask, m, __ATOMIC_RELAXED);
    }
    return 0;
}
