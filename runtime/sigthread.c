/* sigthread.c — a green thread's signals: its own mask, which signal the
 * next handler on the worker interrupts the call of, and the signals sent to
 * it alone that it blocks or waits for in sigwait, which the runtime keeps
 * for it as the kernel keeps an OS thread's (the essay below). The shim
 * (shim/signal.c, shim/thread.c) makes the calls; this file keeps the
 * records, under the record lock. */
#include "internal.h"
#include "real.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static int exited(struct gp_gthread *g) { return gp__gthread_exited(g); }
static void catcher_recheck(void);
static void catcher_poke(void);
static uint64_t catcher_never(void);
static uint64_t sig_handled; /* the signals with a handler of the program's (the shim's trampoline): gp_thread_sig_handled */
static uint64_t catcher_lets; /* what the catcher's real mask lets in now: a hint for the cheap check (below) */

/* the green thread whose code runs on this OS thread now: one a hand-off
 * left here, or its worker's current one (NULL: the scheduler, or no worker) */
static struct gp_gthread *running_here(void)
{
    if (gp__tls.evicted) return gp__tls.evicted;
    struct gp_worker *w = GP_ME();
    return w && w->cur != &w->sched ? w->cur : NULL;
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

/* ---- a process signal nobody lets in ------------------------------------
 * The kernel keeps a process signal that every thread blocks pending for
 * the process: the first thread that unblocks it, or sigwaits for it, takes
 * it. The route (gp__signal_route) keeps such a one for main (main's
 * pending set is the OS thread's, and main runs it once it unblocks it);
 * main_routed marks which of main's kept signals are these, so that a green
 * thread that lets one in first, or waits for it, takes it from main
 * (adopt_locked), as the kernel would give it to that thread. Else a signal
 * sent while the thread that handles it was still starting (created with
 * main's mask, about to unblock it) waited for main, which never unblocks it,
 * and the sender that waited for the handler's post waited for good. Under
 * the record lock; a bit is cleared when main takes the signal. */
static uint64_t main_routed;

/* under the record lock: a live green thread but main lets bit in, or
 * sigwaits for it */
static int someone_lets_in_locked(uint64_t bit)
{
    struct gp_gthread *g0 = gp__w->g0;
    for (struct gp_list *n = gp__w->all.next; n != &gp__w->all; n = n->next) {
        struct gp_gthread *g = gp_container(n, struct gp_gthread, all);
        if (g == g0 || exited(g) || g->leaving) continue;
        if (!(__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & bit) || (g->sigwaiting && (g->sigwait_set & bit)))
            return 1;
    }
    return 0;
}

/* under the record lock, g not main: the process signals of bits kept for
 * main while main blocks them become g's (kept for g, details and all).
 * 1 when there are some and g has no room for their details yet (the
 * caller makes it outside the lock and comes again), else 0. */
static int adopt_locked(struct gp_gthread *g, uint64_t bits)
{
    struct gp_gthread *g0 = gp__w ? gp__w->g0 : NULL;
    if (!g0 || g == g0 || !g0->sig_info) return 0;
    uint64_t m = main_routed & bits & __atomic_load_n(&g0->sig_pend, __ATOMIC_RELAXED) &
                 __atomic_load_n(&g0->sigmask, __ATOMIC_RELAXED);
    if (m && !g->sig_info) return 1;
    while (m) {
        int sig = __builtin_ctzll(m) + 1;
        uint64_t bit = 1ull << (sig - 1);
        m &= m - 1;
        if (!(__atomic_load_n(&g->sig_pend, __ATOMIC_RELAXED) & bit)) g->sig_info[sig - 1] = g0->sig_info[sig - 1];
        __atomic_or_fetch(&g->sig_pend, bit, __ATOMIC_RELAXED);
        __atomic_and_fetch(&g0->sig_pend, ~bit, __ATOMIC_RELAXED);
        main_routed &= ~bit;
    }
    return 0;
}

/* under the record lock: does g keep sig (it waits for it in sigwait, or,
 * unless waiting_only, blocks it)? Not while g's calls go straight to the
 * kernel (it alone is alive, or it holds a lock glibc keeps): a sigwait of
 * its then waits in the kernel, which would never see a kept signal. */
/* KEEP_ROUTED: a process signal the scheduler routes to g; kept whatever
 * g's calls do meanwhile (it may be parked in one since before it was
 * left alone: its park runs it) */
enum { KEEP_WAITING, KEEP_BLOCKED, KEEP_ALWAYS, KEEP_ROUTED };
static int keeps(struct gp_gthread *g, int sig, int how)
{
    uint64_t bit = 1ull << (sig - 1);
    if (g->sigwaiting && (g->sigwait_set & bit)) return 1;
    if (how == KEEP_ROUTED) return 1;
    if (how == KEEP_WAITING || __atomic_load_n(&gp__nlive, __ATOMIC_RELAXED) < 2 ||
        __atomic_load_n(&g->foreign, __ATOMIC_RELAXED))
        return 0;
    return how == KEEP_ALWAYS || (__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & bit) != 0;
}

/* any OS thread, never a signal handler. Keep sig for g (or h's gthread
 * when g is NULL) as keeps(how) says: 1 kept, 0 not (send it the usual way),
 * -ESRCH (gone), -ENOMEM (no room for its details). A standard signal
 * already kept keeps its first sender's details, as the kernel's. On 1,
 * *blocked says whether g's mask or sigwait holds it (else it is to be
 * delivered: the caller interrupts g), *gp the gthread. A sigwait waiting
 * for it is poked here. main is kept for only when allow_main (a process
 * signal passed on by the scheduler, which runs in it as in any other). */
static int keep(uintptr_t h, struct gp_gthread *gw, int sig, const struct gp_siginfo *k, int how, int allow_main,
                int mode, int *blocked, struct gp_gthread **gp)
{
    struct gp_siginfo *spare = NULL;
    int r;
    struct gp_worker *home = NULL;
    struct gp_gthread *woken = NULL;
    int id = 0;
    for (;;) {
        gp__rec_lock();
        struct gp_gthread *g = gw ? gw : gp__gthread_from_handle(h);
        r = !g || exited(g) || g->leaving ? -ESRCH : 0; /* leaving: gp__signals_before_exit */
        /* main is kept for only what it lets in (its pending set is the OS thread's) */
        int main_ok = g != gp__w->g0 ||
                      (allow_main && (how == KEEP_ROUTED || !(__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & (1ull << (sig - 1)))));
        /* a process signal for main that main blocks is the process's
         * pending one: a green thread that lets it in since the route's
         * choice (it unblocked it, adopt_locked found nothing yet) is
         * chosen again instead (the route looks again) */
        if (!r && g == gp__w->g0 && how == KEEP_ROUTED && sig >= 1 && sig <= 64 &&
            (__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & (1ull << (sig - 1))) &&
            someone_lets_in_locked(1ull << (sig - 1)))
            r = -EAGAIN;
        if (!r && main_ok && sig >= 1 && sig <= 64 && keeps(g, sig, how)) {
            if (!g->sig_info && spare) g->sig_info = spare, spare = NULL;
            if (g->sig_info) {
                uint64_t bit = 1ull << (sig - 1);
                if (!(__atomic_load_n(&g->sig_pend, __ATOMIC_RELAXED) & bit)) g->sig_info[sig - 1] = *k;
                __atomic_or_fetch(&g->sig_pend, bit, __ATOMIC_RELAXED);
                if (g == gp__w->g0 && how == KEEP_ROUTED && (__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & bit))
                    main_routed |= bit; /* the process's, nobody lets it in: the first that does takes it */
                r = 1;
                int held = (g->sigwaiting && (g->sigwait_set & bit)) ||
                           (__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & bit);
                if (blocked) *blocked = held;
                if (!held && mode > g->sig_mode) g->sig_mode = mode;
                if (gp) *gp = g;
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

/* any OS thread, never a signal handler: keep sig for h if h waits for it
 * in sigwait now, or (unless waiting_only) blocks it: 1 (kept for h), 0
 * (send it the usual way: h lets it through, or is main), -ESRCH (gone),
 * -ENOMEM (no room for its details: sent the usual way). */
int gp_thread_sig_post(uintptr_t h, int sig, const siginfo_t *si, int waiting_only)
{
    struct gp_siginfo k = {si->si_code, si->si_pid, si->si_uid, si->si_value};
    return keep(h, NULL, sig, &k, waiting_only ? KEEP_WAITING : KEEP_BLOCKED, 0, 0, NULL, NULL);
}

/* After a signal was kept for g to deliver: have g run its handler. The
 * caller itself does it at once (2); otherwise g's worker readies it from
 * its park (GP_X_DELIVER, gp__signal_deliver) and, where g's code runs on
 * an OS thread now (computing, or in a call gpatch cannot see, on another
 * worker or left behind by a hand-off), *poke names that OS thread, for the
 * deliver signal. Returns 3. */
static int interrupt(struct gp_gthread *g, int mode, int *poke)
{
    if (poke) *poke = 0;
    if (g == running_here()) return 2;
    struct gp_worker *home = __atomic_load_n(&g->home, __ATOMIC_ACQUIRE);
    int st = __atomic_load_n(&g->state, __ATOMIC_RELAXED); /* a hint: the handler looks again */
    if (poke && st == GT_AWAY) {
        struct gp_carrier *c = __atomic_load_n(&g->carrier, __ATOMIC_RELAXED);
        if (c) *poke = c->tid;
    } else if (poke && st == GT_RUNNING && home != GP_ME()) {
        *poke = __atomic_load_n(&home->tid, __ATOMIC_RELAXED);
    }
    if (home == GP_ME()) {
        /* g's own worker runs us (a gthread of it, or its scheduler): act now */
        gp__signal_deliver(g, mode);
    } else {
        gp__xpost(home, g, g->id, GP_X_DELIVER, mode);
    }
    return 3;
}

/* any OS thread, never a handler (see gp.h) */
int gp_thread_sig_send(uintptr_t h, int sig, const siginfo_t *si, int mode)
{
    int blocked = 0, poke = 0;
    struct gp_gthread *g = NULL;
    struct gp_siginfo k = {si->si_code, si->si_pid, si->si_uid, si->si_value};
    int r = keep(h, NULL, sig, &k, KEEP_ALWAYS, 1, mode, &blocked, &g);
    if (r != 1 || blocked) return r;
    r = interrupt(g, mode, &poke);
    if (poke) gp__poke_os(poke, mode);
    return r;
}

/* ---- the deliver signals ------------------------------------------------------
 * A green thread whose code runs on an OS thread while a signal is kept for
 * it to deliver -- computing, or blocked in a call gpatch cannot see -- is
 * interrupted there as the kernel would interrupt a thread: by a signal to
 * that OS thread, whose handler (the shim's) runs the kept handlers in it
 * (gp_deliver_here says when it may). Two signals, installed with and
 * without SA_RESTART: the one sent matches the program's handler, so the
 * kernel restarts, or fails with EINTR, the system call it interrupted
 * exactly as it would have for the program's own signal. */
int gp_deliver_sig(int mode) { return mode == GP_SIGMODE_NORESTART ? SIGRTMIN + 9 : SIGRTMIN + 8; }

/* any OS thread, never a handler */
int gp_deliver_taken;
void gp__poke_os(int tid, int mode)
{
    if (__atomic_load_n(&gp_deliver_taken, __ATOMIC_RELAXED)) return;
    R(syscall)(SYS_tgkill, (long)getpid(), (long)tid, (long)gp_deliver_sig(mode));
}

/* signal-safe (the deliver signal's handler): the green thread running
 * here has kept signals to run, and the interrupted pc is its own code or
 * a library's, not the runtime's (which will reach a park, where they run) */
int gp_deliver_here(uintptr_t pc)
{
    struct gp_gthread *g = running_here();
    if (!g || gp__tls.in_handler || !gp__deliverable(g)) return 0;
    return !gp__pc_is_runtime(pc);
}

/* scheduler context of worker 0 (gp__signals): a process signal a handler
 * passed on (gp_signal_elsewhere) goes to the green thread the kernel would
 * have chosen: main if it lets it in, else one that lets it in, one inside a
 * blocking call first. It is kept for it and delivered there. With nobody
 * letting it in, it is kept for main, which runs it once it unblocks it. */
void gp__signal_route(int sig, const struct gp_redir *rd)
{
    uint64_t bit = 1ull << (sig - 1);
    struct gp_gthread *g0 = gp__w->g0, *t, *any;
    struct gp_siginfo k = {rd->code, rd->pid, rd->uid, rd->value};
    int blocked, r;
    struct gp_gthread *kg;
again:
    t = NULL, any = NULL;
    gp__rec_lock();
    if (!exited(g0) && !(__atomic_load_n(&g0->sigmask, __ATOMIC_RELAXED) & bit)) t = g0;
    for (struct gp_list *n = gp__w->all.next; !t && n != &gp__w->all; n = n->next) {
        struct gp_gthread *g = gp_container(n, struct gp_gthread, all);
        if (exited(g) || g->leaving || (__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & bit)) continue;
        if (__atomic_load_n(&g->in_call, __ATOMIC_RELAXED)) t = g;
        else if (!any) any = g;
    }
    /* nobody lets it in: a sigwait for it takes it, as the kernel's does */
    for (struct gp_list *n = gp__w->all.next; !t && !any && n != &gp__w->all; n = n->next) {
        struct gp_gthread *g = gp_container(n, struct gp_gthread, all);
        if (g != g0 && !exited(g) && !g->leaving && g->sigwaiting && (g->sigwait_set & bit)) t = g;
    }
    if (!t) t = any ? any : !exited(g0) ? g0 : NULL;
    gp__rec_unlock();
    if (!t) return;
    blocked = 0;
    kg = NULL;
    /* records are never unmapped: keep() looks at t again under the lock;
     * one that began its exit since it was chosen (leaving) is passed over
     * for the next choice, which no longer sees it, and main is passed over
     * for one that let the signal in meanwhile (-EAGAIN: keep) */
    r = keep(0, t, sig, &k, KEEP_ROUTED, 1, rd->mode, &blocked, &kg);
    if (r == -EAGAIN || (r == -ESRCH && t != g0)) goto again;
    if (r != 1 || blocked) return;
    int poke = 0;
    interrupt(kg, rd->mode, &poke);
    if (poke) gp__poke_os(poke, rd->mode);
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
    if (g == gp__w->g0) main_routed &= ~(1ull << (sig - 1));
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
    struct gp_gthread *g = running_here();
    if (!g) return 0;
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
    adopt_locked(g, set); /* a process signal nobody let in: this wait takes it */
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

/* main's OS thread, outside handlers: main's mask is the OS thread's own;
 * the runtime keeps a copy to route process signals by */
void gp_thread_main_mask(uint64_t bits)
{
    if (!gp__w || !gp__w->g0) return;
    uint64_t was = __atomic_exchange_n(&gp__w->g0->sigmask, bits, __ATOMIC_RELAXED);
    if (bits & ~was) catcher_recheck(); /* main blocks more: another thread may let them in */
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
    uint64_t was = g->sigmask;
    if (old) *old = was;
    /* SIGKILL and SIGSTOP cannot be blocked */
    m &= ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
    if (g->sigmask & ~m) { /* it unblocks: ordered with senders (see above) */
        struct gp_siginfo *spare = NULL;
        for (;;) {
            gp__rec_lock();
            if (!g->sig_info && spare) g->sig_info = spare, spare = NULL;
            __atomic_store_n(&g->sigmask, m, __ATOMIC_RELAXED);
            /* a process signal nobody let in: it takes it (the caller's take runs it) */
            int room = adopt_locked(g, was & ~m);
            gp__rec_unlock();
            /* without room the signal stays main's, as if it came later */
            if (!room || spare || !(spare = calloc(64, sizeof *spare))) break;
        }
        free(spare);
    } else { /* a sender that reads the old mask sends it the usual way */
        __atomic_store_n(&g->sigmask, m, __ATOMIC_RELAXED);
    }
    /* it lets in now what main blocks and the catcher does not: the kernel
     * must find an OS thread for it (the catcher, below) */
    uint64_t opened = was & ~m;
    if (opened && g != gp__w->g0 &&
        (opened & __atomic_load_n(&gp__w->g0->sigmask, __ATOMIC_RELAXED) & ~__atomic_load_n(&catcher_lets, __ATOMIC_RELAXED)))
        catcher_recheck();
    else if (m & ~was & __atomic_load_n(&catcher_lets, __ATOMIC_RELAXED))
        catcher_poke(); /* it blocks what the catcher lets in: narrower, maybe */
    return 0;
}

/* ---- the catcher: process signals main blocks and another thread lets in ----
 * The kernel gives a process signal to an OS thread whose real mask lets it
 * in. Worker 0's OS thread has main's mask (main's is the OS thread's own);
 * the other workers' block everything. So a signal that main blocks and
 * only some other green thread lets in landed nowhere: it stayed pending on
 * the process for good (a handler that was to post a semaphore never ran:
 * Open POSIX pthread_atfork/3-3, pthread_once/6-1...). The catcher is an OS
 * thread of gpatch's, started the first time a green thread other than main
 * lets in a signal that main blocks, whose real mask lets in exactly those
 * (what some live green thread but main lets in, main blocks, and is not
 * one of gpatch's own). Where one lands on it, the trampoline passes it on
 * as from any thread that is not the kernel's choice (gp_signal_elsewhere),
 * and worker 0's scheduler routes it (gp__signal_route) to the green thread
 * that lets it in. Its mask is looked at again when a green thread other
 * than main unblocks one of those, when main blocks more, and after each
 * signal it catches; a mask left wider than needed (a thread blocked it or
 * exited since) lets in a signal nobody takes, which the route keeps for
 * main as the process's pending one: the first green thread that lets it
 * in or sigwaits for it takes it (main_routed, above). */
static __thread int on_catcher __attribute__((tls_model("initial-exec")));
static uint32_t catcher_seq;   /* bumped (release) to have the catcher look again; its futex word */
static int catcher_started;    /* 0, or 1 once someone started it */

/* signal-safe: this OS thread is the catcher */
int gp__on_catcher(void) { return on_catcher; }

/* gpatch's own signals and the faults, never let in by the catcher */
static uint64_t catcher_never(void)
{
    static const int faults[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGKILL, SIGSTOP};
    uint64_t m = 0;
    for (size_t i = 0; i < sizeof faults / sizeof *faults; i++) m |= 1ull << (faults[i] - 1);
    m |= 1ull << (gp__monitor_sig() - 1);
    m |= 1ull << (gp__handoff_sig() - 1);
    m |= 1ull << (gp_deliver_sig(GP_SIGMODE_RESTART) - 1);
    m |= 1ull << (gp_deliver_sig(GP_SIGMODE_NORESTART) - 1);
    m |= 1ull << (GP_PREEMPT_SIG - 1); /* preemption's (preempt.c), even when off */
    return m;
}

/* any OS thread, outside handlers: what the catcher should let in now */
static uint64_t catcher_wants(void)
{
    if (!gp__w || !gp__w->g0) return 0;
    uint64_t in = 0, main_blocks;
    gp__rec_lock();
    struct gp_gthread *g0 = gp__w->g0;
    for (struct gp_list *n = gp__w->all.next; n != &gp__w->all; n = n->next) {
        struct gp_gthread *g = gp_container(n, struct gp_gthread, all);
        if (g != g0 && !exited(g) && !g->leaving) in |= ~__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED);
    }
    main_blocks = exited(g0) ? ~0ull : __atomic_load_n(&g0->sigmask, __ATOMIC_RELAXED);
    gp__rec_unlock();
    /* only signals the shim's trampoline handles: one with the default
     * action (or a stale mask's) caught here would act on the process from
     * a thread the program never made (SIG_DFL's SIGRTMIN terminated a
     * process whose threads sigwaited for it) */
    return in & main_blocks & __atomic_load_n(&sig_handled, __ATOMIC_RELAXED) & ~catcher_never();
}

static void *catcher(void *arg)
{
    (void)arg;
    on_catcher = 1;
    for (;;) {
        uint32_t seq = __atomic_load_n(&catcher_seq, __ATOMIC_ACQUIRE);
        uint64_t in = catcher_wants();
        sigset_t m;
        sigfillset(&m);
        for (int sig = 1; sig <= 64; sig++)
            if (in & (1ull << (sig - 1))) sigdelset(&m, sig);
        __atomic_store_n(&catcher_lets, in, __ATOMIC_SEQ_CST);
        R(pthread_sigmask)(SIG_SETMASK, &m, NULL);
        /* A green thread that unblocked one since our look, and read the
         * old catcher_lets (which let it in: no recheck, no new seq), would
         * leave its signal pending for good: look once more. Its mask
         * change and this look are ordered by the record lock: either this
         * look sees it, or its read of catcher_lets comes after the store
         * above and its recheck bumps seq (the wait below returns). */
        if (catcher_wants() & ~in) continue;
        /* a signal caught here ends the wait (EINTR): look again after it */
        R(syscall)(SYS_futex, &catcher_seq, FUTEX_WAIT_PRIVATE, seq, NULL, NULL, 0);
    }
    return NULL;
}

/* any OS thread, outside handlers: a started catcher looks again (its mask
 * may be wider than needed now) */
static void catcher_poke(void)
{
    if (!__atomic_load_n(&catcher_started, __ATOMIC_ACQUIRE)) return;
    __atomic_add_fetch(&catcher_seq, 1, __ATOMIC_RELEASE);
    R(syscall)(SYS_futex, &catcher_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* any OS thread, outside handlers: have the catcher look again, starting it
 * the first time it is needed */
static void catcher_recheck(void)
{
    if (!(catcher_wants() & ~__atomic_load_n(&catcher_lets, __ATOMIC_RELAXED))) return;
    __atomic_add_fetch(&catcher_seq, 1, __ATOMIC_RELEASE);
    if (__atomic_exchange_n(&catcher_started, 1, __ATOMIC_ACQ_REL)) {
        R(syscall)(SYS_futex, &catcher_seq, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
        return;
    }
    /* it starts with every signal blocked (a new thread inherits the
     * creator's real mask), then sets its own */
    sigset_t all, old;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_SETMASK, &all, &old);
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&at, 64u * 1024);
    pthread_t pt;
    if (R(pthread_create)(&pt, &at, catcher, NULL) != 0) __atomic_store_n(&catcher_started, 0, __ATOMIC_RELEASE);
    pthread_attr_destroy(&at);
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
}

/* in a forked child: the catcher was the parent's */
void gp__catcher_fork_reset(void)
{
    catcher_started = 0;
    catcher_lets = 0;
    catcher_seq = 0;
    main_routed = 0;
}

/* the shim, after sigaction: sig has a handler of the program's (on), or
 * not. In a handler (SA_RESETHAND's reset) only the note. */
void gp_thread_sig_handled(int sig, int on)
{
    if (sig < 1 || sig > 64) return;
    uint64_t bit = 1ull << (sig - 1);
    if (on) __atomic_or_fetch(&sig_handled, bit, __ATOMIC_RELAXED);
    else __atomic_and_fetch(&sig_handled, ~bit, __ATOMIC_RELAXED);
    if (gp__tls.in_handler || !gp__w || !gp__w->g0) return;
    if (on) catcher_recheck();
    else if (__atomic_load_n(&catcher_lets, __ATOMIC_RELAXED) & bit) catcher_poke();
}

/* the worker, after g's exit (gp__thread_dying): what it let in may no
 * longer be anyone's */
void gp__catcher_left(uint64_t mask)
{
    if (~mask & __atomic_load_n(&catcher_lets, __ATOMIC_RELAXED)) catcher_poke();
}

/* gthread only, at its exit (gp_thread_exit), before anything of it is
 * torn down. The kernel gives a process signal to a thread that lets it
 * in at the send, and that thread runs the handler before its code goes
 * on, so before its exit. Here a signal is routed a little later (worker
 * 0's scheduler, gp__signals) and run at the target's next park or yield:
 * a thread that let it in and exited in between took it nowhere (a kept
 * one went with it; one not yet routed found nobody else letting it in
 * and was kept for main, which blocks it), and a sender that waited for
 * what the handler posts waited for good (Open POSIX pthread_cond_signal/
 * 4-2 and the other "signal stream" tests, at their end). So a thread on
 * its way out takes the passed-on signals it lets in (the set's bit,
 * cleared with an exchange after the details are read: a handler writes
 * them only while the bit is clear), marks itself leaving, and runs every
 * kept one it lets in. */
void gp__signals_before_exit(struct gp_gthread *g)
{
    struct gp_worker *w0 = gp__w;
    if (w0 && g != w0->g0) {
        uint64_t lets = ~__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED);
        uint64_t set = __atomic_load_n(&w0->redir_set, __ATOMIC_ACQUIRE) & lets & ~catcher_never();
        while (set) {
            int sig = __builtin_ctzll(set) + 1;
            uint64_t bit = 1ull << (sig - 1);
            set &= set - 1;
            struct gp_redir rd = w0->redir[sig - 1];
            if (!(__atomic_fetch_and(&w0->redir_set, ~bit, __ATOMIC_ACQ_REL) & bit)) continue;
            struct gp_siginfo k = {rd.code, rd.pid, rd.uid, rd.value};
            keep(0, g, sig, &k, KEEP_ROUTED, 1, rd.mode, NULL, NULL);
        }
    }
    /* from here no sender keeps a signal for it (keep, the route and the
     * kill's choice look at leaving under the same lock): what was kept
     * before runs now, and nothing is kept after to go with it */
    gp__rec_lock();
    g->leaving = 1;
    gp__rec_unlock();
    if (gp__deliverable(g)) gp__deliver_kept(g);
}

/* any gthread, outside handlers: for a kill of its own process, the green
 * thread the kernel would pick at the send, when the kernel itself could
 * only reach it through the catcher (main blocks sig, a green thread but
 * main lets it in, the program handles it): the caller if it lets it in,
 * else one inside a blocking call first, else any; its handle, or 0 (send
 * it the usual way). The kernel chooses the thread when the signal is
 * sent and that thread runs the handler before its code goes on; through
 * the catcher the choice came later, after the thread may have exited. */
uintptr_t gp_thread_sig_taker(int sig)
{
    if (sig < 1 || sig > 64 || !gp__w || !gp__w->g0) return 0;
    uint64_t bit = 1ull << (sig - 1);
    if (!(__atomic_load_n(&sig_handled, __ATOMIC_RELAXED) & bit) || (catcher_never() & bit)) return 0;
    struct gp_gthread *g0 = gp__w->g0, *me = running_here(), *t = NULL, *any = NULL;
    uintptr_t h = 0;
    /* the common case, without the lock: main lets it in */
    if (!(__atomic_load_n(&g0->sigmask, __ATOMIC_RELAXED) & bit) && !exited(g0)) return 0;
    gp__rec_lock();
    if (!exited(g0) && !(__atomic_load_n(&g0->sigmask, __ATOMIC_RELAXED) & bit)) goto out; /* main takes it */
    if (me && me != g0 && !me->leaving && !(__atomic_load_n(&me->sigmask, __ATOMIC_RELAXED) & bit)) t = me;
    for (struct gp_list *n = gp__w->all.next; !t && n != &gp__w->all; n = n->next) {
        struct gp_gthread *g = gp_container(n, struct gp_gthread, all);
        if (g == g0 || exited(g) || g->leaving || (__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED) & bit)) continue;
        if (__atomic_load_n(&g->in_call, __ATOMIC_RELAXED)) t = g;
        else if (!any) any = g;
    }
    if (!t) t = any;
    if (t) h = t->handle;
out:
    gp__rec_unlock();
    return h;
}
