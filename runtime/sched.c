/* sched.c — green threads on one worker: run queue, park/ready, switching.
 *
 * The model
 * ---------
 * A worker is an OS thread that owns a libuv loop. Its green threads
 * (gthreads) are coroutines: main is gthread 0 and runs on the original
 * stack; every pthread_create of the program makes another, with an mmap'd
 * stack (coro.c). Exactly one of them runs at a time. A gthread that must
 * wait for something *parks*: it records why (a reason string, shown in
 * traces), registers interest (an fd watcher, its timer, a join), and
 * switches away. Whoever makes the thing happen calls gp__ready(g, result),
 * which puts g on the run queue with the result its park returns.
 *
 * Switching
 * ---------
 * Switches are boost.context's jump_fcontext: a few registers saved on the
 * old stack, the stack pointer swapped. Every jump passes the gthread being
 * left; whoever resumes stores the left one's context (after_switch). A
 * parking gthread switches *directly* to the next ready one; only when none
 * is ready, or after BUDGET direct switches in a row (so that I/O is polled
 * even while gthreads keep readying each other), does it switch to the
 * scheduler context. The scheduler runs on a small stack of its own and
 * turns the loop: uv_run(UV_RUN_ONCE) blocks in epoll_wait until an fd, a
 * timer or an async wake-up readies someone. An fd event runs the gthreads
 * it readied at once, from inside its callback (gp__run_ready), as a native
 * server reads inside its own; timers and wake-ups queue them for the turn's
 * end.
 *
 * Why not...
 *  - ...always go through the scheduler? A yield would cost two jumps
 *    instead of one; the direct path keeps a ping-pong at one jump each way.
 *  - ...ucontext? swapcontext makes a sigprocmask system call per switch.
 *  - ...run the loop on a gthread? The loop's callbacks ready gthreads; they
 *    must run where no gthread's stack is live, so a dead gthread's stack can
 *    be recycled by whoever runs next (after_switch), never by itself.
 *
 * errno is per OS thread in libc, so each switch saves the leaving gthread's
 * errno and restores the arriving one's: errno belongs to the gthread.
 *
 * "Managed": gp__tls.managed tells the shim whether a hooked call should come
 * here. It is 1 only on a gthread (never the scheduler), and only while more
 * than one gthread is alive: a lone gthread could not let anyone else run,
 * so its blocking calls go straight to libc, which keeps programs that never
 * create a thread exactly as they were.
 */
#include "internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <sys/mman.h>

#include "real.h"
#ifdef GP_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#define BUDGET 1024
#define SCHED_STACK (256u * 1024)

__thread struct gp_tls gp__tls __attribute__((tls_model("initial-exec")));
struct gp_worker *gp__w;
static struct gp_worker the_worker;

void gp__update_managed(void)
{
    struct gp_worker *w = gp__w;
    gp__tls.managed = w && w->cur != &w->sched && w->nlive > 1 && !w->cur->foreign;
}

static void finish_dead(struct gp_gthread *g)
{
#ifdef GP_TSAN
    if (g != gp__w->g0 && g->tsan_fiber) __tsan_destroy_fiber(g->tsan_fiber);
    g->tsan_fiber = NULL;
#endif
    gp__stack_release(g);
    if (g->detached && g != gp__w->g0) gp__gthread_free(g);
}

static inline void after_switch(transfer_t t)
{
    struct gp_gthread *prev = t.data;
    prev->ctx = t.fctx;
    if (GP_UNLIKELY(prev->state == GT_DEAD)) finish_dead(prev);
}

/* The switch itself. `to` is a ready gthread or the scheduler; the caller
 * has already set the leaving one's state. */
