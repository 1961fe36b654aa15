/* signal.c — the program's signal handlers run through a trampoline that,
 * after the handler returns, tells the runtime a handler ran (and whether it
 * had SA_RESTART), so a parked call can return EINTR as the blocked system
 * call would have. The program sees its own handlers in sigaction's answers.
 *
 * While a handler runs, hooked calls pass straight to libc (the runtime is
 * not reentrant from a signal, and a handler must not park). glibc's
 * signal(), bsd_signal() and siginterrupt() reach sigaction internally,
 * past any preload, so they are hooked here too. */
#include "../runtime/real.h"
#include "../runtime/gp.h"
#include "mask.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static struct sigaction user[NSIG];
static unsigned char wrapped[NSIG];
static unsigned char nointr[NSIG]; /* siginterrupt(sig, 1) */
/* main's mask (the worker OS thread's), as last read: pthread_create needs it
 * for every new green thread; forgotten whenever it may have changed */
static uint64_t main_mask;
static int main_mask_known;

/* the signal deliver_now is running a handler for, in the green thread it
 * is for, while that thread runs: no call of anyone's is interrupted by it
 * (another signal handled meanwhile makes its note as ever) */
static __thread int delivering __attribute__((tls_model("initial-exec")));

static int mode_of(const struct sigaction *a)
{
    return (a->sa_flags & SA_RESTART) ? GP_SIGMODE_RESTART : GP_SIGMODE_NORESTART;
}

static void trampoline(int sig, siginfo_t *si, void *uc)
{
    int mine = delivering == sig; /* the one deliver_now sent (cleared here: a handler may longjmp out) */
    if (mine) delivering = 0;
    int saved_errno = errno, managed = gp__tls.managed;
    gp__tls.managed = 0;
    struct sigaction a = user[sig];
    /* not the green thread the kernel would have chosen: passed on, it runs
     * there (a handler the kernel has reset already runs here) */
    if (!mine && !(a.sa_flags & SA_RESETHAND) && gp_signal_elsewhere(sig, si, mode_of(&a))) {
        gp__tls.managed = managed;
        errno = saved_errno;
        return;
    }
    if (a.sa_flags & SA_RESETHAND) { /* the kernel has reset it: so do we */
        wrapped[sig] = 0;
        user[sig].sa_handler = SIG_DFL;
        gp_thread_sig_handled(sig, 0);
    }
    gp__tls.in_handler++; /* wakes from the handler (sem_post) must not take locks */
    if (a.sa_flags & SA_SIGINFO) a.sa_sigaction(sig, si, uc);
    else if (a.sa_handler != SIG_IGN && a.sa_handler != SIG_DFL) a.sa_handler(sig);
    gp__tls.in_handler--;
    gp__tls.managed = managed;
    errno = saved_errno;
}

static void deliver_unblocked_cb(void);
static void main_preempt_mask(void);
static void preempt_taken(void);
static void main_preempt_view_back(void);
/* The deliver signals' handler (runtime/sigthread.c): on the OS thread a
 * green thread runs on, which has signals kept for it to run. Only ours
 * (a tgkill from this process); nothing unless that green thread runs here
 * in its own code (else its next park runs them). */
static void on_deliver(int sig, siginfo_t *si, void *ucv)
{
    (void)sig;
    ucontext_t *uc = ucv;
    if (si->si_code != SI_TKILL || si->si_pid != getpid()) return;
    int e = errno;
    if (gp_deliver_here((uintptr_t)uc->uc_mcontext.gregs[REG_RIP])) deliver_unblocked_cb();
    errno = e;
}

/* main's OS thread, at the runtime's start (pthread_create): the deliver
 * signals' handlers, and the runtime's way to run kept signals */
void gp_shim_signals_start(void)
{
    static int done;
    if (done) return;
    done = 1;
    gp_set_deliverer(deliver_unblocked_cb);
    for (int m = GP_SIGMODE_RESTART; m <= GP_SIGMODE_NORESTART; m++) {
        int sig = gp_deliver_sig(m);
        struct sigaction cur, a;
        if (R(sigaction)(sig, NULL, &cur) != 0 || cur.sa_handler != SIG_DFL) {
            __atomic_store_n(&gp_deliver_taken, 1, __ATOMIC_RELAXED); /* the program's already */
            continue;
        }
        memset(&a, 0, sizeof a);
        a.sa_sigaction = on_deliver;
        a.sa_flags = SA_SIGINFO | SA_ONSTACK | (m == GP_SIGMODE_RESTART ? SA_RESTART : 0);
        sigfillset(&a.sa_mask); /* the kept handlers unblock theirs one at a time (deliver_now) */
        R(sigaction)(sig, &a, NULL);
    }
}

