/* handoff.c — hand-off of a stuck worker (GPATCH_HANDOFF_MS, default 10 ms; 0 off).
 *
 * Code gpatch cannot see -- stdio reading a pipe through glibc's internal
 * read, a raw system call, a compute loop, a spin on a plain flag -- keeps
 * the worker's OS thread, and with it every green thread. Here a monitor
 * notices a worker that has not come back to its loop for longer than the
 * threshold and hands the worker (run queue, loop, scheduler context) to
 * another OS thread, a carrier: a spare started on demand (at most
 * MAX_CARRIERS), parked on a futex between uses and reused. Only the green
 * thread that is stuck keeps the old OS thread (GT_AWAY); when it next enters
 * gpatch it gives that OS thread back, which becomes a spare, and queues
 * itself for the worker (sched.c: gp__rejoin, gp__rejoin_post). One stuck
 * for good simply keeps its OS thread.
 *
 * Only with own TLS (tls.c): a green thread resumes on another OS thread
 * only if its thread-local storage goes with it. With shared TLS the worker
 * is never handed off (GPATCH_DEBUG says so once).
 *
 * How the worker is taken from a running gthread safely. The monitor cannot
 * stop the owner OS thread where it stands: the gthread may be inside the
 * runtime, halfway through the run queue. So it asks the owner itself: it
 * sends it HANDOFF_SIG, and the handler, running on that thread with the
 * gthread interrupted, hands off only if the interrupted code is not
 * gpatch's. It walks the interrupted stack (libgcc's unwinder) from the
 * interrupted instruction outwards: frames in libc, the loader or the vDSO
 * are passed over (the program called them); the first other frame must be
 * the program's, and no frame of gpatch's or libuv's may lie between it and
 * the bottom of the stack, but the green thread's entry (walk_step: the
 * runtime is at work, maybe inside a library it called -- a malloc that is
 * not libc's -- or a callback it runs; walk.c). Signal handlers running (in_handler) and a
 * thread that is not on the worker (worker == 0) are refused too. A refusal
 * costs nothing: the monitor asks again at its next look.
 *
 * A signal interrupts a system call, and some calls return EINTR after a
 * handler even under SA_RESTART (nanosleep, poll, epoll_wait, a timed futex,
 * a socket read with SO_RCVTIMEO...): the program would see an EINTR stock
 * never gives. So the owner is interrupted one of two ways
 * (how_to_interrupt). Blocked in a call SA_RESTART restarts as if nothing
 * happened -- read, write (and their vector and positional forms) on an fd
 * that is not a socket, wait4, flock, a futex wait without a timeout, as
 * /proc/self/task/TID/stat and .../syscall show -- it is sent the signal
 * (tgkill). Otherwise (computing, or in any other call) the monitor arms a
 * one-shot CPU-time timer on that thread (arm_timer): the kernel notices
 * its expiry at a tick while the thread runs and generates the signal on
 * the thread's way back to user mode, after the system call it may have
 * been in has its result: the handler interrupts the program's own code,
 * never a call. (Before, a computing owner was sent a tgkill after a look
 * at its user time: one that entered a sleep just after the look got
 * EINTR from it, a few times a thousand calls: rel_handoff_eintr.) There
 * remains one window: between the look that saw a restartable call and the
 * tgkill, that call may end and a call that is not restartable begin.
 *
 * The token: the carrier's word (struct gp_carrier). The monitor picks a
 * carrier and publishes it in handoff_to; the handler claims it with a
 * compare-and-swap (so one hand-off at a time), does the worker's side
 * (gp__evict: the gthread goes GT_AWAY, w->cur, w->carrier...) and stores
 * word = 1 with release; the carrier loads it with acquire and only then
 * touches the worker. The old thread cannot be "returning to the scheduler
 * at that very moment": the decision is taken on that thread, with its
 * gthread stopped in the program's code, and the gthread's next entry into
 * gpatch sees managed == 2 (written by the handler, on its own thread,
 * before the handler returns) and goes to gp__rejoin instead.
 */
#include "internal.h"
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "real.h"

#define HANDOFF_SIG (SIGRTMIN + 6)
#define MAX_CARRIERS 64
#define IDLE_STACK (64u * 1024)