static inline __attribute__((always_inline)) void switch_to(struct gp_gthread *to)
{
    struct gp_worker *w = gp__w;
    struct gp_gthread *from = w->cur;
    if (to == from) {
        from->state = GT_RUNNING;
        return;
    }
    gp__stats.switches++;
    int *errno_at = w->errno_at, *h_errno_at = w->h_errno_at;
    from->err = *errno_at;
    from->herr = *h_errno_at;
    from->last = gp__tls.last;
    gp__tls.last = to->last;
    w->cur = to;
    if (to != &w->sched) {
        to->state = GT_RUNNING;
        gp__tls.managed = w->nlive > 1 && !to->foreign;
    } else {
        gp__tls.managed = 0;
    }
#ifdef GP_TSAN /* `make test-tsan`: ThreadSanitizer follows our stack switches as fibers */
    if (!from->tsan_fiber) from->tsan_fiber = __tsan_get_current_fiber();
    if (!to->tsan_fiber) to->tsan_fiber = __tsan_create_fiber(0);
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    transfer_t t = jump_fcontext(to->ctx, from);
    after_switch(t);
    *errno_at = from->err;
    *h_errno_at = from->herr;
}

/* Who runs when the current gthread stops: the next ready one, directly,
 * while the budget lasts; otherwise the scheduler. */
static struct gp_gthread *next_to_run(void)
{
    struct gp_worker *w = gp__w;
    if (w->budget > 0) {
        struct gp_list *n = gp_list_pop(&w->runq);
        if (n) {
            w->budget--;
            return gp_container(n, struct gp_gthread, runq);
        }
    }
    return &w->sched;
}

void gp__ready(struct gp_gthread *g, int result)
{
    struct gp_worker *w = gp__w;
    if (g->state != GT_PARKED) return;
    g->state = GT_READY;
    g->wake = result;
    gp_list_push(&w->runq, &g->runq);
    /* From a loop callback: make uv_run return instead of going on to block
     * in epoll_wait (UV_RUN_ONCE blocks after running due timers at its top
     * if no I/O callback ran). */
    if (w->cur == &w->sched) uv_stop(&w->loop);
}

int gp__park(const char *reason, gp_deadline dl, int intr)
{
    struct gp_worker *w = gp__w;
    struct gp_gthread *g = w->cur;
    GP_ASSERT(g != &w->sched);
    if (intr != GP_NOINTR && g->cancelled && !g->cancel_off) gp_thread_exit_unwinding(PTHREAD_CANCELED);
    if (GP_UNLIKELY(g->sigpend) && intr != GP_NOINTR) { /* handled while this call ran */
        int p = g->sigpend;
        g->sigpend = 0;
        if (p == 2 || intr == GP_NORESTART) return -EINTR;
    }
    if (dl == 0) return -ETIMEDOUT;
    if (dl > 0) {
        if (dl <= gp_now()) return -ETIMEDOUT;
        gp__timer_arm(g, dl);
    }
    g->state = GT_PARKED;
    g->reason = reason;
    g->intr = intr;
    g->wake = 0;
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d parks: %s", g->id, reason);
    if (GP_UNLIKELY(gp__stats_on)) gp__stat_park(reason);
    switch_to(next_to_run());
    if (dl > 0) gp__timer_disarm(g);
    g->intr = GP_NOINTR;
    g->reason = NULL;
    if (g->wake == -ECANCELED && g->cancelled && !g->cancel_off) gp_thread_exit_unwinding(PTHREAD_CANCELED);
    return g->wake;
}

int gp_yield(void)
{
    struct gp_worker *w = gp__w;
    if (!w || w->cur == &w->sched) return 0;
    struct gp_gthread *g = w->cur;
    if (gp_list_empty(&w->runq) && --w->budget > 0) return 0; /* nobody else to run */
    g->state = GT_READY;
    gp_list_push(&w->runq, &g->runq);
    switch_to(next_to_run());
    return 0;
}