/* how a handler for sig interrupts a call (GP_SIGMODE_*) */
int gp_shim_sig_mode(int sig)
{
    if (sig <= 0 || sig >= NSIG || !wrapped[sig]) return GP_SIGMODE_NONE;
    return mode_of(&user[sig]);
}

static int is_function(const struct sigaction *a)
{
    return (a->sa_flags & SA_SIGINFO) ? a->sa_sigaction != NULL
                                      : a->sa_handler != SIG_DFL && a->sa_handler != SIG_IGN;
}

GP_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    if (sig <= 0 || sig >= NSIG || sig == SIGKILL || sig == SIGSTOP) return R(sigaction)(sig, act, old);
    if (act && (sig == gp_deliver_sig(GP_SIGMODE_RESTART) || sig == gp_deliver_sig(GP_SIGMODE_NORESTART)))
        __atomic_store_n(&gp_deliver_taken, 1, __ATOMIC_RELAXED); /* the program's own now: no pokes */
    if (act && sig == GP_PREEMPT_SIG) preempt_taken(); /* the program's own now: no preemption */
    struct sigaction in, prev = user[sig];
    int prev_wrapped = wrapped[sig];
    if (act) {
        int r = gp_copy_in(&in, act, sizeof in);
        if (r < 0) {
            errno = -r;
            return -1;
        }
    }
    int r;
    if (act && is_function(&in)) {
        struct sigaction k = in;
        k.sa_sigaction = trampoline;
        k.sa_flags |= SA_SIGINFO;
        user[sig] = in;
        wrapped[sig] = 1;
        r = R(sigaction)(sig, &k, old);
    } else if (act && in.sa_handler == SIG_DFL && gp_default_handler(sig)) {
        /* the default, with gpatch's stand-in that prints --stats first */
        struct sigaction k = in;
        k.sa_sigaction = (void (*)(int, siginfo_t *, void *))gp_default_handler(sig);
        k.sa_flags = SA_SIGINFO | SA_RESTART;
        r = R(sigaction)(sig, &k, old);
        if (r == 0) wrapped[sig] = 0;
    } else {
        r = R(sigaction)(sig, act, old);
        if (r == 0 && act) wrapped[sig] = 0;
    }
    if (r != 0) {
        user[sig] = prev;
        wrapped[sig] = (unsigned char)prev_wrapped;
        return r;
    }
    if (act) gp_thread_sig_handled(sig, wrapped[sig]); /* for the signal catcher (runtime/sigthread.c) */
    if (old && prev_wrapped) *old = prev; /* the program's view */
    else if (old && !prev_wrapped &&
             (gp_runtime_handler((void *)old->sa_sigaction) || (void *)old->sa_sigaction == (void *)on_deliver)) {
        memset(old, 0, sizeof *old); /* gpatch's overflow reporter stands for the default */
        old->sa_handler = SIG_DFL;
    }
    return 0;
}

GP_EXPORT int __sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
    return sigaction(sig, act, old);
}

static sighandler_t set_handler(int sig, sighandler_t h, int flags)
{
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = flags;
    if (!(flags & SA_NODEFER)) sigaddset(&a.sa_mask, sig);
    if (sig <= 0 || sig >= NSIG) {
        errno = EINVAL;
        return SIG_ERR;
    }
    if (sigaction(sig, &a, &old) < 0) return SIG_ERR;
    return (old.sa_flags & SA_SIGINFO) ? (sighandler_t)(void *)old.sa_sigaction : old.sa_handler;
}

GP_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
    int restart = sig > 0 && sig < NSIG && !nointr[sig];
    return set_handler(sig, h, restart ? SA_RESTART : 0);
}

GP_EXPORT sighandler_t bsd_signal(int sig, sighandler_t h)
{
    return signal(sig, h);
}

GP_EXPORT sighandler_t sysv_signal(int sig, sighandler_t h)
{
    return set_handler(sig, h, SA_RESETHAND | SA_NODEFER);
}

