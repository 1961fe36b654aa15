/* thread.c — pthread_create makes a green thread; every pthread function
 * that takes a pthread_t accepts a green thread's handle, from any calling
 * thread (a gthread, main, an OS thread that is not a gthread): a pthread_t
 * we returned must be safe to hand to any pthread function, and never
 * reaches glibc, even after its thread exited and its record was freed.
 *
 * Main keeps its real pthread_t, so what works on the main OS thread keeps
 * working on it. Functions about the OS thread (scheduling, affinity, CPU
 * clock, signals) act, for a green thread, on the worker OS thread it runs on.
 */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void once_msg(int *said, const char *msg)
{
    if (__atomic_exchange_n(said, 1, __ATOMIC_RELAXED)) return;
    (void)!R(write)(2, msg, strlen(msg));
}

static size_t glibc_default_stack(void)
{
    static size_t v;
    if (!v) {
        pthread_attr_t a;
        size_t s = 0;
        if (pthread_getattr_default_np(&a) == 0) {
            pthread_attr_getstacksize(&a, &s);
            pthread_attr_destroy(&a);
        }
        v = s ? s : 8u << 20;
    }
    return v;
}

int gp_shim_sig_mode(int sig);         /* shim/signal.c */
int gp_shim_signal_keep(pthread_t t, int sig, int code, union sigval v);
void gp_shim_deliver_now(void);        /* shim/signal.c */
void gp_shim_signals_start(void);      /* shim/signal.c */
void gp_shim_note_main_mask(void);     /* shim/signal.c */
uint64_t gp_shim_current_mask(void);   /* shim/signal.c */

/* ---- a thread with scheduling of its own ---------------------------------------
 * Real-time scheduling (SCHED_FIFO, SCHED_RR) is the kernel's: it orders OS
 * threads, and a green thread shares its worker's OS thread with every other
 * green thread there, so a policy set on that OS thread would be every one's,
 * and gone from the thread that asked once it runs on another worker. So a
 * thread created with PTHREAD_EXPLICIT_SCHED whose policy or priority
 * differ from the creating OS thread's (a real-time one: glibc's attribute
 * takes SCHED_OTHER, SCHED_FIFO and SCHED_RR) is made an OS thread of its
 * own, by glibc's pthread_create
 * with the program's attribute: the kernel applies them, or refuses as stock
 * does (EPERM without the privilege, EINVAL for a priority outside the
 * policy's range), and pthread_getschedparam reports what it applied. Such a
 * thread is one gpatch does not manage: its calls go to libc as they would
 * stock (it blocks only itself), gpatch's mutexes, conditions and other
 * objects work between it and green threads, and its handle is glibc's. It
 * starts with its creator's signal mask, as POSIX says (the creating OS
 * thread's real mask is the worker's, not the green thread's). A green
 * thread that joins it parks meanwhile (pthread_join_os). A thread
 * that inherits its scheduling, or asks for what its creator has, is a green
 * thread as ever. */
static long sys(long n, long a, long b, long c);

static int sched_of_its_own(const pthread_attr_t *attr)
{
    int inherit = PTHREAD_INHERIT_SCHED, pol = SCHED_OTHER;
    struct sched_param sp = {0}, cur = {0};
    if (pthread_attr_getinheritsched(attr, &inherit) != 0 || inherit != PTHREAD_EXPLICIT_SCHED) return 0;
    pthread_attr_getschedpolicy(attr, &pol);
    pthread_attr_getschedparam(attr, &sp);
    long now = sys(SYS_sched_getscheduler, 0, 0, 0);
    if (now < 0 || sys(SYS_sched_getparam, 0, (long)&cur, 0) < 0) return 1; /* glibc's answers */
    return pol != (int)(now & ~(long)SCHED_RESET_ON_FORK) || sp.sched_priority != cur.sched_priority;
}

