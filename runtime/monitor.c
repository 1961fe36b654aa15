/* monitor.c — what gpatch tells its user while a program runs:
 *   GPATCH_STATS=1      one block on stderr at exit (counters below);
 *   GPATCH_MONITOR_MS=N a watchdog OS thread reports a worker that has not
 *                       come back to its loop for N ms: which gthread, the
 *                       last hooked call it made, and a backtrace, once per
 *                       stall (gevent's monitor thread, for native code);
 *   stack overflow      a fault in a gthread's guard page (or below its
 *                       stack) is reported as such, then the process dies
 *                       the way it would stock; a broken canary found at a
 *                       switch is reported the same way, then abort().
 * Everything here writes with the real write(2) (log.c).
 */
#include "internal.h"

#include <errno.h>
#include <execinfo.h>
#include <linux/futex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "real.h"

struct gp_stats gp__stats;
int gp__stats_on;
#define stats_on gp__stats_on
static long monitor_ms;
int gp_trace_calls;

void gp_trace_call(const char *name)
{
    struct gp_worker *w = GP_ME();
    gp_debugf("gthread %d calls %s", w && w->cur ? w->cur->id : 0, name);
}

/* ---- statistics ------------------------------------------------------------- */
/* any worker (several may count at once: a slot is claimed by CAS) */
void gp__stat_park(const char *reason)
{
    for (int i = 0; i < GP_STAT_REASONS; i++) {
        const char *r = __atomic_load_n(&gp__stats.reason[i], __ATOMIC_ACQUIRE);
        if (!r && __atomic_compare_exchange_n(&gp__stats.reason[i], &r, reason, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
            r = reason;
        if (r == reason) {
            __atomic_add_fetch(&gp__stats.parks[i], 1, __ATOMIC_RELAXED);
            return;
        }
    }
}

/* any thread: every worker's switches (each counts its own, unlocked: a
 * figure read while they run may lag) */
unsigned long gp__stats_switches(void)
{
    unsigned long n = 0;
    for (int i = 0; i < gp__nworkers; i++)
        if (gp__workers[i]) n += __atomic_load_n(&gp__workers[i]->switches, __ATOMIC_RELAXED);
    return n;
}

static void print_stats(void)
{
    char buf[1536];
    int n = snprintf(buf, sizeof buf,
                     "gpatch stats [%d]: gthreads created %lu, peak alive %lu; switches %lu; loop turns %lu; "
                     "pool jobs %lu; longest worker stall %.1f ms; preemptions %lu; hand-offs %lu, peak OS threads %lu; moved by stealing %lu (%lu at a call's end)\n",
                     (int)getpid(), gp__stats.created, gp__stats.peak_alive, gp__stats_switches(), gp__stats.turns,
                     gp__stats.pool_jobs, __atomic_load_n(&gp__stats.longest_stall_ns, __ATOMIC_RELAXED) / 1e6,
                     __atomic_load_n(&gp__stats.preempts, __ATOMIC_RELAXED), gp__stats.handoffs,
                     gp__stats.peak_os ? gp__stats.peak_os : (unsigned long)(gp__nworkers > 0 ? gp__nworkers : 1), __atomic_load_n(&gp__stats.steals, __ATOMIC_RELAXED),
                     __atomic_load_n(&gp__stats.steals_offered, __ATOMIC_RELAXED));
    n += snprintf(buf + n, sizeof buf - (size_t)n, "gpatch stats [%d]: parks by reason:", (int)getpid());
    for (int i = 0; i < GP_STAT_REASONS && gp__stats.reason[i] && n < (int)sizeof buf - 64; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, " %s %lu", gp__stats.reason[i], gp__stats.parks[i]);
    if (n < (int)sizeof buf - 1) buf[n++] = '\n';
    if (n < (int)sizeof buf - 64) {
        n += snprintf(buf + n, sizeof buf - (size_t)n, "gpatch stats [%d]: ", (int)getpid());
        if (n < (int)sizeof buf) n += gp__stack_report(buf + n, sizeof buf - (size_t)n);
        if (n > (int)sizeof buf - 1) n = (int)sizeof buf - 1;
        buf[n++] = '\n';
    }
    (void)!R(write)(2, buf, (size_t)n);
}

/* ---- the blocking monitor ------------------------------------------------------ */
#define BT_SIG (SIGRTMIN + 7)
static volatile int bt_done;

static void on_bt(int sig, siginfo_t *si, void *uc)
{
    (void)sig;
    (void)si;
    (void)uc;
    int e = errno;
    void *frames[32];
    int n = backtrace(frames, 32);
    backtrace_symbols_fd(frames, n, 2);
    bt_done = 1;
    errno = e;
}

int gp__monitor_sig(void) { return BT_SIG; }

/* the monitor's thread: looks at every worker in turn */
static void *watchdog(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_BLOCK, &all, NULL);
    /* per worker, the loop turn (its away_since) a stall was reported in */
    static gp_deadline reported[GP_MAX_WORKERS];
    for (;;) {
        struct timespec ts = {monitor_ms / 2000, (monitor_ms / 2 % 1000) * 1000000};
        R(nanosleep)(&ts, NULL);
        int nw = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
        for (int i = 0; i < nw; i++) {
        struct gp_worker *w = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
        if (!w || !w->tls) continue;
        gp_deadline since = __atomic_load_n(&w->away_since, __ATOMIC_ACQUIRE);
        if (!since || since == reported[i]) continue; /* home, or this stall was told */
        gp_deadline away = gp_now() - since;
        if (away < monitor_ms * 1000000LL) continue;
        reported[i] = since; /* once per stall */
        struct gp_gthread *g = __atomic_load_n(&w->cur, __ATOMIC_ACQUIRE);
        const char *last = __atomic_load_n(&w->tls->last, __ATOMIC_ACQUIRE);
        gp_debugf("monitor: worker %d has not returned to its loop for %lld ms: green thread %d is running "
                  "(last hooked call: %s); a computation, or a blocking call gpatch does not reroute. Its stack:",
                  i, (long long)(away / 1000000), g ? g->id : -1, last ? last : "none");
        bt_done = 0;
        R(pthread_kill)((pthread_t)w->os_thread, BT_SIG);
        for (int j = 0; j < 100 && !bt_done; j++) {
            struct timespec t = {0, 1000000};
            R(nanosleep)(&t, NULL);
        }
        }
    }
    return NULL;
}

/* ---- stack overflow ------------------------------------------------------------ */
/* signal-safe: the one overflow message, from a fault or a broken canary */
static void overflow_say(const struct gp_gthread *g)
{
    gp_debugf("green thread %d overflowed its %zu KiB stack; raise GPATCH_STACK_SIZE "
              "(gpatch run --stack-size) or the program's pthread_attr_setstacksize",
              g->id, g->stack_size >> 10);
}

/* worker (switch_to): a canary-checked stack overflowed and its thread went
 * on to a switch. Its memory below, another thread's, may be corrupt: no
 * fault to re-raise, so abort(). */
void gp__overflow_abort(struct gp_gthread *g)
{
    overflow_say(g);
    gp_debugf("(the canary under its stack was overwritten, seen at a switch; GPATCH_STACK_GUARD=guard "
              "puts a guard page under every stack instead, while vm.max_map_count allows)");
    abort();
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    struct gp_worker *w = GP_ME();
    if (w) {
        struct gp_gthread *g = w->cur;
        const char *sp = NULL;
#if defined(__x86_64__)
        sp = (const char *)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
#elif defined(__aarch64__)
        sp = (const char *)((ucontext_t *)uc)->uc_mcontext.sp;
#endif
        /* SI_KERNEL, no address: the kernel could not write a signal's
         * frame (a preemption's, 3-4 KiB with AVX-512 state) under the
         * stack pointer; near the bottom of a stack of ours, an overflow */
        int no_frame = si->si_code == SI_KERNEL && g && g != &w->sched && g->arena && sp &&
                       sp >= (const char *)g->stack_lo && sp < (const char *)g->stack_lo + 8192;
        if (g && g != &w->sched && (no_frame || gp__stack_overflowed(g, si->si_addr, sp))) overflow_say(g);
    }
    /* die as stock would: default action, the fault happens again on return */
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    R(sigaction)(sig, &d, NULL);
}

/* --stats and the signals that stop servers: SIGTERM, SIGINT or SIGHUP left
 * at their default action ends the process without exit handlers, so the
 * counters atexit would print were lost. Where the program left one at its
 * default when the runtime started, this handler stands for the default (the
 * program's sigaction and signal read SIG_DFL: gp_runtime_handler): it
 * prints the counters, puts the default back and lets the signal end the
 * process as it would have, by the same signal. A handler the program
 * installs later replaces it. */
static const int stop_sigs[] = {SIGTERM, SIGINT, SIGHUP};

static void on_stop(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    print_stats();
    struct sigaction d;
    memset(&d, 0, sizeof d);
    d.sa_handler = SIG_DFL;
    R(sigaction)(sig, &d, NULL);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, sig);
    R(syscall)(SYS_tgkill, getpid(), R(syscall)(SYS_gettid), sig);
    R(pthread_sigmask)(SIG_UNBLOCK, &one, NULL); /* pending on this thread: delivered now, default action */
}