GP_EXPORT sighandler_t __sysv_signal(int sig, sighandler_t h)
{
    return sysv_signal(sig, h);
}

GP_EXPORT int siginterrupt(int sig, int flag)
{
    struct sigaction a;
    if (sig <= 0 || sig >= NSIG) {
        errno = EINVAL;
        return -1;
    }
    if (sigaction(sig, NULL, &a) < 0) return -1;
    nointr[sig] = flag != 0;
    if (flag) a.sa_flags &= ~SA_RESTART;
    else a.sa_flags |= SA_RESTART;
    return sigaction(sig, &a, NULL);
}

/* ---- waiting for signals ----------------------------------------------------- */

static uint64_t to_bits(const sigset_t *s);
static int own_mask(void);
uint64_t gp_shim_current_mask(void);
static void deliver_now(int sig, const siginfo_t *info);
int gp_shim_signal_keep(pthread_t t, int sig, int code, union sigval v); /* shim/thread.c */

/* the signals kept for this green thread (runtime/sigthread.c) that its mask
 * now lets in: each runs its handler here, before the caller returns, as
 * the kernel delivers a pending signal a thread unblocks. How many ran. */
static int deliver_unblocked(void)
{
    siginfo_t si;
    int n = 0, sig;
    while ((sig = gp_thread_sig_take_unblocked(&si)) > 0) {
        deliver_now(sig, &si);
        n++;
    }
    return n;
}

static void deliver_unblocked_cb(void)
{
    int e = errno;
    deliver_unblocked();
    errno = e;
}

/* pthread_kill of itself by a green thread, and one kept for it to run now */
void gp_shim_deliver_now(void) { deliver_unblocked_cb(); }

/* a kept signal of the program's set, taken into info: the signal, or 0 */
static int take_kept(const sigset_t *set, siginfo_t *info)
{
    sigset_t s;
    siginfo_t local;
    if (!own_mask() || !gp_thread_sig_kept() || gp_copy_in(&s, set, sizeof s) != 0) return 0;
    return gp_thread_sig_take(to_bits(&s), info ? info : &local);
}

GP_EXPORT int pause(void)
{
    if (!GP_MANAGED()) return R(pause)();
    gp_sleep(GP_FOREVER); /* only a handler ends it */
    errno = EINTR;
    return -1;
}

GP_EXPORT int sigsuspend(const sigset_t *mask)
{
    struct gp_wait_mask wm;
    if (gp_wait_mask_enter(mask, &wm)) {
        errno = EINTR;
        return -1;
    }
    if (!GP_MANAGED()) {
        int r = R(sigsuspend)(mask);
        gp_wait_mask_leave(&wm);
        return r;
    }
    sigset_t old, m;
    if (gp_copy_in(&m, mask, sizeof m) != 0) {
        errno = EFAULT;
        return -1;
    }
    /* for the wait the worker's real mask is set: every green thread sees it;
     * never blocking preemption's signal, or the others that run meanwhile
     * are never preempted (rel_preempt_waitmask) */
    if (gp_preempt_running()) sigdelset(&m, gp_preempt_running());
    R(pthread_sigmask)(SIG_SETMASK, &m, &old); /* the real one: let them in */
    gp_sleep(GP_FOREVER);
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    main_mask_known = 0;
    gp_wait_mask_leave(&wm);
    errno = EINTR;
    return -1;
}

struct sigwaitcall {
    struct gp_pollop op;
    struct pollfd self;
    const sigset_t *user; /* the program's set, until the kernel has read it once */
    sigset_t set;
    siginfo_t *info;
    int tries;
};

static void from_bits(uint64_t b, sigset_t *s);

/* The first attempt hands the program's own set to the kernel, which
 * answers EFAULT for a bad pointer as stock sigwait's would (no probe, no
 * extra system call); only then is the set copied, the wait made known to
 * senders (runtime/sigthread.c: a signal sent to this thread alone now comes
 * here) and the shared signalfd made to cover it. */