static int create_os_thread(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg, uint64_t mask)
{
    sigset_t want, old;
    sigemptyset(&want);
    for (int sig = 1; sig <= 64; sig++)
        if ((mask & (1ull << (sig - 1))) && sig != SIGKILL && sig != SIGSTOP) sigaddset(&want, sig);
    R(pthread_sigmask)(SIG_SETMASK, &want, &old); /* the new thread inherits it */
    int r = R(pthread_create)(t, attr, fn, arg);
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    return r;
}

GP_EXPORT int pthread_create(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    if (!gp_can_spawn()) return R(pthread_create)(t, attr, fn, arg);
    if (attr && sched_of_its_own(attr)) return create_os_thread(t, attr, fn, arg, gp_shim_current_mask());
    struct gp_thread_attr a = {0, NULL, 0, gp_shim_current_mask()};
    if (attr) {
        int ds = PTHREAD_CREATE_JOINABLE;
        size_t ss = 0;
        void *lo = NULL;
        pthread_attr_getdetachstate(attr, &ds);
        a.detached = ds == PTHREAD_CREATE_DETACHED;
        pthread_attr_getstack(attr, &lo, &ss);
        if ((uintptr_t)lo + ss != 0) { /* pthread_attr_setstack: the program's own stack */
            a.stack_addr = lo;
            a.stack_size = ss;
        } else {
            pthread_attr_getstacksize(attr, &ss);
            if (ss != glibc_default_stack()) a.stack_size = ss; /* else GPATCH_STACK_SIZE */
        }
    }
    /* the runtime stores the id into *t before the new thread can run (on
     * another worker it may run at once), as glibc does before its clone */
    _Static_assert(sizeof(pthread_t) == sizeof(uintptr_t), "pthread_t holds a handle");
    gp_shim_signals_start();
    int r = gp_thread_create((uintptr_t *)t, &a, fn, arg);
    if (r == -ENOSYS) return R(pthread_create)(t, attr, fn, arg); /* runtime unavailable: unpatched */
    if (r == 0) gp_shim_note_main_mask();
    return -r;
}

GP_EXPORT pthread_t pthread_self(void)
{
    if (gp_started_here() && gp_is_current_gthread()) return (pthread_t)gp_thread_self();
    uintptr_t away = gp_away_self(); /* a handler's, on a gthread left away by a hand-off */
    if (away) return (pthread_t)away;
    uintptr_t inherited = gp_inherited_self();
    return inherited ? (pthread_t)inherited : R(pthread_self)();
}

GP_EXPORT int pthread_equal(pthread_t a, pthread_t b)
{
    return a == b;
}

GP_EXPORT void pthread_exit(void *ret)
{
    /* from a signal handler of a gthread a hand-off left away (which does
     * not come back from a handler: gp_enter): the handler never returns,
     * so it comes back now and exits as the green thread it is, never
     * through glibc's exit of the OS thread that carries it */
    if (gp_away_self()) gp__rejoin();
    if (gp_started_here() && gp_is_current_gthread()) gp_thread_exit_unwinding(ret);
    R(pthread_exit)(ret);
    __builtin_unreachable();
}

/* What t names (gp_handle_kind), from any calling thread: GP_H_OS hands *os
 * to libc, every other kind stays with the runtime. */
static int kind(pthread_t t, pthread_t *os)
{
    uintptr_t o;
    int k = gp_handle_kind((uintptr_t)t, &o);
    *os = (pthread_t)o;
    return k;
}

/* A green thread joining an OS thread (one with scheduling of its own, or
 * one made by an OS thread) parks while it waits, so its worker's other
 * green threads go on meanwhile: the thread joined may be waiting for one
 * of them. The kernel's wake at that thread's end (its descriptor's id
 * cleared) reaches no green thread, so it looks with glibc's tryjoin, now
 * and after sleeps that grow from 50 us to 10 ms: an end is seen at most
 * that late, and a long wait costs a hundred looks a second. The sleeps are
 * cancellation points, as pthread_join is (the thread joined stays
 * joinable); a detached one is EINVAL, as glibc answers; a timed one ends
 * with ETIMEDOUT at its time (a bad clock is EINVAL first, a bad time once
 * the thread is found running, as glibc's). */
