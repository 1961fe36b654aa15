/* loop.c — the worker's libuv loop: its async wake-up and gthread timers.
 *
 * The loop is private (never uv_default_loop(): the program may use libuv
 * itself). It is turned only by the scheduler context. An async handle stays
 * active so an idle worker sleeps in epoll_wait instead of spinning, and so
 * signal handlers (any OS thread) can wake it: uv_async_send is
 * async-signal-safe.
 */
#include "internal.h"
#include "real.h"

#include <errno.h>
#include <string.h>
#include <sys/signalfd.h>

#include "real.h"

static void on_async(uv_async_t *a)
{
    (void)a;
    /* what other workers posted first: a cancel (or a signal) posted before
     * a wake of the same gthread acts first, as it would on one worker
     * (pthread_cancel, then pthread_cond_signal: the waiter is cancelled and
     * passes the signal on, not woken and left with the cancel pending) */
    gp__xdrain();       /* new gthreads, cancels, signals from other workers (sched.c) */
    gp__sync_drain_remote(GP_ME());
    gp__rejoin_drain(); /* gthreads back from a hand-off (sched.c) */
    gp__signals();
}

/* A loop costs up to LOOP_FDS descriptors at once: the epoll fd, the
 * process-wide signal-lock pipe libuv makes the first time, the loop's own
 * signal pipe, the async eventfd. libuv aborts the process when it cannot
 * make that process-wide pipe, and leaves the epoll fd open when a later
 * step fails. So see first that they can be had (taken and given back at
 * once): short of them, the runtime does not start and the program runs
 * unpatched (gp__start's caller says so), as it would stock. */
#define LOOP_FDS 6
static int loop_fds_available(void)
{
    int fd[LOOP_FDS], n = 0;
    while (n < LOOP_FDS && (fd[n] = R(eventfd)(0, EFD_CLOEXEC)) >= 0) n++;
    int ok = n == LOOP_FDS;
    while (n) R(close)(fd[--n]);
    return ok;
}

/* main thread, once, from gp__start (before any gthread exists) */
int gp__loop_init(struct gp_worker *w)
{
    if (!loop_fds_available()) return -1;
    if (uv_loop_init(&w->loop) != 0) return -1;
    if (uv_async_init(&w->loop, &w->async, on_async) != 0) {
        uv_loop_close(&w->loop); /* its epoll fd and signal pipe */
        return -1;
    }
    return 0;
}

static void on_timer(uv_timer_t *t)
{
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d timer fired", ((struct gp_gthread *)t->data)->id);
    gp__ready(t->data, -ETIMEDOUT);
}

/* libuv timers count whole milliseconds of loop time (CLOCK_MONOTONIC, maybe
 * its coarse variant, which never runs ahead): round the deadline up so the
 * timer never fires before it. */
void gp__timer_arm(struct gp_gthread *g, gp_deadline dl)
{
    uv_loop_t *loop = &GP_ME()->loop;
    uv_update_time(loop);
    uint64_t due = (uint64_t)(dl + 999999) / 1000000, now = uv_now(loop);
    uv_timer_start(g->tm, on_timer, due > now ? due - now : 0, 0);
    if (GP_UNLIKELY(gp_debug_on)) gp_debugf("gthread %d timer in %llu ms (heap %u)", g->id, (unsigned long long)(due > now ? due - now : 0), loop->timer_heap.nelts);
}

void gp__timer_disarm(struct gp_gthread *g)
{
    uv_timer_stop(g->tm);
}

/* Worker w's own thread, as g (ready, its timer stopped) becomes w's: the
 * timer g arms from now on is on w's loop. Its record's own timer is on the
 * loop of the worker that made it, so a gthread that moved away from there
 * borrows one of w's (a spare, or a new one), given back when it moves on or
 * its record is freed (gp__timer_give_back). */
void gp__timer_lend(struct gp_worker *w, struct gp_gthread *g)
{
    uv_timer_t *t = NULL;
    if (g->timer.loop == &w->loop) {
        t = &g->timer;
    } else {
        gp__rec_lock();
        if ((t = w->spare_timers)) w->spare_timers = t->data;
        gp__rec_unlock();
        if (!t && (!(t = malloc(sizeof *t)) || uv_timer_init(&w->loop, t) != 0))
            gp__fatal("no memory for gthread %d's timer", g->id);
    }
    t->data = g;
    g->tm = t;
}

/* any OS thread, record lock held: g's timer (stopped) is no longer g's; a
 * borrowed one goes back to the spares of the worker whose loop it is on */