static int sigwait_try(struct gp_pollop *op)
{
    struct sigwaitcall *c = (struct sigwaitcall *)op;
    struct timespec zero = {0, 0};
    int r = R(sigtimedwait)(c->tries ? &c->set : c->user, c->info, &zero);
    if (r > 0) return r;
    if (errno != EAGAIN) return -errno;
    if (c->tries++ == 0) {
        memcpy(&c->set, c->user, sizeof c->set); /* the kernel has just read it */
        /* known as waiting first, then a look at what was kept: a sender in
         * between keeps it and pokes, or it is kept already and taken here */
        gp_thread_sigwaiting(to_bits(&c->set)); /* without room for details (ENOMEM): sent the usual way */
        r = gp_thread_sig_take(to_bits(&c->set), c->info);
        if (r > 0) return r;
        int fd = gp_sigwait_fd(&c->set, 0);
        if (fd < 0) return fd;
        c->self.fd = fd;
    } else {
        /* one sent to this thread alone while it waits */
        r = gp_thread_sig_take(to_bits(&c->set), c->info);
        if (r > 0) return r;
        /* woken, yet none of ours is pending: a signal that no current
         * waiter wants keeps the shared signalfd readable; narrow its mask
         * to what every sigwait in progress waits for */
        sigset_t want;
        from_bits(gp_sigwait_all(), &want);
        int fd = gp_sigwait_fd(&want, 1);
        if (fd < 0) return fd;
        c->self.fd = fd;
    }
    return 0;
}

/* A signal from set, parked on the worker's signalfd: the signal number, 0
 * at the deadline, or -errno. A signal kept for this wait that it did not
 * take (it returned, timed out, was interrupted) stays kept if the thread
 * blocks it, and runs its handler here if not. */
static int wait_signal(const sigset_t *set, siginfo_t *info, gp_deadline dl)
{
    siginfo_t local;
    struct sigwaitcall c = {.op = {.attempt = sigwait_try, .nwait = 1, .deadline = dl},
                            .self = {.fd = -1, .events = POLLIN},
                            .user = set,
                            .info = info ? info : &local};
    c.op.wait = &c.self;
    int r = gp_poll(&c.op);
    if (c.tries) {
        gp_thread_sigwaiting(0);
        if (own_mask()) deliver_unblocked();
    }
    return r;
}

GP_EXPORT int sigwait(const sigset_t *set, int *sig)
{
    if (!GP_MANAGED()) {
        int k = take_kept(set, NULL); /* a green thread alone: what was kept for it first */
        if (k > 0) return (*sig = k), 0;
        return R(sigwait)(set, sig);
    }
    int r;
    while ((r = wait_signal(set, NULL, GP_FOREVER)) == -EINTR) {
    } /* sigwait is never interrupted */
    if (r < 0) return -r;
    *sig = r;
    return 0;
}

GP_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
    if (!GP_MANAGED()) {
        int k = take_kept(set, info);
        return k > 0 ? k : R(sigwaitinfo)(set, info);
    }
    return (int)GP_CALL(wait_signal(set, info, GP_FOREVER));
}

GP_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *tmo)
{
    if (!tmo) return sigwaitinfo(set, info);
    if (!GP_MANAGED()) {
        int k = take_kept(set, info);
        return k > 0 ? k : R(sigtimedwait)(set, info, tmo);
    }
    struct timespec ts;
    if (gp_copy_in(&ts, tmo, sizeof ts) != 0 || ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= GP_NSEC)
        return R(sigtimedwait)(set, info, tmo);
    if (ts.tv_sec == 0 && ts.tv_nsec == 0) { /* a poll: one kept for it, or the kernel's answer */
        int k = take_kept(set, info);
        return k > 0 ? k : R(sigtimedwait)(set, info, tmo);
    }
    int r = wait_signal(set, info, gp_after_ns(gp_ts_ns(&ts)));
    if (r == 0) r = -EAGAIN;
    return (int)GP_CALL(r);
}

/* ---- signal masks: per green thread --------------------------------------------- */
static uint64_t to_bits(const sigset_t *s)
{
    uint64_t b = 0;
    for (int sig = 1; sig <= 64; sig++)
        if (sigismember(s, sig) == 1) b |= 1ull << (sig - 1);
    return b;
}

static void from_bits(uint64_t b, sigset_t *s)
{
    sigemptyset(s);
    for (int sig = 1; sig <= 64; sig++)
        if (b & (1ull << (sig - 1))) sigaddset(s, sig);
}