static void stats_at_stop(void)
{
    for (size_t i = 0; i < sizeof stop_sigs / sizeof *stop_sigs; i++) {
        struct sigaction cur;
        if (R(sigaction)(stop_sigs[i], NULL, &cur) != 0 || cur.sa_handler != SIG_DFL || (cur.sa_flags & SA_SIGINFO))
            continue;
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_stop;
        sa.sa_flags = SA_SIGINFO | SA_RESTART;
        R(sigaction)(stop_sigs[i], &sa, NULL);
    }
}

/* On the worker at start: an alternate signal stack for the overflow report,
 * the SIGSEGV handler (unless the program has its own), stats, monitor. */
void gp__monitor_start(struct gp_worker *w)
{
    stack_t ss = {.ss_size = 64 * 1024, .ss_flags = 0};
    ss.ss_sp = malloc(ss.ss_size);
    stack_t old;
    if (ss.ss_sp && sigaltstack(NULL, &old) == 0 && (old.ss_flags & SS_DISABLE)) sigaltstack(&ss, NULL);
    struct sigaction cur;
    if (R(sigaction)(SIGSEGV, NULL, &cur) == 0 && cur.sa_handler == SIG_DFL && !(cur.sa_flags & SA_SIGINFO)) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        R(sigaction)(SIGSEGV, &sa, NULL);
    }
    if (stats_on) {
        atexit(print_stats);
        stats_at_stop();
    }
    if (monitor_ms > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_bt;
        sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        R(sigaction)(BT_SIG, &sa, NULL);
        void *frames[1];
        backtrace(frames, 1); /* load libgcc now, not in the signal handler */
        pthread_t t;
        pthread_attr_t a;
        pthread_attr_init(&a);
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        pthread_attr_setstacksize(&a, 128 * 1024);
        if (R(pthread_create)(&t, &a, watchdog, w) == 0)
            R(pthread_setname_np)(t, "gpatch-monitor"); /* it runs none of the program's code */
        pthread_attr_destroy(&a);
    }
}

void gp_configure_monitor(int stats, long mon_ms, int trace)
{
    stats_on = stats;
    monitor_ms = mon_ms;
    gp_trace_calls = trace;
}

/* the handler that stands for sig's default action (on_stop, with --stats,
 * for the stop signals), or NULL: the default itself */
void *gp_default_handler(int sig)
{
    if (!stats_on) return NULL;
    for (size_t i = 0; i < sizeof stop_sigs / sizeof *stop_sigs; i++)
        if (stop_sigs[i] == sig) return (void *)on_stop;
    return NULL;
}

int gp_runtime_handler(void *fn)
{
    return fn == (void *)on_segv || fn == (void *)on_stop || gp__preempt_handler(fn);
}
