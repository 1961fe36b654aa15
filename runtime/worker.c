/* worker.c — several workers (GPATCH_WORKERS): their OS threads, placement
 * of new green threads, the inbox by which workers ask each other things,
 * and stealing. The contract is the essay at the top of sched.c, sections
 * "Workers" and "Stealing"; the scheduler itself (park, ready, switch, a
 * worker's loop) stays there, and hand-off in handoff.c. */
#include "internal.h"
#include "tls.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "real.h"

static void *worker_thread(void *arg)
{
    struct gp_worker *w = arg;
    w->os_thread = (uintptr_t)R(pthread_self)();
    __atomic_store_n(&w->tid, gettid(), __ATOMIC_RELEASE);
    w->idle_tcb = gp__tls_current();
    /* an alternate stack for the overflow report (monitor.c), as main's */
    stack_t ss = {.ss_size = 64 * 1024, .ss_flags = 0};
    if ((ss.ss_sp = malloc(ss.ss_size))) sigaltstack(&ss, NULL);
    gp__tls.worker = w;
    gp__tls.managed = 0;
    w->tls = &gp__tls;
    struct gp_gthread boot = {.magic = GT_MAGIC, .state = GT_RUNNING, .id = -2};
    w->cur = &w->sched;
    gp__handoff_worker(w); /* this OS thread is the worker's first carrier */
    jump_fcontext(w->sched.ctx, &boot); /* never comes back */
    return NULL;
}

/* any thread, before the runtime starts (the shim's constructor) */
void gp_configure_workers(int n) { gp__workers_want = n; }

/* any thread */
int gp_tid_is_worker(int tid)
{
    if (tid == getpid()) return 1;
    int n = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        struct gp_worker *w = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
        if (w && __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE) == tid) return 1;
    }
    /* a gthread's id may also be that of an OS thread a hand-off made
     * (it ran there, or was left behind there: its id is kept meanwhile) */
    return gp__carrier_tid_known(tid);
}

/* how many workers: GPATCH_WORKERS, or GP_WORKERS_DEFAULT (0: the CPUs this process may run on) */
int gp__workers_wanted(void)
{
    int n = gp__workers_want > 0 ? gp__workers_want : GP_WORKERS_DEFAULT;
    if (n <= 0) {
        cpu_set_t cs;
        n = sched_getaffinity(0, sizeof cs, &cs) == 0 ? CPU_COUNT(&cs) : 1;
    }
    if (n < 1) n = 1;
    if (n > GP_MAX_WORKERS) n = GP_MAX_WORKERS;
    return n;
}

static sigset_t workers_os_mask; /* main's signal mask when the workers started */

/* a child forked on worker 1..N-1 gets it back (gp_fork_child) */
const sigset_t *gp__workers_os_mask(void) { return &workers_os_mask; }

/* main's thread, from gp__start: start workers 1..n-1. Their OS threads block
 * every asynchronous signal: the kernel delivers process signals, and
 * pthread_kill the signals its target lets through, to worker 0's OS thread
 * (the one main runs on, as stock would pick it), whose scheduler passes the
 * interruption on (gp__signals); one the target blocks is kept for it
 * (sigthread.c, gp_thread_sig_post). Faults stay deliverable: a fault on a worker is that
 * worker's. A worker that cannot be had leaves fewer workers, not an error. */
