/* preempt.c — a green thread that computes is preempted (GPATCH_PREEMPT_MS,
 * default 10; 0 off), in both TLS modes and with any number of workers.
 *
 * The clock: every OS thread that runs a worker's scheduler has a periodic
 * CPU-time timer of its own (made the first time it does: gp__preempt_arm):
 * a period is half a slice of the CPU time it uses, or 2 ms if that is less
 * (the kernel looks at CPU-time timers at its tick: every 4 ms at HZ=250).
 * Its signal, PREEMPT_SIG, comes only while that thread computes -- one
 * that sleeps in epoll_wait uses no CPU time and is never woken by it --
 * and, being a CPU-time timer's, it is generated on the thread's way back
 * to user mode (posix-cpu-timers task work, Linux >= 5.11 on x86_64): after
 * any system call the thread was in has its own result, so it interrupts
 * the program's code and never makes a call return EINTR (handoff.c's
 * arm_timer, the same reasoning).
 *
 * The handler, on that thread, counts the ticks at which it finds the same
 * green thread running with no switch of the worker's between (w->pre_*).
 * One more than a slice has periods: it has had its slice. Sooner when
 * someone else waits to run -- another gthread ready, or an fd event, a
 * due timer or a wake waiting in the loop (others_wait) -- as soon as it
 * has run a period (seen at two ticks, or the loop not polled for a
 * period). That, and the preempted waiting behind the ready (sched.c,
 * batch_turn), keep a request from waiting long behind a computation. It
 * is preempted if it stands at a safe point:
 *  - it runs on its worker (not a handler's code, not left behind by a
 *    hand-off, gp__tls.managed == 1: more than one green thread alive);
 *  - it is not inside a hooked call (in_call) and holds no lock glibc
 *    ties to its OS thread (foreign: robust, priority-inheritance,
 *    priority-protect; the others of its worker would wait for it in
 *    glibc, on this OS thread);
 *  - the interrupted instruction is the program's (or a library's that is
 *    not libc, the loader, the vDSO, the unwinder, libgpatch or libuv), and
 *    no frame of those lies between it and the bottom of the stack
 *    (walk.c, gp__walk_preempt): glibc is not inside malloc, stdio, the
 *    loader or a lock of its own, and gpatch is not running a callback.
 * Otherwise it tries again at the next tick.
 *
 * Preempted, the thread goes to the back of its run queue, behind every
 * other ready one (movable: with own TLS another worker may steal it) and the handler switches to the
 * scheduler, with the OS thread's signal mask put back to the interrupted
 * one first (the handler's own blocks everything). The handler's frame,
 * with the kernel's signal frame under it, stays on the green thread's
 * stack: when it runs again, the handler returns and rt_sigreturn restores
 * every register the kernel saved -- general, x87/SSE/AVX/AVX-512 and
 * their control words -- exactly; errno is restored by the switch (sched.c)
 * and by the handler. Before returning it writes into the saved context the
 * signal mask and alternate stack of the OS thread it resumes on, which is
 * another one when it was stolen (sigreturn would otherwise load the first
 * one's there).
 *
 * If the program installs a handler for PREEMPT_SIG itself, preemption
 * stops (the timers are deleted) and the signal is the program's.
 */
#include "internal.h"
#include "tls.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "real.h"

#define PREEMPT_SIG GP_PREEMPT_SIG
#define TIMER_COOKIE 0x70720000 /* the timer's si_value: | its slot in timers[] */
#define MAX_TIMERS 256          /* workers' threads and carriers: at most GP_MAX_WORKERS + 64 */

long gp__preempt_ms = GP_PREEMPT_MS_DEFAULT;
int gp__preempt_on;     /* running: the handler is installed and timers may be made */
/* the timers' period: half a slice, at most 2 ms (a kernel tick at HZ=250
 * rounds it up to 4 ms); a slice is ticks_per_slice periods */
#define MAX_PERIOD_NS 2000000L
static long period_ns;
static int ticks_per_slice;
static int taken;       /* the program handles PREEMPT_SIG itself: off for good */

/* one timer per OS thread that ran a scheduler; slots are never reused */
static struct ptimer { pid_t tid; int id; } timers[MAX_TIMERS];
static int ntimers, tlock;

/* the preemption signal, or 0 where preemption is configured off */
int gp_preempt_sig(void) { return gp__preempt_ms > 0 ? PREEMPT_SIG : 0; }

/* any thread, signal-safe: the preemption signal while preemption runs (its
 * handler is in, the program has not taken it), else 0 -- before the
 * runtime starts the signal is the program's as stock (shim/signal.c) */
int gp_preempt_running(void) { return __atomic_load_n(&gp__preempt_on, __ATOMIC_ACQUIRE) ? PREEMPT_SIG : 0; }

/* any thread, once, before the runtime starts (the shim's constructor) */
void gp_configure_preempt(long ms) { gp__preempt_ms = ms; }

/* signal-safe */
static pid_t slot_tid(int slot)
{
    return slot >= 0 && slot < MAX_TIMERS ? __atomic_load_n(&timers[slot].tid, __ATOMIC_ACQUIRE) : 0;
}