long gp__handoff_ms = GP_HANDOFF_MS_DEFAULT; /* gp_configure_handoff changes it; 0 off */
static long threshold_ms;
static struct gp_worker *hw;           /* the runtime's worker 0 while hand-off is on */
static struct gp_carrier *spares;      /* idle carriers, under spare_lock */
static int spare_lock, ncarriers;
static int taken_over;                 /* the program installed its own SIGRTMIN+6 handler */
/* the tids of every carrier made (spares and workers' first): a green
 * thread's glibc id is one of them or a worker's (worker.c, gp_tid_is_worker) */
static pid_t carrier_tids[MAX_CARRIERS + GP_MAX_WORKERS];
static int ncarrier_tids;

/* any thread: note a carrier's tid (once, as it starts) */
static void note_tid(pid_t tid)
{
    int i = __atomic_fetch_add(&ncarrier_tids, 1, __ATOMIC_RELAXED);
    if (i < (int)(sizeof carrier_tids / sizeof *carrier_tids)) __atomic_store_n(&carrier_tids[i], tid, __ATOMIC_RELEASE);
}

/* any thread: is tid a carrier's? */
int gp__carrier_tid_known(pid_t tid)
{
    int n = __atomic_load_n(&ncarrier_tids, __ATOMIC_ACQUIRE);
    if (n > (int)(sizeof carrier_tids / sizeof *carrier_tids)) n = (int)(sizeof carrier_tids / sizeof *carrier_tids);
    for (int i = 0; i < n; i++)
        if (__atomic_load_n(&carrier_tids[i], __ATOMIC_ACQUIRE) == tid) return 1;
    return 0;
}

/* What the monitor keeps per worker (by index). to: the carrier the worker's
 * next hand-off goes to (the monitor publishes it, the handler claims it).
 * sig_sent: a hand-off signal is on its way, or the timer is armed (the
 * monitor sends the next one only after the handler ran, or a second later:
 * the owner may block it, or sleep). timer: the CPU-time timer on the owner
 * timer_tid (arm_timer), made anew when the owner changes. */
static struct watch {
    struct gp_carrier *to;
    int sig_sent;
    gp_deadline sig_sent_at;
    int timer;      /* the kernel's id of the CPU-time timer on the owner (timer_tid), when timer_tid */
    pid_t timer_tid;
    /* the running owner's CPU time when a look first saw this away_since
     * (run_since): preemption's slices are CPU time, and so is the wait
     * for them (look_at) */
    gp_deadline run_since;
    pid_t run_tid;
    int64_t run_cpu;
} watch[GP_MAX_WORKERS];
#define TIMER_COOKIE 0x68616e00 /* the timer's si_value: | the worker's index */
static int no_timers; /* timer_create refused: computing owners are never interrupted */

/* any thread, once, before the runtime starts (the shim's constructor) */
void gp_configure_handoff(long ms)
{
    gp__handoff_ms = ms;
}

/* any OS thread, never a signal handler */
static void slock(void)
{
    while (__atomic_exchange_n(&spare_lock, 1, __ATOMIC_ACQUIRE))
        while (__atomic_load_n(&spare_lock, __ATOMIC_RELAXED)) __builtin_ia32_pause();
}
static void sunlock(void) { __atomic_store_n(&spare_lock, 0, __ATOMIC_RELEASE); }