static int pthread_join_os(pthread_t os, void **ret, clockid_t clk, const struct timespec *abst)
{
    if (!GP_MANAGED()) return abst ? R(pthread_clockjoin_np)(os, ret, clk, abst) : R(pthread_join)(os, ret);
    if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) return EINVAL; /* glibc's first look */
    pthread_attr_t a;
    int ds = PTHREAD_CREATE_JOINABLE;
    if (R(pthread_getattr_np)(os, &a) == 0) {
        pthread_attr_getdetachstate(&a, &ds);
        pthread_attr_destroy(&a);
    }
    if (ds == PTHREAD_CREATE_DETACHED) return EINVAL;
    gp_deadline dl = GP_FOREVER;
    int64_t step = 50 * 1000;
    for (int first = 1;; first = 0) {
        int r = R(pthread_tryjoin_np)(os, ret);
        if (r != EBUSY) return r;
        if (first && abst) { /* read only for a thread that has not ended, as glibc */
            int e = gp_user_abstime(clk, abst, &dl);
            if (e) return e;
        }
        if (dl >= 0 && gp_now() >= dl) return ETIMEDOUT;
        gp_deadline next = gp_after_ns(step);
        gp_sleep(dl >= 0 && dl < next ? dl : next); /* a handler's EINTR: join goes on */
        if (step < 10 * 1000 * 1000) step *= 2;
    }
}

GP_EXPORT int pthread_join(pthread_t t, void **ret)
{
    pthread_t os;
    if (kind(t, &os) == GP_H_OS) return pthread_join_os(os, ret, CLOCK_REALTIME, NULL);
    return -gp_thread_join((uintptr_t)t, ret, GP_FOREVER);
}

GP_EXPORT int pthread_tryjoin_np(pthread_t t, void **ret)
{
    pthread_t os;
    if (kind(t, &os) == GP_H_OS) return R(pthread_tryjoin_np)(os, ret);
    return -gp_thread_join((uintptr_t)t, ret, 0);
}

static int join_until(pthread_t t, void **ret, clockid_t clk, const struct timespec *abst)
{
    gp_deadline dl = GP_FOREVER;
    if (abst) {
        int e = gp_user_abstime(clk, abst, &dl);
        if (e) return e;
    }
    int r = -gp_thread_join((uintptr_t)t, ret, dl ? dl : 1); /* passed: a wait that times out (and yields), not a try */
    return r == EBUSY ? ETIMEDOUT : r;
}

GP_EXPORT int pthread_timedjoin_np(pthread_t t, void **ret, const struct timespec *abst)
{
    pthread_t os;
    if (kind(t, &os) == GP_H_OS) return pthread_join_os(os, ret, CLOCK_REALTIME, abst);
    return join_until(t, ret, CLOCK_REALTIME, abst);
}

GP_EXPORT int pthread_clockjoin_np(pthread_t t, void **ret, clockid_t clk, const struct timespec *abst)
{
    pthread_t os;
    if (kind(t, &os) == GP_H_OS) return pthread_join_os(os, ret, clk, abst);
    return join_until(t, ret, clk, abst);
}

GP_EXPORT int pthread_detach(pthread_t t)
{
    pthread_t os;
    if (kind(t, &os) == GP_H_OS) return R(pthread_detach)(os);
    return -gp_thread_detach((uintptr_t)t);
}

GP_EXPORT int pthread_getattr_np(pthread_t t, pthread_attr_t *attr)
{
    pthread_t os;
    int k = kind(t, &os);
    if (k == GP_H_OS && os == t) return R(pthread_getattr_np)(os, attr);
    struct gp_stack_info si;
    int r = gp_thread_stack((uintptr_t)t, &si);
    if (r == 1) return R(pthread_getattr_np)(os, attr); /* main's own stack */
    if (r < 0) return -r;
    pthread_attr_init(attr);
    pthread_attr_setstack(attr, si.lo, si.size);
    pthread_attr_setguardsize(attr, si.guard);
    pthread_attr_setdetachstate(attr, si.detached ? PTHREAD_CREATE_DETACHED : PTHREAD_CREATE_JOINABLE);
    return 0;
}