/* Signal handlers ran (gp_signal_note): interrupt the call the kernel would
 * have interrupted. A process-directed signal goes to the main thread (the
 * kernel's choice unless main is gone), a pthread_kill'ed one to its target.
 * If that gthread is parked in an interruptible call, the call returns
 * EINTR (or, for a restartable call under an SA_RESTART handler, goes on
 * waiting); if it is between two attempts of a blocking call, its next park
 * does; if it is computing, nothing is interrupted, as stock. */
void gp__signals(void)
{
    struct gp_worker *w = gp__w;
    if (!w->sig_pending) return;
    w->sig_pending = 0;
    int norestart = w->sig_norestart;
    w->sig_norestart = 0;
    uint64_t sigs = __atomic_exchange_n(&w->sig_set, 0, __ATOMIC_RELAXED);
    struct gp_gthread *t = w->sig_target;
    w->sig_target = NULL;
    if (!t || t->state == GT_DEAD) t = w->g0->state != GT_DEAD ? w->g0 : NULL;
    for (struct gp_list *n = w->all.next; !t && n != &w->all; n = n->next) {
        struct gp_gthread *g = gp_container(n, struct gp_gthread, all);
        /* main is gone: any thread in a blocking call that does not block them */
        if (g->in_call && (g->sigmask & sigs) != sigs) t = g;
    }
    if (!t) return;
    if (t->state == GT_PARKED && t->intr != GP_NOINTR) {
        if (norestart || t->intr == GP_NORESTART) gp__ready(t, -EINTR);
    } else if (t->in_call) {
        int v = norestart ? 2 : 1;
        if (v > t->sigpend) t->sigpend = v;
    }
}

/* One turn of the loop. Between turns the worker is "away" running gthreads:
 * the monitor measures how long (w->away_since), the stats keep the longest. */
static void loop_turn(struct gp_worker *w, uv_run_mode mode)
{
    int64_t away = gp_now() - w->away_since;
    if (away > gp__stats.longest_stall_ns) gp__stats.longest_stall_ns = away;
    __atomic_store_n(&w->away_since, 0, __ATOMIC_RELEASE);
    __atomic_add_fetch(&gp__stats.turns, 1, __ATOMIC_RELEASE);
    uv_run(&w->loop, mode);
    __atomic_store_n(&w->away_since, gp_now(), __ATOMIC_RELEASE);
}

/* From the scheduler context: run the head of the run queue, and whoever it
 * switches to directly, within a fresh budget. 0 when nobody was ready. */
static int run_head(struct gp_worker *w)
{
    struct gp_list *n = gp_list_pop(&w->runq);
    if (!n) return 0;
    w->budget = BUDGET;
    switch_to(gp_container(n, struct gp_gthread, runq));
    return 1;
}

/* From an fd event's callback, in the middle of a loop turn: run the ready
 * gthreads now, as a native server handles a read inside its callback.
 * Left on the run queue until the turn ends, a woken gthread has not read
 * its data yet when libuv polls again within the same turn (it does while
 * its event array comes back full, i.e. with more than 1,024 connections
 * ready): the fd is reported again, finds nobody parked, and its watcher is
 * stopped, to be restarted by the next wait: two epoll_ctl and a wasted
 * recv per request. Returns to the callback once they have all parked, or
 * the budget or a time slice ran out (then the rest wait for the turn's end). */
void gp__run_ready(void)
{
    struct gp_worker *w = gp__w;
    if (w->cur != &w->sched || gp_list_empty(&w->runq)) return;
    /* away from the loop from the first of these runs to the turn's end
     * (loop_turn): the rest of the turn only polls without waiting */
    if (!w->away_since) __atomic_store_n(&w->away_since, gp_now(), __ATOMIC_RELEASE);
    run_head(w);
}

static _Noreturn void sched_main(transfer_t t)
{
    after_switch(t);
    struct gp_worker *w = gp__w;
    for (;;) {
        if (run_head(w)) {
            if (!gp_list_empty(&w->runq)) {
                loop_turn(w, UV_RUN_NOWAIT);
                gp__signals();
            }
            continue;
        }
        if (w->nlive == 0) exit(0); /* the last thread called pthread_exit: as glibc */
        if (GP_UNLIKELY(gp_debug_on)) gp_debugf("loop: wait, next timer in %d ms", uv_backend_timeout(&w->loop));
        loop_turn(w, UV_RUN_ONCE);
        gp__signals();
    }
}