/* a green thread other than main: its own mask, the OS thread's untouched */
static int own_mask(void)
{
    /* a handler's mask is the kernel's (it set it, sigreturn restores it) */
    return !gp__tls.in_handler && gp_started_here() && gp_is_current_gthread() && !gp_is_main_gthread();
}

int gp_wait_mask_enter(const sigset_t *mask, struct gp_wait_mask *m)
{
    sigset_t in;
    m->swapped = 0;
    if (!mask || !own_mask() || gp_copy_in(&in, mask, sizeof in) != 0) return 0;
    uint64_t bits = to_bits(&in);
    gp_thread_sigmask(SIG_SETMASK, &bits, &m->saved);
    m->swapped = 1;
    m->os_swapped = 0;
    if (!deliver_unblocked()) {
        /* While it waits, its worker's OS thread takes what the wait's mask
         * lets in (the kernel looks at real masks only, and main's, or a
         * worker's block-everything mask, may block it); whichever green
         * thread runs there meanwhile, the trampoline passes a signal on to
         * the one that takes it (gp_signal_elsewhere): this one. */
        if (gp__tls.managed == 1) {
            sigdelset(&in, SIGKILL);
            /* nor preemption's: the others that run on the worker meanwhile
             * are preempted through it (rel_preempt_waitmask) */
            if (gp_preempt_running()) sigdelset(&in, gp_preempt_running());
            R(pthread_sigmask)(SIG_SETMASK, &in, &m->os_saved);
            m->os_swapped = 1;
        }
        return 0;
    }
    gp_wait_mask_leave(m);
    return 1;
}

void gp_wait_mask_leave(struct gp_wait_mask *m)
{
    if (!m->swapped) return;
    int saved_errno = errno;
    if (m->os_swapped) {
        R(pthread_sigmask)(SIG_SETMASK, &m->os_saved, NULL);
        m->os_swapped = 0;
        main_mask_known = 0;
    }
    gp_thread_sigmask(SIG_SETMASK, &m->saved, NULL);
    m->swapped = 0;
    deliver_unblocked();
    errno = saved_errno;
}

/* raise's delivery, and that of a kept signal the thread lets in: on this
 * OS thread before it returns, as the kernel would (its handler, or its
 * default action), by letting the signal through the OS thread's real mask
 * for the moment of a tgkill to itself. The handler makes no note: it ran
 * in the thread the signal was for, which is running, so no call is
 * interrupted (a note would interrupt whatever call it parks in next). */
static void deliver_now(int sig, const siginfo_t *info)
{
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, sig);
    delivering = sig;
    R(pthread_sigmask)(SIG_UNBLOCK, &one, &old);
    /* a queued signal keeps its value; the kernel lets only main's OS
     * thread queue one with a tgkill's code to itself, and a tgkill's
     * details are what the kernel writes anyway */
    if (info && info->si_code == SI_QUEUE) {
        siginfo_t si = *info;
        R(syscall)(SYS_rt_tgsigqueueinfo, getpid(), gp_os_tid(), sig, &si);
    } else {
        R(syscall)(SYS_tgkill, getpid(), gp_os_tid(), sig);
    }
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    delivering = 0;
}

/* raise from a green thread that lets the signal through: delivered on
 * this OS thread before raise returns, as glibc's. glibc's own sends it to
 * the calling OS thread, whose real mask on workers 1..N-1 blocks every
 * asynchronous signal: it would pend there for good. One the thread blocks
 * is kept pending for it alone, as a pthread_kill of itself is. A raise
 * inside a handler (whose mask the kernel set), main, and threads outside
 * the runtime go to glibc's. */
GP_EXPORT int raise(int sig)
{
    if (!own_mask() || gp__tls.in_handler || sig <= 0 || sig > 64 || sig == SIGKILL || sig == SIGSTOP)
        return R(raise)(sig);
    uint64_t m;
    gp_thread_sigmask(SIG_BLOCK, NULL, &m);
    if (!(m & (1ull << (sig - 1)))) deliver_now(sig, NULL);
    else if (gp_shim_signal_keep(pthread_self(), sig, SI_TKILL, (union sigval){0}) == 0) /* pending for it alone */
        pthread_kill(pthread_self(), sig);
    return 0;
}

/* main changed its mask (the OS thread's own): the runtime's copy, which
 * process signals are routed by (runtime/sigthread.c) */