/* ---- the handler: on the owner OS thread ------------------------------------------- */
static void on_handoff(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    ucontext_t *uc = ucv;
    struct gp_worker *w = gp__tls.worker; /* of the block loaded: the interrupted gthread's (or a borrowed one) */
    int from_timer = si->si_code == SI_TIMER && (si->si_value.sival_int & ~0xff) == TIMER_COOKIE;
    if ((!from_timer && (si->si_code != SI_TKILL || si->si_pid != getpid())) || !hw || hw != gp__w || !w ||
        w->index < 0 || w->index >= GP_MAX_WORKERS || gp__workers[w->index] != w ||
        (from_timer && (si->si_value.sival_int & 0xff) != w->index))
        return; /* not ours, or a timer's of another worker (an owner's that has changed) */
    struct watch *k0 = &watch[w->index];
    __atomic_store_n(&k0->sig_sent, 0, __ATOMIC_RELAXED);
    int e = errno;
    struct gp_carrier *c = __atomic_load_n(&k0->to, __ATOMIC_ACQUIRE);
    struct gp_gthread *g = w->cur;
    gp_deadline since = w->away_since;
    /* on the worker, in a gthread on its own block, no program handler running */
    /* Not while a gthread of w holds one of the loader's locks (inside
     * dlopen's constructors, a dl_iterate_phdr callback): glibc tells their
     * holders apart by the tid in the thread's descriptor, which every gthread
     * of w shares, so the worker's others, running beside the away one,
     * would walk in. (gp__dl_locked_by only reads the locks' owner words.) */
    /* a gthread other than main only between the call of its start
     * routine and its return (gthread_entry's own calls -- a sanitizer's
     * runtime, before gp_thread_exit -- are no program code) */
    /* Nor while it holds a mutex glibc ties to its OS thread (robust,
     * priority-inheritance, priority-protect: g->foreign): it would keep its OS thread's id but, at
     * its first call back into gpatch, not its OS thread, and the kernel
     * ties a priority-inheritance mutex to the thread (FUTEX_UNLOCK_PI from
     * another is refused, its waiters boost the wrong one: rel_handoff_locks
     * pi-shared, where the process-shared lock's next owner then found it
     * "owner died"). Such a holder does not park either: it keeps its worker
     * until it unlocks, as a wait on such a mutex blocks it (README). A plain
     * process-shared mutex's holder parks and moves like any lock's. */
    int ok = c && gp__tls.worker && !gp__tls.evicted && !gp__tls.in_handler && g != &w->sched && !g->foreign &&
             (g == w->g0 || __atomic_load_n(&g->in_fn, __ATOMIC_RELAXED)) &&
             !gp__dl_locked_by(w->tid) &&
             g->state == GT_RUNNING && g->tcb && g->tcb == gp__tls_current() && __atomic_load_n(&gp__nlive, __ATOMIC_RELAXED) > 1 && since &&
             gp_now() - since >= threshold_ms * 1000000LL;
    if (ok) ok = gp__walk_handoff((uintptr_t)uc->uc_mcontext.gregs[REG_RIP]); /* walk.c */
    /* claim the carrier: the monitor publishes at most one at a time */
    if (ok && __atomic_compare_exchange_n(&k0->to, &c, NULL, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
        /* the kernel fills only the first 8 bytes of the interrupted mask */
        sigemptyset(&w->os_mask);
        memcpy(&w->os_mask, &uc->uc_sigmask, 8);
        if (GP_UNLIKELY(gp_debug_on))
            gp_debugf("hand-off: green thread %d has kept the worker for %lld ms (last hooked call: %s); "
                      "it keeps this OS thread, the worker goes to thread %d",
                      g->id, (long long)((gp_now() - since) / 1000000), gp__tls.last ? gp__tls.last : "none",
                      (int)c->tid);
        gp__evict(c); /* ends with the release store of c->word */
        long r;
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "0"((long)SYS_futex), "D"(&c->word), "S"((long)FUTEX_WAKE_PRIVATE), "d"(1L)
                         : "rcx", "r11", "memory");
        (void)r;
    }
    errno = e;
}

/* ---- carriers ------------------------------------------------------------------ */
static void carrier_loop(struct gp_carrier *c, transfer_t t);

/* a carrier, idle again: block its signals (but glibc's own) and queue g */
static __attribute__((noinline)) void carrier_idle_again(struct gp_gthread *g)
{
    gp__tls.worker = 0;
    gp__tls.managed = 0;
    gp__tls.evicted = NULL;
    sigset_t all;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_BLOCK, &all, NULL);
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("hand-off: thread %d is idle again, gthread %d queued", (int)gettid(), g->id);
    gp__rejoin_post(g);
}