/* Signals go to the worker OS thread main runs on (worker 0's), whose
 * handler interrupts the target's call. One the target blocks, or waits for
 * in sigwait, is kept for the target alone instead (runtime/sigthread.c,
 * gp_thread_sig_post), as the kernel keeps a thread's: its sigwait takes it
 * on any worker, its pthread_sigmask or sigsuspend that lets it in runs its
 * handler (shim/signal.c). From inside a signal handler (no locks there) it
 * goes the first way. An exited thread (not yet joined, or freed) is sent
 * nothing and the call succeeds, as glibc does. */

/* The si_code the kernel gives a tgkill (SI_TKILL on some kernels, SI_USER
 * on others): asked once, of a short-lived OS thread of our own, whose
 * pending set is empty at birth, so nobody's signal is taken by the asking. */
static void *tkill_probe(void *arg)
{
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGURG);
    siginfo_t si;
    struct timespec zero = {0, 0};
    int *code = arg;
    if (R(syscall)(SYS_tgkill, getpid(), R(syscall)(SYS_gettid), SIGURG) == 0 &&
        R(sigtimedwait)(&one, &si, &zero) == SIGURG)
        *code = si.si_code;
    return NULL;
}

static int tkill_code(void)
{
    static int code = 1; /* 1: not asked yet (the codes are <= 0) */
    int c = __atomic_load_n(&code, __ATOMIC_RELAXED);
    if (c != 1) return c;
    c = SI_TKILL;
    /* it starts with every signal blocked (no process signal lands there),
     * and blocks the worker for the moment it lives: once per process */
    sigset_t all, old;
    sigfillset(&all);
    R(pthread_sigmask)(SIG_SETMASK, &all, &old);
    pthread_t t;
    int made = R(pthread_create)(&t, NULL, tkill_probe, &c) == 0;
    R(pthread_sigmask)(SIG_SETMASK, &old, NULL);
    if (made) R(pthread_join)(t, NULL);
    __atomic_store_n(&code, c, __ATOMIC_RELAXED);
    return c;
}

extern uint64_t gp_shim_signalfd_sigs; /* shim/fd.c */

/* kept for t alone (1), to be sent the usual way (0: from a handler, or t
 * lets it through), or t is gone (-1: nothing to send, as glibc sends an
 * exited thread nothing). A signal some signalfd is for is kept only for a
 * sigwait that waits for it: a signalfd read sees only the kernel's pending
 * signals (worker 0's OS thread's, as before signals were kept). */

/* pthread_kill/pthread_sigqueue of a green thread: the signal is kept for
 * it alone and runs in it (runtime/sigthread.c, gp_thread_sig_send): at
 * once when it is the caller, else when its worker has woken it (or, where
 * its code runs on an OS thread, through the deliver signal). 1 kept, -1
 * gone, 0 send it the usual way (main, a thread alone, a handler's call). */
/* what the kernel would record of this sender for sig */
static void sender_info(siginfo_t *si, int sig, int code, union sigval v)
{
    memset(si, 0, sizeof *si);
    si->si_signo = sig;
    si->si_code = code == SI_TKILL ? tkill_code() : code;
    si->si_pid = getpid();
    si->si_uid = getuid();
    si->si_value = v;
}

static int gp_shim_signal_send(pthread_t t, int sig, int code, union sigval v)
{
    if (gp__tls.in_handler) return 0;
    int sfd = sig >= 1 && sig <= 64 && (__atomic_load_n(&gp_shim_signalfd_sigs, __ATOMIC_RELAXED) >> (sig - 1) & 1);
    if (sfd) return gp_shim_signal_keep(t, sig, code, v);
    siginfo_t si;
    sender_info(&si, sig, code, v);
    int r = gp_thread_sig_send((uintptr_t)t, sig, &si, gp_shim_sig_mode(sig));
    if (r == 2) gp_shim_deliver_now();
    return r > 0 ? 1 : r == -ESRCH ? -1 : 0;
}