static void note_main_mask(void)
{
    if (gp__tls.in_handler || !gp_started_here() || !gp_is_main_gthread()) return;
    main_mask_known = 0;
    gp_thread_main_mask(gp_shim_current_mask());
    deliver_unblocked(); /* a process signal kept for main that it now lets in */
}

/* main is about to let in what set takes out of its mask (how: SIG_UNBLOCK
 * or SIG_SETMASK): the runtime's copy loses those first, so that a pending
 * one the real call delivers before it returns runs its handler here, in
 * main, at once, as stock -- with the old copy the trampoline took it for
 * another thread's and routed it, and it ran later (unblock_raise: a
 * raise while blocked, then the unblock). What main blocks anew is noted
 * after the call, as before. */
static void note_main_unblock_ahead(int how, const sigset_t *set)
{
    sigset_t in;
    if ((how != SIG_UNBLOCK && how != SIG_SETMASK) || gp__tls.in_handler || !gp_started_here() ||
        !gp_is_main_gthread() || gp_copy_in(&in, set, sizeof in) != 0)
        return;
    uint64_t cur = gp_shim_current_mask(), bits = to_bits(&in);
    gp_thread_main_mask(how == SIG_UNBLOCK ? cur & ~bits : cur & bits);
}

/* after a pthread_create: main's mask may have changed (the runtime's start
 * lets the preemption signal through it) */
void gp_shim_note_main_mask(void)
{
    main_preempt_mask();
    note_main_mask();
}

/* Main's OS thread's real mask never blocks the preemption signal: the
 * green threads of worker 0 are preempted through it (runtime/preempt.c).
 * Whether main asked to block it is kept here, and answered. */
static int main_blocks_preempt;

static int is_main_os_thread(void)
{
    return !gp__tls.in_handler && (gp_started_here() ? gp_is_main_gthread() : getpid() == gettid());
}

/* fn (the real pthread_sigmask or sigprocmask) for main, with the
 * preemption signal left out of the real mask and kept in the answer */
static int main_mask_call(int (*fn)(int, const sigset_t *, sigset_t *), int how, const sigset_t *set, sigset_t *old)
{
    /* Only while preemption runs: before the runtime starts (a program that
     * never makes a thread), with it off, or once the program has taken the
     * signal, the mask is the program's own, as stock (rel_preempt_own_sig:
     * blocked, it stays pending; let through, SIG_DFL would end the process) */
    int ps = gp_preempt_running();
    if (!ps) main_preempt_view_back();
    int before = main_blocks_preempt, after = before;
    sigset_t in;
    if (ps <= 0 || !is_main_os_thread() || (set && gp_copy_in(&in, set, sizeof in) != 0)) return fn(how, set, old);
    if (set) {
        int has = sigismember(&in, ps) == 1;
        if (how == SIG_SETMASK) after = has;
        else if (how == SIG_BLOCK) after = before || has;
        else if (how == SIG_UNBLOCK) after = before && !has;
        sigdelset(&in, ps);
        set = &in;
    }
    int r = fn(how, set, old);
    if (r != 0) return r;
    main_blocks_preempt = after;
    if (old && before) sigaddset(old, ps);
    return 0;
}

/* main's thread, once preemption runs (after the runtime's start, in the
 * pthread_create that started it; again in a forked child's): its real mask
 * lets the preemption signal in from now on (what it had is the program's
 * view) */
static int main_mask_done; /* in this process (a forked child's starts at 0: gp_shim_signals_fork_child) */
static void main_preempt_mask(void)
{
    if (main_mask_done) return; /* (no system call per pthread_create: syscall_budget) */
    int ps = gp_preempt_running();
    if (!ps || !is_main_os_thread()) return;
    main_mask_done = 1;
    sigset_t one, old;
    sigemptyset(&one);
    sigaddset(&one, ps);
    if (R(pthread_sigmask)(SIG_UNBLOCK, &one, &old) == 0 && sigismember(&old, ps) == 1) main_blocks_preempt = 1;
}

/* the child of a fork: its main thread lets the preemption signal in anew
 * once its own runtime runs */
void gp_shim_signals_fork_child(void) { main_mask_done = 0; }

/* main's OS thread, preemption no longer running: the signal blocked in
 * main's real mask again if main asked so, which is its view from now on */