/* a carrier: wait until the next hand-off names it (acquire: see the top) */
static __attribute__((noinline)) void carrier_wait(struct gp_carrier *c)
{
    slock();
    if (!c->reserved) {
        c->next = spares;
        spares = c;
    }
    sunlock();
    while (!__atomic_load_n(&c->word, __ATOMIC_ACQUIRE))
        R(syscall)(SYS_futex, &c->word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    c->word = 0;
    c->reserved = 0;
}

/* on carrier c: t.data is a gthread that kept c and has come back (its
 * context in t.fctx), or NULL; then serve hand-offs, forever */
static void carrier_loop(struct gp_carrier *c, transfer_t t)
{
    for (;;) {
        if (t.data) {
            struct gp_gthread *g = t.data;
            g->ctx = t.fctx;
            /* off g's block before anything uses thread-local storage: g
             * will run on the worker's thread with it */
            gp__tls_load(c->idle_tcb);
            carrier_idle_again(g);
        }
        carrier_wait(c);
        t = gp__sched_take(c);
    }
}

/* a worker's first carrier (its original OS thread), first entered by the
 * gthread that kept it and comes back (gp__rejoin: t.data) */
static void first_carrier_entry(transfer_t t)
{
    struct gp_gthread *g = t.data;
    carrier_loop(g->carrier, t);
}

static void *carrier_main(void *arg)
{
    struct gp_carrier *c = arg;
    /* an alternate stack for the overflow report (monitor.c), as every
     * worker's: it may carry one */
    stack_t ss = {.ss_size = 64 * 1024, .ss_flags = 0};
    if ((ss.ss_sp = malloc(ss.ss_size))) sigaltstack(&ss, NULL);
    sigset_t all;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_BLOCK, &all, NULL);
    c->idle_tcb = gp__tls_current();
    note_tid(gettid());
    __atomic_store_n(&c->tid, gettid(), __ATOMIC_RELEASE); /* carrier_get waits for it */
    carrier_loop(c, (transfer_t){0, NULL});
    return NULL;
}

/* the monitor: a carrier for the next hand-off, reserved (idle or new) */
static struct gp_carrier *carrier_get(void)
{
    slock();
    struct gp_carrier *c = spares;
    if (c) {
        spares = c->next;
        c->reserved = 1;
    }
    sunlock();
    if (c || ncarriers >= MAX_CARRIERS) return c;
    c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->reserved = 1;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 128 * 1024);
    int r = R(pthread_create)(&c->pt, &a, carrier_main, c);
    pthread_attr_destroy(&a);
    if (r) {
        free(c);
        return NULL;
    }
    /* named by its creator, so that nobody sees it under another name */
    R(pthread_setname_np)(c->pt, "gpatch-carrier");
    /* its tid before anyone may hand it a worker: the worker's gthreads take
     * it as theirs (gp__evict) */
    while (!__atomic_load_n(&c->tid, __ATOMIC_ACQUIRE)) {
        struct timespec ts = {0, 100000};
        R(nanosleep)(&ts, NULL);
    }
    ncarriers++;
    return c;
}