void gp__timer_give_back(struct gp_gthread *g)
{
    uv_timer_t *t = g->tm;
    g->tm = NULL;
    if (!t || t == &g->timer) return;
    struct gp_worker *w = gp_container(t->loop, struct gp_worker, loop);
    t->data = w->spare_timers;
    w->spare_timers = t;
}

/* ---- the signalfd sigwait parks on -------------------------------------------
 * One per process, made on the first managed sigwait and kept: a new one per
 * call costs two system calls and, under load, the fds the program needs
 * (EMFILE). Its mask only grows while waiters ask for new signals; a waiter
 * woken by a signal that none of the current waiters wants narrows it to
 * theirs (exact), so a pending signal nobody waits for cannot keep it
 * readable. The fd is the runtime's own (gp__loop_owns_fd): the program
 * cannot close it or dup2 over it (EBADF, as for a number it never opened);
 * a forked child closes its copy. Worker only: the gthreads of one worker
 * are its only users, so no lock. */
static int sigwait_fd = -1;
static uint64_t sigwait_mask; /* signals 1..64 as bits 0..63 */
static int sigwait_lock;      /* several workers' gthreads may ask at once */

/* signals 1..64 of a set as bits: the rest of a sigset_t may hold anything
 * (glibc's sigemptyset clears only the part the kernel reads) */
static uint64_t set_bits(const sigset_t *s)
{
    uint64_t b = 0;
    for (int sig = 1; sig <= 64; sig++)
        if (sigismember(s, sig) == 1) b |= 1ull << (sig - 1);
    return b;
}