void gp__workers_start(int n)
{
    /* set before the workers start, which read it: with one worker it has no one to serve */
    const char *e = getenv("GPATCH_STEAL");
    gp__steal_on = n > 1 && gp__tls_mode == GP_TLS_OWN && !(e && strcmp(e, "0") == 0);
    if (gp__steal_on) {
        gp__dl_locks_find();
        if (!gp__dl_locks_known()) {
            gp__steal_on = 0; /* a gthread inside dlopen's constructors could move: none does */
            if (GP_UNLIKELY(gp_debug_on)) gp_debugf("stealing off: the loader's locks were not found in this glibc");
        }
    }
    sigset_t all, old;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_SETMASK, NULL, &workers_os_mask); /* what a child forked on one of them gets back */
    int sync_sigs[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS};
    for (size_t i = 0; i < sizeof sync_sigs / sizeof *sync_sigs; i++) sigdelset(&all, sync_sigs[i]);
    sigdelset(&all, gp__monitor_sig()); /* the monitor's request for a stuck worker's stack */
    /* and for the worker itself, where hand-off can be on (handoff.c) */
    if (gp__handoff_ms > 0 && gp__tls_mode == GP_TLS_OWN) sigdelset(&all, gp__handoff_sig());
    /* and the deliver signals: a green thread computing there runs its kept handlers (sigthread.c) */
    sigdelset(&all, gp_deliver_sig(GP_SIGMODE_RESTART));
    sigdelset(&all, gp_deliver_sig(GP_SIGMODE_NORESTART));
    if (gp_preempt_sig()) sigdelset(&all, gp_preempt_sig()); /* its time slice's end (preempt.c) */
    R(pthread_sigmask)(SIG_SETMASK, &all, &old);
    for (int i = 1; i < n; i++) {
        struct gp_worker *w = calloc(1, sizeof *w);
        if (!w || gp__worker_init(w, i) != 0) {
            free(w); /* a half-made loop is leaked: rare, and harmless */
            break;
        }
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&at, 256u * 1024);
        pthread_t pt;
        int r = R(pthread_create)(&pt, &at, worker_thread, w);
        pthread_attr_destroy(&at);
        if (r) break;
        /* release: the worker is whole before anyone places a gthread on it */
        __atomic_store_n(&gp__workers[i], w, __ATOMIC_RELEASE);
        __atomic_store_n(&gp__nworkers, i + 1, __ATOMIC_RELEASE);
    }
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    if (GP_UNLIKELY(gp_debug_on))
        gp_debugf("workers: %d (asked for %d); %s", gp__nworkers, n,
                  gp__steal_on ? "a worker with nothing to run steals ready green threads from the others"
                  : gp__tls_mode != GP_TLS_OWN
                      ? "a green thread stays on the worker it is placed on at its creation (with shared TLS it "
                        "must: its frames may hold the worker's TLS addresses)"
                      : "a green thread stays on the worker it is placed on at its creation (GPATCH_STEAL=0)");
}

/* Where a new gthread runs: the worker with the fewest live gthreads (ties:
 * the next one after the last choice, so main's worker is not the first
 * pick for a program's first thread). With either TLS mode a gthread never
 * leaves the worker it was placed on. */
struct gp_worker *gp__place(void)
{
    static unsigned next;
    int n = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
    if (n <= 1) return gp__w;
    unsigned start = 1 + __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);
    struct gp_worker *best = NULL;
    int least = 0;
    for (int k = 0; k < n; k++) {
        struct gp_worker *w = gp__workers[(start + (unsigned)k) % (unsigned)n];
        int live = __atomic_load_n(&w->nhome, __ATOMIC_RELAXED);
        if (!best || live < least) best = w, least = live;
    }
    return best;
}

/* any OS thread (never a signal handler): post to w's scheduler and wake it.
 * The inbox is an array under w's spinlock; a post that cannot grow it (out
 * of memory) spins until the drain made room. */