/* ---- the monitor -------------------------------------------------------------------- */
static long read_file(const char *path, char *buf, size_t n)
{
    int fd = (int)R(syscall)(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    long r = R(read)(fd, buf, n - 1);
    R(close)(fd);
    if (r < 0) return -1;
    buf[r] = 0;
    return r;
}

/* How may thread tid be interrupted without changing what any of its system
 * calls returns? (see the top) SEND: it sleeps in a call SA_RESTART restarts
 * as if nothing happened: a signal now. TIMER: anything else: a CPU-time
 * timer, whose signal comes only as the thread returns to its own code. */
enum { SEND = 1, TIMER };

/* thread tid's state letter (R running, S or D asleep in the kernel...), 0 unknown */
static char task_state(pid_t tid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    if (read_file(path, buf, sizeof buf) < 0) return 0;
    char *p = strrchr(buf, ')');
    return p && p[1] == ' ' ? p[2] : 0;
}

static int how_to_interrupt(pid_t tid, char state)
{
    char path[64], buf[512];
    if (state != 'S' && state != 'D') return TIMER;
    snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
    if (read_file(path, buf, sizeof buf) < 0) return TIMER;
    unsigned long a[7] = {0};
    long nr = -1;
    if (sscanf(buf, "%ld %lx %lx %lx %lx %lx %lx", &nr, &a[0], &a[1], &a[2], &a[3], &a[4], &a[5]) < 1) return TIMER;
    switch (nr) {
    case SYS_read: case SYS_readv: case SYS_pread64: case SYS_preadv:
    case SYS_write: case SYS_writev: case SYS_pwrite64: case SYS_pwritev: {
        char fdp[64], link[64];
        snprintf(fdp, sizeof fdp, "/proc/self/fd/%d", (int)a[0]);
        long n = R(syscall)(SYS_readlinkat, AT_FDCWD, fdp, link, sizeof link - 1);
        if (n < 0) return TIMER;
        link[n] = 0;
        return strncmp(link, "socket:", 7) != 0 ? SEND : TIMER; /* a socket may have a timeout: EINTR */
    }
    case SYS_wait4: case SYS_flock:
        return SEND;
    case SYS_futex: {
        int op = (int)a[1] & FUTEX_CMD_MASK;
        return (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET) && a[3] == 0 ? SEND : TIMER;
    }
    default:
        return TIMER;
    }
}

/* The monitor: arm worker k's one-shot CPU-time timer on thread tid (made,
 * or made anew for a new owner). Its expiry is looked at by the kernel's
 * tick while tid runs, and its signal is generated by task work on tid's
 * way back to user mode (posix-cpu-timers with POSIX_CPU_TIMERS_TASK_WORK,
 * x86_64 since Linux 5.11): after any system call it was in has ended with
 * its own result, so the signal interrupts the program's code and nothing
 * else, where a tgkill could land in a system call the thread entered just
 * after the monitor's look (a nanosleep, poll, epoll_wait or timed futex
 * then returned EINTR: rel_handoff_eintr). A thread that sleeps uses no
 * CPU time: it gets the signal once it runs again. 0 armed, -1 no timer. */
static int arm_timer(struct watch *k, int index, pid_t tid)
{
    if (k->timer_tid != tid) {
        if (k->timer_tid) R(syscall)(SYS_timer_delete, k->timer);
        k->timer_tid = 0;
        struct sigevent ev;
        memset(&ev, 0, sizeof ev);
        ev.sigev_notify = SIGEV_THREAD_ID;
        ev.sigev_signo = HANDOFF_SIG;
        ev.sigev_value.sival_int = TIMER_COOKIE | index;
        ev._sigev_un._tid = tid;
        /* the thread's CPU clock (glibc's MAKE_THREAD_CPUCLOCK(tid, CPUCLOCK_SCHED)) */
        clockid_t clk = (clockid_t)(~(unsigned)tid << 3 | 4 | 2);
        int id;
        if (R(syscall)(SYS_timer_create, clk, &ev, &id) != 0) {
            if (!__atomic_exchange_n(&no_timers, 1, __ATOMIC_RELAXED) && gp_debug_on)
                gp_debugf("hand-off: no CPU-time timer (%s): a computing green thread is never handed off",
                          strerror(errno));
            return -1;
        }
        k->timer = id;
        k->timer_tid = tid;
    }
    /* relative, 1 ns of its CPU time: armed, never fired from here (a
     * time already passed would be signalled at once, from this thread) */
    struct itimerspec its = {{0, 0}, {0, 1}};
    return R(syscall)(SYS_timer_settime, k->timer, 0, &its, NULL) == 0 ? 0 : -1;
}

/* the monitor, at a look: is worker w stuck? then ask its owner to hand it on */
static void look_at(struct gp_worker *w)
{
    struct watch *k = &watch[w->index];
    gp_deadline since = __atomic_load_n(&w->away_since, __ATOMIC_ACQUIRE);
    if (!since || gp_now() - since < threshold_ms * 1000000LL) return;
    if (__atomic_load_n(&gp__nlive, __ATOMIC_RELAXED) < 2) return;
    struct gp_carrier *owner = __atomic_load_n(&w->carrier, __ATOMIC_ACQUIRE);
    if (!owner) return;
    if (!__atomic_load_n(&k->to, __ATOMIC_ACQUIRE)) {
        struct gp_carrier *c = carrier_get();
        if (!c) return;
        /* release: the carrier's record (pt, reserved) before the handler sees it */
        __atomic_store_n(&k->to, c, __ATOMIC_RELEASE);
    }
    gp_deadline now = gp_now();
    if (__atomic_load_n(&k->sig_sent, __ATOMIC_RELAXED) && now - k->sig_sent_at < GP_NSEC) return;
    /* the program may have taken the signal for itself (a sigaction of
     * SIGRTMIN+6): then it gets none from us, and nothing is handed off */
    struct sigaction cur;
    if (R(sigaction)(HANDOFF_SIG, NULL, &cur) != 0 || cur.sa_sigaction != on_handoff) {
        if (!__atomic_exchange_n(&taken_over, 1, __ATOMIC_RELAXED) && gp_debug_on)
            gp_debugf("hand-off off: the program handles SIGRTMIN+6 itself (gpatch's hand-off signal)");
        return;
    }
    char state = task_state(owner->tid);
    /* Preemption is for computing (preempt.c), hand-off for a thread blocked
     * in the kernel: an owner that runs gets three slices more, in which a
     * thread in its own code is preempted; one computing inside libc (a long
     * qsort), where preemption never stops it, is handed off after them. */
    /* Counted in the owner's CPU time, as preemption counts: in wall time,
     * on a machine busier than its cores (more workers than CPUs, other
     * processes) the owner had used less than three slices of CPU when the
     * wait ran out, and the computing thread was handed off instead of
     * preempted (preempt/stats_count_preemptions_before_handoffs failed
     * most runs at a load of 4-10 on 2 cores) */
    if (state == 'R' && __atomic_load_n(&gp__preempt_on, __ATOMIC_RELAXED)) {
        struct timespec ts;
        clockid_t clk = (clockid_t)(~(unsigned)owner->tid << 3 | 4 | 2); /* its CPU clock (CPUCLOCK_SCHED) */
        if (clock_gettime(clk, &ts) == 0) {
            int64_t cpu = (int64_t)ts.tv_sec * GP_NSEC + ts.tv_nsec;
            if (k->run_since != since || k->run_tid != owner->tid) {
                k->run_since = since;
                k->run_tid = owner->tid;
                k->run_cpu = cpu;
            }
            /* a slice ends at the kernel's tick (4 ms at HZ=250: three
             * expiries of the half-slice timer), so a slice under 10 ms
             * (GPATCH_PREEMPT_MS=1) lasts longer than it says */
            long slice_ms = gp__preempt_ms < 10 ? 10 : gp__preempt_ms;
            if (cpu - k->run_cpu < 3 * slice_ms * 1000000LL) return;
        } else if (now - since < (threshold_ms + 3 * gp__preempt_ms) * 1000000LL) {
            return;
        }
    }
    if (how_to_interrupt(owner->tid, state) == SEND) {
        R(syscall)(SYS_tgkill, getpid(), owner->tid, HANDOFF_SIG);
    } else if (__atomic_load_n(&no_timers, __ATOMIC_RELAXED) || arm_timer(k, w->index, owner->tid) != 0) {
        return;
    }
    __atomic_store_n(&k->sig_sent, 1, __ATOMIC_RELAXED);
    k->sig_sent_at = now;
}

/* one monitor OS thread looks at every worker, twice per threshold */
static void *handoff_monitor(void *arg)
{
    struct gp_worker *w0 = arg;
    sigset_t all;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_BLOCK, &all, NULL);
    long tick_us = threshold_ms * 1000 / 2;
    if (tick_us < 1000) tick_us = 1000;
    for (;;) {
        struct timespec ts = {tick_us / 1000000, (tick_us % 1000000) * 1000};
        R(nanosleep)(&ts, NULL);
        if (w0 != gp__w) return NULL; /* a forked child's copy of us: not running anyway */
        int n = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
        for (int i = 0; i < n; i++) {
            struct gp_worker *w = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
            if (w) look_at(w);
        }
    }
    return NULL;
}