/* gthread only: the fd, its mask covering want (exactly want if exact) */
int gp_sigwait_fd(const sigset_t *want, int exact)
{
    uint64_t bits = set_bits(want);
    while (__atomic_exchange_n(&sigwait_lock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
    if (!exact) bits |= sigwait_mask;
    int fd = sigwait_fd;
    if (fd < 0 || bits != sigwait_mask) {
        sigset_t m;
        memset(&m, 0, sizeof m);
        for (int sig = 1; sig <= 64; sig++)
            if (bits & (1ull << (sig - 1))) sigaddset(&m, sig);
        fd = R(signalfd)(sigwait_fd, &m, SFD_NONBLOCK | SFD_CLOEXEC);
        if (fd < 0) fd = -errno;
        else {
            if (fd != sigwait_fd) gp_fd_new(fd); /* whatever we knew of that number is gone */
            sigwait_fd = fd;
            sigwait_mask = bits;
        }
    }
    __atomic_store_n(&sigwait_lock, 0, __ATOMIC_RELEASE);
    return fd;
}

/* in a forked child: the copy is not the child's program's */
void gp__sigwait_fork_reset(void)
{
    if (sigwait_fd >= 0) R(close)(sigwait_fd);
    sigwait_fd = -1;
    sigwait_mask = 0;
    sigwait_lock = 0;
}

/* any thread: fd is the epoll fd of a worker's loop */
int gp_loop_epoll(int fd)
{
    int n = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n && fd >= 0; i++) {
        struct gp_worker *w = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
        if (w && w->loop.backend_fd == fd) return 1;
    }
    return 0;
}

/* any OS thread: fd is one of the runtime's (a loop's of any worker, the sigwait fd) */
int gp__loop_owns_fd(int fd)
{
    if (fd < 0) return 0;
    if (fd == __atomic_load_n(&sigwait_fd, __ATOMIC_RELAXED)) return 1;
    int n = __atomic_load_n(&gp__nworkers, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++) {
        struct gp_worker *w = __atomic_load_n(&gp__workers[i], __ATOMIC_ACQUIRE);
        if (!w) continue;
        uv_loop_t *l = &w->loop;
        if (fd == l->backend_fd || fd == l->async_io_watcher.fd || fd == l->async_wfd ||
            fd == l->signal_pipefd[0] || fd == l->signal_pipefd[1])
            return 1;
    }
    return 0;
}

/* Signal-safe: from the trampoline of a program's handler, on any OS
 * thread, before the handler runs. The kernel gave a process signal (or one
 * sent to main's OS thread) to this OS thread because its real mask lets it
 * in; but the code running here may be the scheduler, or a green thread
 * that blocks it in its own mask, while the kernel would have chosen main,
 * or the thread waiting in sigsuspend. So the handler runs here only when
 * the green thread running here would have been the kernel's choice: it
 * lets the signal in, and it is main, or main would not take it (main
 * blocks it, is gone, or is not waiting in a call the signal would
 * interrupt). Then its call, if it is inside one, is interrupted as the
 * kernel's would be (its next park: sigpend). Otherwise the signal is
 * passed on: its details into worker 0's redir slot (the first sender's, as
 * a standard signal pending twice is one), its bit into redir_set, and the
 * scheduler's gp__signals routes it (sigthread.c, gp__signal_route), where
 * it runs in the chosen green thread. Faults stay where they happen; a
 * nested signal, an OS thread that is no worker's and a runtime not
 * started run the handler here. */
int gp_signal_elsewhere(int sig, const siginfo_t *si, int mode)
{
    struct gp_worker *w0 = gp__w;
    if (!w0 || !w0->g0 || sig < 1 || sig > 64 || gp__tls.in_handler) return 0;
    if (si && si->si_code > 0 && (sig == SIGSEGV || sig == SIGBUS || sig == SIGFPE || sig == SIGILL ||
                                   sig == SIGTRAP || sig == SIGSYS))
        return 0;
    struct gp_gthread *cur;
    if (gp__on_catcher()) {
        cur = NULL; /* no green thread runs there: always passed on (sigthread.c) */
    } else if (gp__tls.evicted) {
        cur = gp__tls.evicted;
    } else {
        struct gp_worker *w = gp__tls.worker;
        if (!w) return 0;
        cur = w->cur == &w->sched ? NULL : w->cur;
    }
    uint64_t bit = 1ull << (sig - 1);
    struct gp_gthread *g0 = w0->g0;
    int main_takes = !(__atomic_load_n(&g0->sigmask, __ATOMIC_RELAXED) & bit) &&
                     !__atomic_load_n(&g0->xdone, __ATOMIC_RELAXED) && __atomic_load_n(&g0->in_call, __ATOMIC_RELAXED);
    /* a tgkill the program made to this OS thread (gettid()) is for the
     * thread running here, as the kernel's; gpatch's own pthread_kill of a
     * green thread, main included, never sends one (sigthread.c) */
    int directed = si && si->si_code == SI_TKILL;
    if (cur && !(__atomic_load_n(&cur->sigmask, __ATOMIC_RELAXED) & bit) && (cur == g0 || !main_takes || directed)) {
        if (cur->in_call && mode != GP_SIGMODE_NONE) {
            int v = mode == GP_SIGMODE_NORESTART ? 2 : 1;
            if (v > cur->sigpend) cur->sigpend = v; /* its own record, on its own OS thread */
        }
        return 0;
    }
    if (!(__atomic_load_n(&w0->redir_set, __ATOMIC_RELAXED) & bit)) {
        struct gp_redir *rd = &w0->redir[sig - 1];
        rd->code = si ? si->si_code : SI_USER;
        rd->pid = si ? si->si_pid : 0;
        rd->uid = si ? si->si_uid : 0;
        rd->value = si ? si->si_value : (union sigval){0};
        rd->mode = mode;
    }
    __atomic_or_fetch(&w0->redir_set, bit, __ATOMIC_RELEASE); /* after its details */
    w0->sig_pending = 1;
    /* uv_async_send wakes the loop with write(2) on its eventfd, and libuv's
     * write binds to our own hook: gp__async_send turns the hooks off for
     * the moment (it must not switch inside this handler) */
    gp__async_send(&w0->async);
    return 1;
}

/* Any OS thread, signal-safe: uv_async_send with this thread's hooks off.
 * libuv's wake-up write binds to our own write hook; there it must neither
 * switch (in a signal handler, above) nor send a green thread left behind
 * by a hand-off back to its worker (gp__rejoin) halfway through the send:
 * the handle's pending flag would stay "being sent" and the loop would
 * never hear from it again. Same thread, restored before returning. */
void gp__async_send(uv_async_t *a)
{
    /* A full fence first. uv_async_send begins with a plain load of the
     * handle's pending flag and returns at once if it is set, trusting the
     * loop to run the callback; our callers have just stored what the
     * callback must see (an inbox message, a remote-ready entry, a signal
     * note) with plain or release stores. x86 lets that load pass those
     * stores: the sender read "pending" while the loop was between its reset
     * of the flag and the callback's look, the callback did not see the
     * store yet, and nothing woke the loop again. With two workers, a new
     * gthread sat in its worker's inbox while that worker slept in
     * epoll_wait (rel_expired_wait under GPATCH_SHUFFLE, about one run in
     * 60). The fence makes the stores visible before the flag is read:
     * either the flag is clear and this send writes the eventfd, or the
     * loop's reset comes after it and its callback sees them. */
#ifdef GP_TSAN /* ThreadSanitizer models no fences: a seq_cst read-modify-write (as full a barrier on x86) */
    static __thread int fence_word;
    __atomic_fetch_add(&fence_word, 0, __ATOMIC_SEQ_CST);
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
    int managed = gp__tls.managed;
    gp__tls.managed = 0;
    uv_async_send(a);
    gp__tls.managed = managed;
}