void gp__xpost(struct gp_worker *w, struct gp_gthread *g, int id, int kind, int arg)
{
    for (;;) {
        while (__atomic_exchange_n(&w->inbox_lock, 1, __ATOMIC_ACQUIRE))
            while (__atomic_load_n(&w->inbox_lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
        if (w->inbox_n == w->inbox_cap) {
            unsigned cap = w->inbox_cap ? w->inbox_cap * 2 : 64;
            struct gp_xmsg *m = realloc(w->inbox, cap * sizeof *m);
            if (m) w->inbox = m, w->inbox_cap = cap;
        }
        if (w->inbox_n < w->inbox_cap) break;
        __atomic_store_n(&w->inbox_lock, 0, __ATOMIC_RELEASE);
        gp__async_send(&w->async);
        R(sched_yield)(); /* the OS thread's: a gthread's caller must not move meanwhile */
    }
    w->inbox[w->inbox_n++] = (struct gp_xmsg){g, id, kind, arg};
    __atomic_store_n(&w->inbox_pending, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&w->inbox_lock, 0, __ATOMIC_RELEASE);
    /* gp__async_send's fence orders the post before the drain it causes */
    gp__async_send(&w->async);
}

/* a new gthread placed on this worker (by itself or by another one)
 * becomes runnable here */
void gp__adopt(struct gp_worker *w, struct gp_gthread *g)
{
    /* glibc's own locks (the loader's, robust and recursive ones) tell
     * holders apart by the block's tid: another worker's gthread is another
     * OS thread */
    if (g->tcb && w->index > 0) gp__tls_set_tid(g->tcb, w->tid);
    if (g->timer.loop != &w->loop) uv_timer_init(&w->loop, &g->timer);
    g->timer.data = g;
    g->tm = &g->timer;
    g->movable = 1; /* it has not run: nothing of it is registered anywhere */
    gp__runq_push(w, g);
}

/* ---- stealing ----------------------------------------------------------------
 * (the essay's "Stealing"). Worker only, scheduler context: w is about to
 * sleep, or has woken; hungry says "give me a ready gthread" to the others. */
int gp__steal_on, gp__hungry;

void gp__hunger(struct gp_worker *w, int on)
{
    if (on) { /* the count first: a donor that claims the flag never takes it below 0 */
        __atomic_store_n(&w->hungry_since, gp_now(), __ATOMIC_RELAXED);
        __atomic_add_fetch(&gp__hungry, 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&w->hungry, 1, __ATOMIC_SEQ_CST);
    } else if (__atomic_exchange_n(&w->hungry, 0, __ATOMIC_SEQ_CST)) {
        __atomic_sub_fetch(&gp__hungry, 1, __ATOMIC_SEQ_CST);
    }
}

/* Is a worker hungry, and has it been for GP_IDLE_OFFER_NS? A gthread
 * woken by I/O moves only then (gp_offer_self, and gp__run_ready leaves
 * the woken for the turn's end only then): a worker idle for a few
 * microseconds between two requests would cost each such move a wake of
 * its loop and the fd's watcher moved from one epoll set to another, more
 * than it saves (measured: 6 % fewer requests per second on the keep-alive
 * server, own TLS, two workers, without this wait). Any thread; only while
 * gp__hungry is non-zero. */
#define GP_IDLE_OFFER_NS (100 * 1000)
int gp__hungry_long(void)
{
    gp_deadline now = 0;
    for (int i = 0; i < gp__nworkers; i++) {
        struct gp_worker *w = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
        if (!w || !__atomic_load_n(&w->hungry, __ATOMIC_ACQUIRE)) continue; /* then its hungry_since */
        if (!now) now = gp_now();
        if (now - __atomic_load_n(&w->hungry_since, __ATOMIC_RELAXED) >= GP_IDLE_OFFER_NS) return 1;
    }
    return 0;
}

/* could g leave this worker at a clean point? It has its own TLS block,
 * and holds nothing glibc ties to an OS thread id: a glibc-handled lock
 * (foreign), an rwlock it write-holds (glibc records the writer's tid), the
 * loader's locks (pinned around gp_dlopen; and give_away moves nobody while
 * its worker's tid holds one). Main's gthread stays: its block is worker
 * 0's idle block. */
int gp__may_leave(struct gp_gthread *g)
{
    return g->tcb && g != gp__w->g0 && !g->pinned && !g->foreign && !g->owned_n && !g->tid_kept && !g->skipping &&
           !gp__tls_of(g->tcb)->in_handler;
}

/* may g leave this worker now? It may (above), and is ready at a clean
 * point (movable: no fd waiter record, sync queue entry, armed timer or
 * joiner pointer of it is anywhere) */
static int can_move(struct gp_gthread *g) { return g->movable && g->state == GT_READY && gp__may_leave(g); }

/* w gives g (taken off its run queue) to worker to, which claimed nothing:
 * to's own drain makes it runnable there (adopt_moved) */
static void move_to(struct gp_worker *w, struct gp_gthread *g, struct gp_worker *to)
{
    g->movable = 0;
    if (gp__tls_current() == g->tcb) gp__step_off(w); /* the last one that ran here: as finish_dead */
    gp__rec_lock();
    gp__timer_give_back(g); /* a lent timer stays with this loop's spares */
    gp__rec_unlock();
    __atomic_sub_fetch(&w->nhome, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&to->nhome, 1, __ATOMIC_RELAXED);
    /* release: what g's old worker wrote of it is seen by whoever reads the
     * new home and posts there */
    __atomic_store_n(&g->home, to, __ATOMIC_RELEASE);
    __atomic_add_fetch(&gp__stats.steals, 1, __ATOMIC_RELAXED);
    if (g->offered) __atomic_add_fetch(&gp__stats.steals_offered, 1, __ATOMIC_RELAXED);
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d moves from worker %d to worker %d", g->id, w->index, to->index);
    gp__xpost(to, g, g->id, GP_X_MOVE, 0); /* the last touch */
}

/* Scheduler context of w, between two runs: another worker is hungry. Give
 * each hungry worker one movable gthread from the end of the run queue while
 * two or more are ready here (one stays: w runs it next). */
void gp__give_away(struct gp_worker *w)
{
    /* every gthread of w shows glibc w's tid: while one holds a loader's lock
     * (inside dlopen's constructors, say), none of them moves */
    if (gp__dl_locked_by(w->tid)) return;
    for (int i = 0; i < gp__nworkers; i++) {
        struct gp_worker *to = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
        if (!to || to == w || !__atomic_load_n(&to->hungry, __ATOMIC_RELAXED)) continue;
        if (gp_list_empty(&w->runq) || w->runq.next == w->runq.prev) return;
        struct gp_gthread *g = NULL;
        int looked = 0;
        for (struct gp_list *n = w->runq.prev; n != &w->runq && looked < 64; n = n->prev, looked++) {
            struct gp_gthread *c = gp_container(n, struct gp_gthread, runq);
            if (can_move(c)) {
                g = c;
                break;
            }
        }
        if (!g) return;
        int one = 1; /* claim it: it may have woken for something else meanwhile */
        if (!__atomic_compare_exchange_n(&to->hungry, &one, 0, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) continue;
        __atomic_sub_fetch(&gp__hungry, 1, __ATOMIC_SEQ_CST);
        gp_list_del(&g->runq);
        move_to(w, g, to);
    }
}

/* a gthread another worker gave this one becomes runnable here */
static void adopt_moved(struct gp_worker *w, struct gp_gthread *g)
{
    if (g->tcb) gp__tls_set_tid(g->tcb, w->tid); /* it is this OS thread now, to glibc's locks */
    gp__timer_lend(w, g);
    gp__runq_push(w, g);
}

/* scheduler context (on_async) */
void gp__xdrain(void)
{
    struct gp_worker *w = GP_ME();
    if (!__atomic_load_n(&w->inbox_pending, __ATOMIC_ACQUIRE)) return;
    struct gp_xmsg local[32];
    for (;;) {
        while (__atomic_exchange_n(&w->inbox_lock, 1, __ATOMIC_ACQUIRE))
            while (__atomic_load_n(&w->inbox_lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
        unsigned n = w->inbox_n < 32 ? w->inbox_n : 32;
        memcpy(local, w->inbox, n * sizeof *local);
        memmove(w->inbox, w->inbox + n, (w->inbox_n - n) * sizeof *local);
        w->inbox_n -= n;
        if (!w->inbox_n) __atomic_store_n(&w->inbox_pending, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&w->inbox_lock, 0, __ATOMIC_RELEASE);
        if (!n) break;
        for (unsigned i = 0; i < n; i++) {
            struct gp_gthread *g = local[i].g;
            if (local[i].kind == GP_X_NEW) gp__adopt(w, g);
            else if (local[i].kind == GP_X_MOVE) adopt_moved(w, g);
            else if (g->magic != GT_MAGIC || g->id != local[i].id) continue; /* gone since */
            else if (__atomic_load_n(&g->home, __ATOMIC_ACQUIRE) != w) /* it moved on: follow it */
                gp__xpost(__atomic_load_n(&g->home, __ATOMIC_ACQUIRE), g, local[i].id, local[i].kind, local[i].arg);
            else if (local[i].kind == GP_X_POKE) { /* a signal is pending for it: its sigwait looks again */
                if (g->state == GT_PARKED && g->sigwaiting) gp__ready(g, 0);
            } else if (local[i].kind == GP_X_CANCEL) {
                if (__atomic_load_n(&g->cancelled, __ATOMIC_ACQUIRE) && !g->cancel_off && g->state == GT_PARKED &&
                    g->cancelpt)
                    gp__ready(g, -ECANCELED);
            } else gp__signal_deliver(g, local[i].arg); /* GP_X_DELIVER */
        }
    }
    if (w->cur == &w->sched && !gp_list_empty(&w->runq)) uv_stop(&w->loop);
}

/* the process's main thread, once, at its first pthread_create */

/* gthread only: the program's sched_yield. The worker's other ready green
 * threads run first (gp_yield_movable); with none ready (its run queue is
 * its own: no lock to look), its OS thread yields the CPU too, as the
 * program's thread would stock: under SCHED_FIFO an OS thread runs until it
 * blocks or yields, and a peer of the same priority on that CPU (another
 * worker, another process) runs only then. A yield that had others to run
 * costs no system call. */
int gp_yield_program(void)
{
    struct gp_worker *w = GP_ME();
    if (!w || w->cur == &w->sched) return R(sched_yield)(), 0;
    int alone = gp_list_empty(&w->runq);
    gp_yield_movable();
    if (alone) R(sched_yield)();
    return 0;
}