int gp_shim_signal_keep(pthread_t t, int sig, int code, union sigval v)
{
    if (gp__tls.in_handler) return 0;
    int sfd = sig >= 1 && sig <= 64 && (__atomic_load_n(&gp_shim_signalfd_sigs, __ATOMIC_RELAXED) >> (sig - 1) & 1);
    siginfo_t si;
    sender_info(&si, sig, code, v);
    int r = gp_thread_sig_post((uintptr_t)t, sig, &si, sfd);
    return r == 1 ? 1 : r == -ESRCH ? -1 : 0;
}

/* kill of its own process by a green thread: when the kernel could reach
 * the thread that lets the signal in only through the signal catcher
 * (runtime/sigthread.c), that thread is chosen now and the signal kept for
 * it and run there, as the kernel chooses at the send. Otherwise, and for
 * any other process, the kernel's kill. */
GP_EXPORT int kill(pid_t pid, int sig)
{
    if (sig >= 1 && sig <= 64 && pid > 0 && !gp__tls.in_handler && gp_started_here() && gp_is_current_gthread()) {
        uintptr_t h = gp_thread_sig_taker(sig); /* no system call: the pid is looked at only then */
        if (h && pid == getpid() && gp_shim_signal_send((pthread_t)h, sig, SI_USER, (union sigval){0}) == 1) return 0;
    }
    return (int)R(syscall)(SYS_kill, pid, sig);
}

GP_EXPORT int pthread_kill(pthread_t t, int sig)
{
    pthread_t os;
    if (kind(t, &os) == GP_H_OS) return R(pthread_kill)(os, sig);
    if (sig < 0 || sig >= NSIG) return EINVAL;
    if (gp_thread_alive((uintptr_t)t) != 0) return 0;
    if (sig == 0) return 0;
    int k = gp_shim_signal_send(t, sig, SI_TKILL, (union sigval){0});
    if (k) return 0; /* kept for it (run in it, or pending), or gone meanwhile */
    return R(pthread_kill)(os, sig);
}

GP_EXPORT int pthread_sigqueue(pthread_t t, int sig, const union sigval val)
{
    pthread_t os;
    if (kind(t, &os) == GP_H_OS) return R(pthread_sigqueue)(os, sig, val);
    if (gp_thread_alive((uintptr_t)t) != 0) return ESRCH; /* glibc: the thread has no tid left */
    if (sig > 0 && sig < NSIG) {
        int k = gp_shim_signal_send(t, sig, SI_QUEUE, val);
        if (k) return k > 0 ? 0 : ESRCH; /* kept for it, or gone meanwhile */
    }
    return R(pthread_sigqueue)(os, sig, val);
}

GP_EXPORT int pthread_cancel(pthread_t t)
{
    pthread_t os;
    int k = kind(t, &os);
    if (k == GP_H_OS) return R(pthread_cancel)(os);
    if (k == GP_H_GONE) return 0; /* glibc: cancelling an exited thread succeeds */
    if (!gp_started_here()) { /* the runtime's cancel readies the target: the worker's business */
        static int said;
        once_msg(&said, "gpatch: pthread_cancel of a green thread from an OS thread that is not one is not supported: ENOTSUP\n");
        return ENOTSUP;
    }
    return -gp_thread_cancel((uintptr_t)t);
}

GP_EXPORT void pthread_testcancel(void)
{
    if (gp_started_here() && gp_is_current_gthread()) gp_test_cancel();
    else R(pthread_testcancel)();
}

GP_EXPORT int pthread_setcancelstate(int state, int *old)
{
    if (!(gp_started_here() && gp_is_current_gthread())) return R(pthread_setcancelstate)(state, old);
    if (state != PTHREAD_CANCEL_ENABLE && state != PTHREAD_CANCEL_DISABLE) return EINVAL;
    int was;
    gp_thread_setcancelstate(state == PTHREAD_CANCEL_ENABLE, &was);
    if (old) *old = was ? PTHREAD_CANCEL_ENABLE : PTHREAD_CANCEL_DISABLE;
    return 0;
}