/* The OS thread that runs worker w now, as its first carrier: an idle stack
 * of its own for when a gthread that kept it comes back (first_carrier_entry),
 * and idle_tcb, a block of no gthread's, to load then. On that OS thread. */
static int first_carrier(struct gp_worker *w, void *idle_tcb)
{
    struct gp_carrier *c = calloc(1, sizeof *c);
    void *stack = mmap(NULL, IDLE_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (!c || stack == MAP_FAILED) {
        free(c);
        if (stack != MAP_FAILED) munmap(stack, IDLE_STACK);
        return -1;
    }
    c->pt = R(pthread_self)();
    c->tid = gettid();
    note_tid(c->tid);
    c->idle_tcb = idle_tcb;
    c->w = w;
    c->rec.ctx = make_fcontext((char *)stack + IDLE_STACK, IDLE_STACK, first_carrier_entry);
    gp__walk_warm(); /* load and set up the unwinder now, not in the handler */
    /* release: the monitor that sees the carrier sees it whole */
    __atomic_store_n(&w->carrier, c, __ATOMIC_RELEASE);
    return 0;
}

/* worker w's own OS thread (index > 0), before it first runs its scheduler:
 * it becomes w's first carrier, its own block the idle one (w->idle_tcb).
 * Its signal mask (workers_start) lets HANDOFF_SIG through. */
void gp__handoff_worker(struct gp_worker *w)
{
    if (gp__handoff_ms <= 0 || gp__tls_mode != GP_TLS_OWN) return;
    if (first_carrier(w, w->idle_tcb) != 0 && GP_UNLIKELY(gp_debug_on))
        gp_debugf("hand-off: worker %d could not get its idle stack; it is never handed off", w->index);
}

int gp__handoff_sig(void) { return HANDOFF_SIG; }

/* the worker's OS thread, in gp__start (main is the only gthread yet) */
void gp__handoff_start(struct gp_worker *w)
{
    if (gp__handoff_ms <= 0) return;
    if (gp__tls_mode != GP_TLS_OWN) {
        if (gp_debug_on)
            gp_debugf("hand-off off: green threads share their worker's TLS, so they never move to another OS "
                      "thread (GPATCH_TLS=own allows it)");
        return;
    }
    if (!gp__dl_locks_known()) gp__dl_locks_find();
    if (!gp__dl_locks_known()) {
        if (gp_debug_on)
            gp_debugf("hand-off off: the loader's locks were not found in this glibc (a gthread inside dlopen's "
                      "constructors must not have the others of its worker run beside it)");
        return;
    }
    threshold_ms = gp__handoff_ms;
    gp__code_ranges_init();
    void *tcb = gp__tls_new_idle(); /* the original thread's own block is main's: it needs another when idle */
    if (!tcb || first_carrier(w, tcb) != 0) {
        if (tcb) gp__tls_free(tcb);
        return;
    }
    unsigned long nw = (unsigned long)__atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
    if (gp__stats.peak_os < nw) gp__stats.peak_os = nw;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_handoff;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    R(sigaction)(HANDOFF_SIG, &sa, NULL);
    hw = w;
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 128 * 1024);
    if (R(pthread_create)(&t, &a, handoff_monitor, w) == 0)
        R(pthread_setname_np)(t, "gpatch-handoff"); /* it runs none of the program's code */
    pthread_attr_destroy(&a);
    if (gp_debug_on) gp_debugf("hand-off on: a worker stuck for %ld ms goes to another OS thread", threshold_ms);
}

/* the child of a fork, its only thread: the carriers and the monitor are the parent's */
void gp__handoff_fork_reset(void)
{
    hw = NULL;
    taken_over = 0;
    ncarrier_tids = 0;
    memset(watch, 0, sizeof watch);
    spares = NULL;
    spare_lock = 0;
    ncarriers = 0;
}

/* any thread: the tid of the OS thread the calling gthread (or scheduler) runs on; 0 on any other thread */
pid_t gp__carrier_tid(void)
{
    if (!gp__w) return 0;
    struct gp_worker *w = GP_ME();
    if (w) {
        /* (not own_tid: a gthread's block moves with it, stolen or handed on) */
        struct gp_carrier *c = __atomic_load_n(&w->carrier, __ATOMIC_ACQUIRE);
        return c ? c->tid : __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);
    }
    struct gp_gthread *g = gp__tls.evicted;
    return g && g->carrier ? g->carrier->tid : 0;
}