static void gthread_entry(transfer_t t)
{
    after_switch(t);
    errno = 0;
    *__h_errno_location() = 0;
    struct gp_gthread *g = gp__w->cur;
    void *ret = g->fn(g->arg);
    /* In a child forked by this gthread the runtime was reset: this is now
     * the process's only thread, and a thread that ends last ends the
     * process, as in glibc. If the child has started a runtime since, this
     * context is its main gthread. */
    if (!gp__w) exit(0);
    gp_thread_exit(ret);
}

int gp__start(void)
{
    uintptr_t inherited = gp_inherited_self();
    struct gp_worker *w = &the_worker;
    memset(w, 0, sizeof *w);
    gp_list_init(&w->runq);
    gp_list_init(&w->all);
    if (gp__loop_init(w) != 0) return -EAGAIN;
    size_t pg = gp__page();
    w->sched_stack_size = SCHED_STACK;
    w->sched_stack = mmap(NULL, SCHED_STACK + pg, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (w->sched_stack == MAP_FAILED) return -EAGAIN;
    mprotect(w->sched_stack, pg, PROT_NONE);
    w->sched.ctx = make_fcontext((char *)w->sched_stack + pg + SCHED_STACK, SCHED_STACK, sched_main);
    w->sched.magic = GT_MAGIC;
    w->sched.id = -1;
    w->os_thread = (uintptr_t)R(pthread_self)();
    w->errno_at = &errno; /* addresses of thread-local variables: fixed per OS thread */
    w->h_errno_at = __h_errno_location();
    gp__w = w;
    struct gp_gthread *g0 = gp__gthread_alloc();
    if (!g0) {
        gp__w = NULL;
        return -EAGAIN;
    }
    g0->handle = inherited ? inherited : w->os_thread; /* main keeps its pthread_t */
    g0->id = 0;
    g0->state = GT_RUNNING;
    uv_timer_init(&w->loop, &g0->timer);
    g0->timer.data = g0;
    gp_list_push(&w->all, &g0->all);
    w->g0 = g0;
    w->cur = g0;
    w->nlive = 1;
    w->next_id = 1;
    w->tls = &gp__tls;
    w->away_since = gp_now(); /* main is running, away from the loop */
    gp__tls.worker = 1;
    gp__update_managed();
    gp__monitor_start(w);
    return 0;
}

/* ---- creating and ending green threads (the rest of the pthread-facing
 * operations are in thread.c) ---------------------------------------------- */

static int broken; /* the runtime could not start: the program runs unpatched */

int gp_can_spawn(void)
{
    struct gp_worker *w = gp__w;
    if (GP_UNLIKELY(broken)) return 0;
    if (gp__tls.worker) return w->cur != &w->sched;
    /* not started: only the process's main thread becomes the worker */
    return !w && gettid() == getpid();
}

int gp_is_current_gthread(void)
{
    struct gp_worker *w = gp__w;
    return gp__tls.worker && w->cur != &w->sched;
}

int gp_thread_create(uintptr_t *out, const struct gp_thread_attr *a, void *(*fn)(void *), void *arg)
{
    if (!gp__w) {
        int r = gp__start();
        if (r) {
            broken = 1;
            gp_debugf("could not start the runtime (%s); the program runs unpatched, on OS threads",
                      strerror(-r));
            return -ENOSYS; /* the shim falls back to the real pthread_create */
        }
    }
    struct gp_worker *w = gp__w;
    struct gp_gthread *g = gp__gthread_alloc();
    if (!g) return -EAGAIN;
    if (a->stack_addr) {
        g->stack_lo = a->stack_addr;
        g->stack_size = a->stack_size;
    } else {
        if (!gp__default_stack) gp__default_stack = 8u << 20; /* before our constructor ran */
        int r = gp__stack_alloc(g, a->stack_size ? a->stack_size : gp__default_stack);
        if (r) {
            gp__gthread_free(g);
            return r;
        }
    }
    if (g->timer.loop != &w->loop) uv_timer_init(&w->loop, &g->timer);
    g->timer.data = g;
    g->fn = fn;
    g->arg = arg;
    g->detached = a->detached;
    g->sigmask = a->sigmask;
    g->id = w->next_id++;
    g->ctx = make_fcontext((char *)g->stack_lo + g->stack_size, g->stack_size, gthread_entry);
    g->state = GT_READY;
    gp_list_push(&w->runq, &g->runq);
    gp_list_push(&w->all, &g->all);
    w->nlive++;
    gp__stats.created++;
    if ((unsigned long)w->nlive > gp__stats.peak_alive) gp__stats.peak_alive = (unsigned long)w->nlive;
    gp__update_managed();
    *out = g->handle;
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d created, stack %zu KiB", g->id, g->stack_size >> 10);
    return 0;
}

void gp_thread_exit(void *ret)
{
    struct gp_worker *w = gp__w;
    struct gp_gthread *g = w->cur;
    GP_ASSERT(g != &w->sched && g->state == GT_RUNNING);
    if (g->tsd) gp__tsd_run_dtors(g);
    g->ret = ret;
    g->state = GT_DEAD;
    gp_list_del(&g->all);
    w->nlive--;
    if (g->joiner) gp__ready(g->joiner, 0);
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d exits", g->id);
    switch_to(next_to_run());
    gp__fatal("a dead green thread was resumed");
}

int gp_sleep(gp_deadline dl)
{
    struct gp_gthread *g = gp__call_begin();
    int r;
    for (;;) { /* a spurious wake-up does not end a sleep */
        r = gp__park("sleep", dl, GP_NORESTART);
        if (r == -EINTR) break;
        if (r == -ETIMEDOUT || dl < 0 || gp_now() >= dl) {
            r = 0;
            break;
        }
    }
    gp__call_end(g);
    return r;
}

void gp_fork_child(void)
{
    struct gp_worker *w = gp__w;
    if (!w) return;
    if (w->cur != &w->sched && w->cur != w->g0) gp__thread_inherit(w->cur);
    /* The child keeps the calling gthread only, now a plain thread; the
     * loop's epoll instance is shared with the parent and must not be
     * touched: drop our copies of its fds and start afresh on demand. */
    R(close)(w->loop.backend_fd);
    R(close)(w->loop.async_io_watcher.fd);
    if (w->loop.async_wfd >= 0 && w->loop.async_wfd != w->loop.async_io_watcher.fd) R(close)(w->loop.async_wfd);
    gp__fd_fork_reset();
    gp__sync_fork_reset();
    gp__pool_fork_reset();
    gp__w = NULL;
    memset(&gp__tls, 0, sizeof gp__tls);
}


/* A preemption point, at hooked calls that did not park (an unlock, a post, a
 * read that found data): a green thread that has kept the worker for a time
 * slice goes around the loop, so that timers fire and the others run. Without
 * it a thread that never has to wait starves everyone (a CPython thread
 * feeding itself work never lets a sleeping main thread wake). The coarse
 * clock is read from the vDSO's memory, not a system call. */
#define SLICE_NS (2 * 1000000LL)
void gp_preempt_check(void)
{
    struct gp_worker *w = gp__w;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    if ((gp_deadline)ts.tv_sec * GP_NSEC + ts.tv_nsec - w->away_since < SLICE_NS) return;
    struct gp_gthread *g = w->cur;
    g->state = GT_READY;
    gp_list_push(&w->runq, &g->runq);
    w->budget = 0;
    switch_to(&w->sched);
}