/* Main's name is the OS thread's (its comm); a gthread's is its own. */
GP_EXPORT int pthread_setname_np(pthread_t t, const char *name)
{
    pthread_t os;
    int k = kind(t, &os);
    if (k == GP_H_OS || k == GP_H_MAIN) return R(pthread_setname_np)(os, name);
    return -gp_thread_setname((uintptr_t)t, name);
}

GP_EXPORT int pthread_getname_np(pthread_t t, char *buf, size_t len)
{
    pthread_t os;
    int k = kind(t, &os);
    if (k == GP_H_OS || k == GP_H_MAIN) return R(pthread_getname_np)(os, buf, len);
    int r = gp_thread_getname((uintptr_t)t, buf, len);
    if (r == 0 && buf[0] == '\0') /* never named: a new thread carries the process's name */
        return R(pthread_getname_np)(os, buf, len);
    return -r;
}

/* Scheduling, affinity and the CPU clock act, for a green thread (main
 * included), on the OS thread it runs on at the call: its worker's current
 * OS thread, or the one a hand-off left it on. They go to the kernel by that
 * OS thread's id (gp_thread_os_tid), as glibc's do by the descriptor's, and
 * answer as glibc's: the error number, errno untouched. An exited one has
 * no thread left: ESRCH, as glibc, but for the affinity, which glibc asks
 * of a tid of 0 there, i.e. of the caller's OS thread. The CPU clock is that
 * OS thread's: it counts what ran there, the green thread's own computing
 * and the other green threads' on that worker (a clock of its own would
 * need accounting at every switch: a system call each, as the kernel keeps
 * no time per coroutine). An OS thread's handle goes to glibc unchanged. */
#define OS_HANDLE (-1) /* not a green thread's: glibc's own function, given *os */

static int os_tid(pthread_t t, pthread_t *os, int affinity)
{
    if (kind(t, os) == GP_H_OS) return OS_HANDLE;
    int tid = gp_thread_os_tid((uintptr_t)t);
    if (tid > 0) return tid;
    return affinity ? 0 : -ESRCH;
}

/* a system call by number that reports its error number, errno untouched */
static long sys(long n, long a, long b, long c)
{
    int saved = errno;
    long r = R(syscall)(n, a, b, c, 0L, 0L, 0L);
    if (r < 0) r = -errno;
    errno = saved;
    return r;
}

GP_EXPORT int pthread_setschedparam(pthread_t t, int policy, const struct sched_param *p)
{
    pthread_t os;
    int tid = os_tid(t, &os, 0);
    if (tid == OS_HANDLE) return R(pthread_setschedparam)(os, policy, p);
    if (tid < 0) return -tid;
    return (int)-sys(SYS_sched_setscheduler, tid, policy, (long)p);
}

GP_EXPORT int pthread_getschedparam(pthread_t t, int *policy, struct sched_param *p)
{
    pthread_t os;
    int tid = os_tid(t, &os, 0);
    if (tid == OS_HANDLE) return R(pthread_getschedparam)(os, policy, p);
    if (tid < 0) return -tid;
    long pol = sys(SYS_sched_getscheduler, tid, 0, 0);
    if (pol < 0) return (int)-pol;
    long r = sys(SYS_sched_getparam, tid, (long)p, 0);
    if (r < 0) return (int)-r;
    *policy = (int)pol;
    return 0;
}

GP_EXPORT int pthread_setschedprio(pthread_t t, int prio)
{
    pthread_t os;
    int tid = os_tid(t, &os, 0);
    if (tid == OS_HANDLE) return R(pthread_setschedprio)(os, prio);
    if (tid < 0) return -tid;
    struct sched_param p = {.sched_priority = prio};
    return (int)-sys(SYS_sched_setparam, tid, (long)&p, 0);
}

GP_EXPORT int pthread_getcpuclockid(pthread_t t, clockid_t *clk)
{
    pthread_t os;
    int tid = os_tid(t, &os, 0);
    if (tid == OS_HANDLE) return R(pthread_getcpuclockid)(os, clk);
    if (tid < 0) return -tid;
    *clk = (clockid_t)(~(unsigned)tid << 3) | 6; /* the kernel's per-thread CPUCLOCK_SCHED clock, as glibc makes it */
    return 0;
}