static void main_preempt_view_back(void)
{
    if (!main_blocks_preempt || !is_main_os_thread()) return;
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, GP_PREEMPT_SIG);
    if (R(pthread_sigmask)(SIG_BLOCK, &one, NULL) == 0) main_blocks_preempt = 0;
}

/* the program installs a handler for the preemption signal: preemption
 * stops (on another OS thread than main's, main's next mask call blocks it
 * again if main asked so) */
static void preempt_taken(void)
{
    gp_preempt_taken();
    main_preempt_view_back();
}

GP_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
    if (!own_mask()) {
        if (set) note_main_unblock_ahead(how, set);
        if (set) main_mask_known = 0;
        int r = main_mask_call(R(pthread_sigmask), how, set, old);
        if (set && r == 0) note_main_mask();
        return r;
    }
    sigset_t in;
    uint64_t bits, oldbits;
    if (set) {
        if (gp_copy_in(&in, set, sizeof in) != 0) return EFAULT;
        bits = to_bits(&in);
    }
    int r = gp_thread_sigmask(how, set ? &bits : NULL, &oldbits);
    if (r < 0) return -r;
    if (old) from_bits(oldbits, old);
    if (set) deliver_unblocked();
    return 0;
}

GP_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
    if (!own_mask()) {
        if (set) note_main_unblock_ahead(how, set);
        if (set) main_mask_known = 0;
        int r = main_mask_call(R(sigprocmask), how, set, old);
        if (set && r == 0) note_main_mask();
        return r;
    }
    int r = pthread_sigmask(how, set, old);
    if (r) {
        errno = r;
        return -1;
    }
    return 0;
}

/* the kernel's pending set for this OS thread and the process, and what is
 * kept for this green thread alone */
/* the process's pending set alone (the kernel's ShdPnd): sigpending's
 * answer for the OS thread adds that thread's own pending set, which on
 * worker 0 is main's (a raise of main's, a tgkill to its tid), never a
 * green thread's. -1 when /proc cannot tell. */
static int process_pending(uint64_t *out)
{
    int fd = (int)R(syscall)(SYS_openat, AT_FDCWD, "/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char buf[8192];
    ssize_t n = R(read)(fd, buf, sizeof buf - 1);
    R(close)(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    char *p = strstr(buf, "\nShdPnd:");
    if (!p) return -1;
    *out = strtoull(p + 8, NULL, 16);
    return 0;
}

GP_EXPORT int sigpending(sigset_t *set)
{
    uint64_t shared, mask;
    int r = R(sigpending)(set); /* a bad pointer: EFAULT, as stock */
    if (r == 0 && own_mask() && process_pending(&shared) == 0) {
        /* a green thread other than main: what the process has pending
         * that it blocks, and what is kept for it alone (as the kernel's
         * answer: pending for the thread or the process, and blocked) */
        gp_thread_sigmask(SIG_BLOCK, NULL, &mask);
        uint64_t p = (shared & mask) | gp_thread_sig_kept();
        sigemptyset(set);
        for (int sig = 1; p && sig <= 64; sig++)
            if (p & (1ull << (sig - 1))) sigaddset(set, sig);
        return 0;
    }
    if (r == 0 && own_mask()) { /* /proc could not tell: the OS thread's answer */
        uint64_t kept = gp_thread_sig_kept();
        for (int sig = 1; kept && sig <= 64; sig++)
            if (kept & (1ull << (sig - 1))) sigaddset(set, sig);
    }
    return r;
}

/* what a new thread inherits (shim/thread.c) */
uint64_t gp_shim_current_mask(void)
{
    if (own_mask()) {
        uint64_t m;
        gp_thread_sigmask(SIG_BLOCK, NULL, &m);
        return m;
    }
    if (!main_mask_known) {
        sigset_t cur;
        R(pthread_sigmask)(SIG_BLOCK, NULL, &cur);
        main_mask = to_bits(&cur);
        main_mask_known = 1;
    }
    /* main's view: the preemption signal its real mask never blocks
     * (main_mask_call), as main asked; a thread it creates inherits that
     * (rel_preempt_blockall: every mask full, but SIGRTMIN+10) */
    if (main_blocks_preempt && gp_preempt_running() && is_main_os_thread())
        return main_mask | 1ull << (GP_PREEMPT_SIG - 1);
    return main_mask;
}