/* signal-safe, on w's owner with its gthread in the program's code: is
 * anyone else of w's waiting to run -- ready, or readied as soon as the loop
 * is polled (an fd event, a due timer, a wake from another thread)? The
 * peek at the loop's epoll set takes nothing from it (level-triggered). */
static int others_wait(struct gp_worker *w)
{
    if (!gp_list_empty(&w->runq) || __atomic_load_n(&w->inbox_pending, __ATOMIC_RELAXED) ||
        __atomic_load_n(&w->remote_pending, __ATOMIC_RELAXED) || __atomic_load_n(&w->rejoin, __ATOMIC_RELAXED))
        return 1;
    int t = uv_backend_timeout(&w->loop);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    if (t == 0 || (t > 0 && uv_now(&w->loop) + (uint64_t)t <= (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000))
        return 1;
    struct epoll_event ev;
    return R(syscall)(SYS_epoll_wait, w->loop.backend_fd, &ev, 1, 0) > 0;
}

/* the handler's look, on the OS thread the timer's slot names: may the
 * green thread it interrupted at uc be preempted now? */
static int may_preempt(struct gp_worker *w, int slot, const ucontext_t *uc)
{
    if (!w || w != gp__tls.worker || gp__tls.evicted || gp__tls.in_handler || gp__tls.managed != 1) return 0;
    pid_t owner = w->carrier ? w->carrier->tid : w->tid;
    if (slot_tid(slot) != owner) return 0; /* a thread that no longer owns the worker */
    struct gp_gthread *g = w->cur;
    if (g == &w->sched || g->state != GT_RUNNING) return 0;
    if (w->pre_g != g || w->pre_switches != w->switches) { /* it switched since the last tick */
        w->pre_g = g;
        w->pre_switches = w->switches;
        w->pre_ticks = 0;
    }
    /* Seen at ticks_per_slice + 1 ticks in a row: a slice at least. Sooner
     * when another gthread waits to run: once it has run a period (seen at
     * two ticks), or the worker has not polled its loop for a period (it
     * began after a poll, so it has run that long) */
    if (++w->pre_ticks <= ticks_per_slice) {
        gp_deadline away = __atomic_load_n(&w->away_since, __ATOMIC_RELAXED);
        int ran = w->pre_ticks >= 2 || (away && gp_now() - away >= period_ns);
        if (!ran || !others_wait(w)) return 0;
    }
    if (g->in_call || g->foreign || g->skipping || (g != w->g0 && !__atomic_load_n(&g->in_fn, __ATOMIC_RELAXED)))
        return 0;
    if (gp__holds_stream(g)) return 0; /* a stream's lock, glibc's too (stdio.c) */
    /* hooked calls made by the unwinder (its own locks) pass through to libc */
    gp__tls.managed = 0;
    int ok = gp__walk_preempt((uintptr_t)uc->uc_mcontext.gregs[REG_RIP], g == w->g0);
    gp__tls.managed = 1;
    return ok;
}

static void on_preempt(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    ucontext_t *uc = ucv;
    if (si->si_code != SI_TIMER || (si->si_value.sival_int & ~0xffff) != TIMER_COOKIE) return;
    int e = errno;
    struct gp_worker *w = gp__tls.worker;
    if (gp__w && may_preempt(w, si->si_value.sival_int & 0xffff, uc)) {
        /* the kernel saved (and fills) only the first 8 bytes of the mask */
        R(syscall)(SYS_rt_sigprocmask, SIG_SETMASK, &uc->uc_sigmask, NULL, 8);
        gp__preempt_yield(); /* sched.c: back when it is its turn again, maybe elsewhere */
        R(syscall)(SYS_rt_sigprocmask, SIG_BLOCK, NULL, &uc->uc_sigmask, 8);
        stack_t ss;
        if (sigaltstack(NULL, &ss) == 0) {
            ss.ss_flags &= ~SS_ONSTACK;
            uc->uc_stack = ss;
        }
    }
    errno = e;
}

/* worker w's scheduler, on the OS thread tid that owns w now and had no
 * timer here yet (sched.c notes it in w->ptimer_tid): its periodic timer */
void gp__preempt_arm(struct gp_worker *w, pid_t tid)
{
    w->ptimer_tid = tid;
    if (!__atomic_load_n(&gp__preempt_on, __ATOMIC_ACQUIRE)) return;
    while (__atomic_exchange_n(&tlock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
    int have = 0;
    for (int i = 0; i < ntimers; i++)
        if (timers[i].tid == tid) have = 1;
    if (have || ntimers == MAX_TIMERS || taken) {
        __atomic_store_n(&tlock, 0, __ATOMIC_RELEASE);
        return;
    }
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = PREEMPT_SIG;
    ev.sigev_value.sival_int = TIMER_COOKIE | ntimers;
    ev._sigev_un._tid = tid;
    clockid_t clk = (clockid_t)(~(unsigned)tid << 3 | 4 | 2); /* the thread's CPU clock (CPUCLOCK_SCHED) */
    int id;
    if (R(syscall)(SYS_timer_create, clk, &ev, &id) == 0) {
        long p = period_ns;
        struct itimerspec its = {{p / GP_NSEC, p % GP_NSEC}, {p / GP_NSEC, p % GP_NSEC}};
        timers[ntimers].id = id;
        __atomic_store_n(&timers[ntimers].tid, tid, __ATOMIC_RELEASE);
        ntimers++;
        R(syscall)(SYS_timer_settime, id, 0, &its, NULL);
    } else if (GP_UNLIKELY(gp_debug_on)) {
        gp_debugf("preemption: no CPU-time timer for thread %d (%s): its green threads are never preempted",
                  (int)tid, strerror(errno));
    }
    __atomic_store_n(&tlock, 0, __ATOMIC_RELEASE);
}

/* main's thread, in gp__start (main is the only gthread yet): the handler,
 * and worker 0's timer on this thread (main computes before it first parks) */
void gp__preempt_start(struct gp_worker *w)
{
    if (gp__preempt_ms <= 0 || taken) {
        if (GP_UNLIKELY(gp_debug_on)) gp_debugf("preemption off (GPATCH_PREEMPT_MS=0): scheduling is cooperative");
        return;
    }
#ifdef GP_TSAN
    return; /* ThreadSanitizer's own signal handling and fibers: not here */
#endif
    /* Shared TLS with a module's thread-local variables (GPATCH_TLS=shared
     * forced; the default gives such a program own TLS): a thread preempted
     * between two instructions would leave them half-used to the others of
     * its worker (a __thread accumulator, libstdc++'s exception state) */
    const char *user = gp__tls_mode == GP_TLS_SHARED ? gp__tls_user() : NULL;
    if (user) {
        if (GP_UNLIKELY(gp_debug_on))
            gp_debugf("preemption off: green threads share their worker's TLS and %s has thread-local variables "
                      "(GPATCH_TLS=own preempts)", user);
        return;
    }
    struct sigaction cur;
    if (R(sigaction)(PREEMPT_SIG, NULL, &cur) != 0 || (cur.sa_handler != SIG_DFL && cur.sa_sigaction != on_preempt)) {
        taken = 1;
        if (GP_UNLIKELY(gp_debug_on))
            gp_debugf("preemption off: the program handles SIGRTMIN+10 (gpatch's preemption signal) itself");
        return;
    }
    /* At least 4 ms: with a slice of 1-3 ms (one period of the timer), a
     * computing thread stopped being preempted for good in rel_preempt_fork
     * (the handler no longer ran; the cause is not found yet). Slices end at
     * the kernel's tick (4 ms at HZ=250) anyway. */
    if (gp__preempt_ms < 4) {
        if (GP_UNLIKELY(gp_debug_on)) gp_debugf("preemption: a slice of %ld ms is taken as 4 ms", gp__preempt_ms);
        gp__preempt_ms = 4;
    }
    long slice = gp__preempt_ms * 1000000L;
    period_ns = slice / 2 < MAX_PERIOD_NS ? slice / 2 : MAX_PERIOD_NS;
    ticks_per_slice = (int)((slice + period_ns - 1) / period_ns);
    gp__code_ranges_init();
    gp__walk_warm();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_preempt;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    /* but a fault in the handler itself -- its frames and the walk's land on
     * the green thread's stack, and run off a nearly full one -- must reach
     * the overflow report (monitor.c's on_segv, on the altstack): blocked,
     * the kernel kills the process with no word (tinystack: 16 KiB stack) */
    sigdelset(&sa.sa_mask, SIGSEGV);
    sigdelset(&sa.sa_mask, SIGBUS);
    sigdelset(&sa.sa_mask, SIGILL);
    sigdelset(&sa.sa_mask, SIGFPE);
    R(sigaction)(PREEMPT_SIG, &sa, NULL);
    __atomic_store_n(&gp__preempt_on, 1, __ATOMIC_RELEASE);
    gp__preempt_arm(w, w->tid);
    if (GP_UNLIKELY(gp_debug_on))
        gp_debugf("preemption on: a green thread computing for %ld ms without a call is preempted at a safe point",
                  gp__preempt_ms);
}

/* the program's sigaction of PREEMPT_SIG (shim/signal.c), before its own
 * goes in: preemption stops and the signal is the program's */
void gp_preempt_taken(void)
{
    __atomic_store_n(&gp__preempt_on, 0, __ATOMIC_RELEASE);
    while (__atomic_exchange_n(&tlock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
    if (!taken) {
        taken = 1;
        for (int i = 0; i < ntimers; i++) R(syscall)(SYS_timer_delete, timers[i].id);
        if (GP_UNLIKELY(gp_debug_on))
            gp_debugf("preemption off: the program handles SIGRTMIN+10 (gpatch's preemption signal) itself");
    }
    __atomic_store_n(&tlock, 0, __ATOMIC_RELEASE);
}

/* signal-safe: fn is the preemption handler (sigaction's answer: SIG_DFL) */
int gp__preempt_handler(void *fn) { return fn == (void *)on_preempt; }

/* the child of a fork, its only thread: timers are not inherited */
void gp__preempt_fork_reset(void)
{
    ntimers = 0;
    tlock = 0;
    memset(timers, 0, sizeof timers);
}