GP_EXPORT int pthread_setaffinity_np(pthread_t t, size_t n, const cpu_set_t *set)
{
    pthread_t os;
    int tid = os_tid(t, &os, 1);
    if (tid == OS_HANDLE) return R(pthread_setaffinity_np)(os, n, set);
    return (int)-sys(SYS_sched_setaffinity, tid, (long)n, (long)set);
}

GP_EXPORT int pthread_getaffinity_np(pthread_t t, size_t n, cpu_set_t *set)
{
    pthread_t os;
    int tid = os_tid(t, &os, 1);
    if (tid == OS_HANDLE) return R(pthread_getaffinity_np)(os, n, set);
    long r = sys(SYS_sched_getaffinity, tid, (long)(n < INT_MAX ? n : INT_MAX), (long)set);
    if (r < 0) return (int)-r;
    memset((char *)set + r, 0, n - (size_t)r); /* as glibc: the rest of the caller's set */
    return 0;
}

/* A green thread's yield lets the other green threads of its worker run;
 * with none ready there, its OS thread yields the CPU, as stock's thread
 * would: a SCHED_FIFO peer of the same priority on that CPU (another
 * worker, another process) runs only then (gp_yield_program). */
GP_EXPORT int sched_yield(void)
{
    if (!GP_MANAGED()) return R(sched_yield)();
    return gp_yield_program();
}

/* ---- cleanup handlers (pthread_cleanup_push/pop, C's version) ------------------
 * The macros record a jump buffer in the caller's frame and register it with
 * __pthread_register_cancel; glibc keeps that chain per OS thread, which all
 * green threads of a worker share, so for them we keep it per green thread.
 * Unwinding jumps into the innermost record; the macro's code runs the
 * handler and calls __pthread_unwind_next, which jumps to the next one, and
 * after the last the green thread exits. __pad[0] links the records, as in
 * glibc. (C++ forced unwinding through destructors is not done.) */
#include <setjmp.h>

static void unwind_into(void *top)
{
    __pthread_unwind_buf_t *b = top;
    /* as glibc does: the record begins like a jmp_buf whose mask was not
     * saved, so longjmp reads no further than the record */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wstringop-overflow"
    longjmp((struct __jmp_buf_tag *)(void *)b->__cancel_jmp_buf, 1);
#pragma GCC diagnostic pop
}

static int own_cleanup(void)
{
    static int registered;
    if (!(gp_started_here() && gp_is_current_gthread())) return 0;
    if (!registered) {
        gp_set_unwinder(unwind_into);
        registered = 1;
    }
    return 1;
}

GP_EXPORT void __pthread_register_cancel(__pthread_unwind_buf_t *b)
{
    if (!own_cleanup()) {
        R(__pthread_register_cancel)(b);
        return;
    }
    void **top = gp_cleanup_top();
    b->__pad[0] = *top;
    *top = b;
}

GP_EXPORT void __pthread_unregister_cancel(__pthread_unwind_buf_t *b)
{
    if (!own_cleanup()) {
        R(__pthread_unregister_cancel)(b);
        return;
    }
    *gp_cleanup_top() = b->__pad[0];
}

GP_EXPORT void __pthread_unwind_next(__pthread_unwind_buf_t *b)
{
    if (!own_cleanup()) {
        R(__pthread_unwind_next)(b);
        __builtin_unreachable();
    }
    void **top = gp_cleanup_top();
    *top = b->__pad[0];
    if (*top) unwind_into(*top);
    gp_thread_exit_recorded();
}

/* glibc's pthread_yield calls its internal sched_yield, past the preload.
 * (Its header redirects the name to sched_yield for new programs, so the
 * symbol that older binaries bind to is defined under its own name here.) */
GP_EXPORT int gp_pthread_yield(void) __asm__("pthread_yield");
int gp_pthread_yield(void)
{
    return sched_yield();
}
