/* thread.c — the pthread-facing operations on green threads that are not
 * the scheduler's own business: identity (the pthread_t the program sees, the
 * owner id its mutexes record, what a forked child inherits), join, detach,
 * cancellation and cleanup handlers, names, stacks. Creating, switching and
 * ending green threads stay in sched.c; their signal masks and the signals
 * kept for one of them are in sigthread.c. */
#include "internal.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"

/* A child forked by a gthread keeps that gthread's identity (its pthread_t,
 * its owner id): the program may have recorded them before the fork (CPython
 * does, for its import lock). Calls given that pthread_t in the child act on
 * the child's real main thread (inherited_os), and its stack is the
 * gthread's, which the child runs on. */
static uintptr_t inherited_handle, inherited_os;
static int inherited_owner;
static struct gp_stack_info inherited_stack;

static __thread pid_t own_tid; /* see self_tid */
static pid_t main_tid;

static int fake_owner(struct gp_gthread *g) { return 0x40000000 | (g->id & 0x3fffffff); }

/* In the child of a fork (the worker's only thread now, before the runtime
 * is dropped): the child of a fork made by gthread g is g, as far as the
 * program can tell; every other gthread is gone, as the other threads of a
 * forked process are, so their handles read as stale (ESRCH), never as
 * threads that will some day exit. */
void gp__thread_fork_child(struct gp_worker *w)
{
    gp__rec_lock_reset();
    gp__stack_lock_reset();
    struct gp_gthread *g = w->cur;
    __atomic_store_n(&g->sig_pend, 0, __ATOMIC_RELAXED); /* a child starts with no signal pending */
    if (g != &w->sched && g != gp__w->g0) {
        inherited_handle = g->handle;
        inherited_owner = fake_owner(g);
        inherited_os = (uintptr_t)R(pthread_self)();
        inherited_stack = (struct gp_stack_info){g->stack_lo, g->stack_size, g->guard, 0};
    }
    for (struct gp_list *n = gp__w->all.next; n != &gp__w->all; n = n->next) {
        struct gp_gthread *o = gp_container(n, struct gp_gthread, all);
        if (o != g && o != gp__w->g0) o->magic = 0, o->detached = 0;
    }
}

int gp_owner_id(void)
{
    struct gp_gthread *g = GP_ME()->cur;
    /* main is the main OS thread: what it locked before we started is its */
    if (g != gp__w->g0) return fake_owner(g);
    /* main keeps the initial thread's id wherever it runs (it may have
     * locked mutexes before the runtime started, under that id) */
    if (inherited_owner) return inherited_owner;
    pid_t m = __atomic_load_n(&main_tid, __ATOMIC_RELAXED);
    if (GP_UNLIKELY(!m)) __atomic_store_n(&main_tid, m = getpid(), __ATOMIC_RELAXED);
    return m;
}

/* Thread ids, read once: a mutex's owner is recorded at every lock and
 * checked at every unlock, and gettid/getpid are system calls. own_tid is
 * per OS thread; main_tid is the process's initial thread (its pid). The
 * thread that forks becomes the child's initial thread under new ids: both
 * are forgotten in the child (gp__thread_fork_reset, before anything else
 * runs there). main_tid may be filled by two threads at once with the same
 * value: relaxed atomics, no ordering needed. */
/* The calling OS thread's tid. Under own TLS own_tid lives in the block of
 * whoever runs, and a gthread's block moves with it when the worker is
 * handed to another OS thread (handoff.c): a gthread asks the worker's
 * carrier instead (gp__carrier_tid, 0 when there is none). */
static pid_t self_tid(void)
{
    pid_t c = gp__carrier_tid();
    if (c) return c;
    if (GP_UNLIKELY(!own_tid)) own_tid = gettid();
    return own_tid;
}

static int on_initial_thread(void)
{
    pid_t m = __atomic_load_n(&main_tid, __ATOMIC_RELAXED);
    if (GP_UNLIKELY(!m)) __atomic_store_n(&main_tid, m = getpid(), __ATOMIC_RELAXED);
    return self_tid() == m;
}

/* in a forked child, on its only thread, first thing */
void gp__thread_fork_reset(void)
{
    own_tid = 0;
    main_tid = 0;
}

/* any thread */
int gp_os_tid(void)
{
    return (int)self_tid();
}

int gp_os_owner_id(void)
{
    return inherited_owner && on_initial_thread() ? inherited_owner : (int)self_tid();
}

uintptr_t gp_inherited_self(void)
{
    return !gp__w && inherited_handle && on_initial_thread() ? inherited_handle : 0;
}

/* any thread: does [p, p+n) lie in the stack of the green thread running on
 * this OS thread (not main: its stack is the OS thread's, of unknown
 * extent), while that code runs on it (not on a signal stack)? Such memory
 * is mapped for as long as the gthread lives: it may be read without asking
 * the kernel (gp_copy_in's fast path). */
int gp__on_own_stack(const void *p, size_t n)
{
    struct gp_worker *w = GP_ME();
    if (!w || w->cur == &w->sched || w->cur == gp__w->g0) return 0;
    const char *lo = w->cur->stack_lo, *hi = lo + w->cur->stack_size, *a = p;
    const char *sp = (const char *)__builtin_frame_address(0);
    return lo && sp >= lo && sp < hi && a >= lo && n <= (size_t)(hi - a);
}

/* A gthread that holds a lock glibc manages (robust, priority-inheritance or
 * process-shared mutex) must not park: another gthread of this worker would
 * block the whole OS thread on it. Its calls go straight to libc meanwhile. */
void gp_foreign_lock(int delta)
{
    struct gp_worker *w = GP_ME();
    if (!w || w->cur == &w->sched) return;
    w->cur->foreign += delta;
    if (w->cur->foreign < 0) w->cur->foreign = 0;
    gp__update_managed();
}

/* gthread only: how many locks glibc manages it holds (gp_foreign_lock) */
int gp_foreign_held(void)
{
    struct gp_worker *w = GP_ME();
    return w && w->cur != &w->sched ? w->cur->foreign : 0;
}

int gp_is_thread(uintptr_t h)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return 0;
    return g == gp__w->g0 ? 2 : 1;
}

/* any OS thread */
int gp_handle_kind(uintptr_t h, uintptr_t *os)
{
    struct gp_worker *w = gp__w;
    *os = h;
    if (!w) { /* no runtime (yet, or in a forked child) */
        if (inherited_handle && h == inherited_handle) {
            *os = inherited_os;
            return GP_H_OS;
        }
        return gp__gthread_slot(h) ? GP_H_GONE : GP_H_OS; /* the parent's gthreads */
    }
    struct gp_gthread *g0 = w->g0; /* NULL while the runtime starts */
    if (g0 && h == g0->handle) {
        *os = w->os_thread;
        return GP_H_MAIN;
    }
    struct gp_gthread *g = gp__gthread_slot(h);
    if (!g) return GP_H_OS;
    *os = w->os_thread;
    /* a racy peek (the record lock is not taken): the calls that act on the
     * answer look again under it */
    return __atomic_load_n(&g->magic, __ATOMIC_RELAXED) == GT_MAGIC && !__atomic_load_n(&g->reap, __ATOMIC_RELAXED)
               ? GP_H_GREEN
               : GP_H_GONE;
}

uintptr_t gp_thread_self(void)
{
    return GP_ME()->cur->handle;
}

uintptr_t gp_away_self(void)
{
    struct gp_gthread *g = gp__tls.evicted;
    return g && gp__tls.in_handler ? g->handle : 0;
}

/* any OS thread: has g exited? xdone, not state: an OS thread that is not
 * the worker reads it, and the worker changes state without the lock at
 * every switch; xdone is set once, under the lock, by gp__thread_dying */
static int exited(struct gp_gthread *g) { return gp__gthread_exited(g); }

/* a stale slot (or no record at all): what glibc says of an exited thread
 * whose descriptor was freed: EINVAL if it had been detached, ESRCH if joined */
static int gone(uintptr_t h)
{
    struct gp_gthread *g = gp__gthread_slot(h);
    return g && g->detached ? -EINVAL : -ESRCH;
}

static int futex_wait(uint32_t *word, uint32_t val, gp_deadline dl)
{
    struct timespec ts, *tp = NULL;
    if (dl >= 0) {
        ts.tv_sec = dl / GP_NSEC;
        ts.tv_nsec = dl % GP_NSEC;
        tp = &ts;
    }
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time, as dl is */
    /* the kernel's, not our syscall hook (which traced it as the program's
     * futex); glibc's join leaves errno alone, so this does too */
    int saved = errno;
    long r = R(syscall)(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, val, tp, NULL, FUTEX_BITSET_MATCH_ANY);
    int err = r == 0 ? 0 : errno;
    errno = saved;
    return -err;
}

/* An OS thread that is not a gthread joins one (or main): it claims the join
 * under the record lock, then sleeps on the record's futex word until the
 * gthread's exit sets it (gp__thread_dying), as glibc's join sleeps on the
 * thread's tid. The record is then freed by whichever of the joiner and
 * finish_dead comes last. */
static int join_foreign(uintptr_t h, void **ret, gp_deadline dl)
{
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) {
        gp__rec_unlock();
        return gone(h);
    }
    int e = g->detached ? -EINVAL : (g->joiner || g->xjoin) ? -EINVAL : 0;
    int dead = exited(g);
    if (!e && !dead && dl == 0) e = -EBUSY;
    if (!e) g->xjoin = 1;
    gp__rec_unlock();
    if (e) return e;
    /* acquire pairs with the release store in gp__thread_dying: once xdone
     * reads 1, ret and the exit's other stores are visible */
    while (!dead && !__atomic_load_n(&g->xdone, __ATOMIC_ACQUIRE)) {
        int r = futex_wait(&g->xdone, 0, dl);
        if (r == -ETIMEDOUT) {
            gp__rec_lock();
            int done = __atomic_load_n(&g->xdone, __ATOMIC_ACQUIRE);
            if (!done) g->xjoin = 0; /* gave up: someone else may join it */
            gp__rec_unlock();
            if (!done) return -ETIMEDOUT;
        }
    }
    gp__rec_lock();
    if (ret) *ret = g->ret;
    g->xjoin = 0;
    if (g == gp__w->g0) g->detached = 1; /* main's record stays (its handle is main's) */
    else if (g->finished) gp__gthread_free_locked(g);
    else __atomic_store_n(&g->reap, 1, __ATOMIC_RELAXED); /* finish_dead frees it; stale meanwhile */
    gp__rec_unlock();
    return 0;
}

/* a gthread's join waits for this: 0 once g exited */
static int join_try(void *g) { return exited(g) ? 0 : -EAGAIN; }

/* any OS thread; for a gthread a cancellation point (tryjoin, dl == 0, is not
 * a wait). A gthread joins through the sync queues on g's xdone (the exit
 * wakes that key), so the joiner may run on another worker than g; the
 * record is freed by whichever of the joiner and finish_dead comes last, as
 * for an OS thread's join. */
int gp_thread_join(uintptr_t h, void **ret, gp_deadline dl)
{
    struct gp_worker *w = gp__w;
    if (!w) return gone(h);
    gp_enter(); /* left behind by a hand-off: back first (not from a signal handler) */
    if (!gp__tls.worker) return join_foreign(h, ret, dl);
    if (!gp_is_current_gthread()) return -EDEADLK; /* the scheduler itself: it cannot wait */
    struct gp_gthread *self = GP_ME()->cur;
    gp__rec_lock(); /* an OS thread may be joining or detaching it at the same time */
    struct gp_gthread *g = gp__gthread_from_handle(h);
    int e = !g ? 1 : g == self || self->joiner == g /* joining each other */ ? -EDEADLK
          : g->detached || g->xjoin || (g->joiner && g->joiner != self) ? -EINVAL : 0;
    if (!e && !exited(g)) {
        if (dl == 0) e = -EBUSY;
        else g->joiner = self;
    }
    gp__rec_unlock();
    if (e) return e == 1 ? gone(h) : e;
    if (!exited(g)) {
        /* a cancellation point, as glibc's: the target stays joinable */
        int r = gp_sync_wait(&g->xdone, join_try, g, dl, GP_NOINTR | GP_CANCELPT | GP_CANCEL_RETURN, 0);
        if (r != 0) {
            gp__rec_lock();
            g->joiner = NULL;
            gp__rec_unlock();
            if (r == -ECANCELED) gp__cancel_exit();
            return r; /* -ETIMEDOUT */
        }
    }
    gp__rec_lock();
    if (ret) *ret = g->ret;
    g->joiner = NULL;
    if (g == w->g0) g->detached = 1; /* main's record stays (its handle is main's) */
    else if (g->finished) gp__gthread_free_locked(g);
    else __atomic_store_n(&g->reap, 1, __ATOMIC_RELAXED); /* finish_dead frees it; stale meanwhile */
    gp__rec_unlock();
    return 0;
}

/* worker: g exits. Under the record lock, so that an OS thread claiming the
 * join either sees xdone set or is seen here; xdone's release store pairs
 * with exited()'s acquire load (ret and the exit's other stores are seen).
 * A gthread that joins waits on xdone's key in the sync queues. */
void gp__thread_dying(struct gp_gthread *g)
{
    gp__rec_lock();
    gp__set_state(g, GT_BIT(GT_RUNNING), GT_DEAD);
    gp_list_del(&g->all);
    int x = g->xjoin, j = g->joiner != NULL;
    /* its kept signals go with it, as an OS thread's; a sender that finds
     * it after this sees it exited, so none is kept for it again */
    struct gp_siginfo *kept = g->sig_info;
    g->sig_info = NULL;
    g->sigwaiting = 0;
    g->sigwait_set = 0;
    __atomic_store_n(&g->sig_pend, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&g->xdone, 1, __ATOMIC_RELEASE);
    gp__rec_unlock();
    free(kept);
    gp__catcher_left(__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED)); /* the signal catcher narrows */
    if (x) R(syscall)(SYS_futex, &g->xdone, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    if (j) gp_sync_wake(&g->xdone, 1);
}

/* worker, after switching away from dead g: its record is freed now if it
 * was detached or a joiner has taken its result already */
void gp__thread_finished(struct gp_gthread *g)
{
    gp__rec_lock();
    g->finished = 1;
    if ((g->detached || g->reap) && g != gp__w->g0) gp__gthread_free_locked(g);
    gp__rec_unlock();
}

/* any OS thread */
int gp_thread_detach(uintptr_t h)
{
    struct gp_worker *w = gp__w;
    if (!w) return gone(h);
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    int r = 0;
    if (!g) r = gone(h);
    else if (g->detached) r = -EINVAL;
    else if (g->joiner || g->xjoin) r = 0; /* glibc: the joiner frees it, detach changes nothing */
    else {
        g->detached = 1;
        if (g->finished && g != w->g0) gp__gthread_free_locked(g);
    }
    gp__rec_unlock();
    return r;
}

/* any OS thread: 0 running (or parked, ready), 1 exited, -ESRCH no record */
int gp_thread_alive(uintptr_t h)
{
    if (!gp__w) return gone(h) == -EINVAL ? 1 : -ESRCH;
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    int r = g ? exited(g) : gp__gthread_slot(h) ? 1 : -ESRCH;
    gp__rec_unlock();
    return r;
}

/* gthread only. Deferred cancellation, as glibc's default: the target
 * acts on it at its next cancellation point, or at once if it is parked in
 * one (its park returns -ECANCELED; the waiting code undoes what it
 * registered, a condition wait takes its mutex back, then gp__cancel_exit
 * runs the cleanup handlers). Cancellation points here: fd waits (read,
 * write, accept, connect... poll, select, epoll_wait, sigwait), sleeps
 * (nanosleep, pause, sigsuspend), pthread_cond_wait and timedwait, sem_wait,
 * pthread_join; not mutex, rwlock, once or barrier waits (POSIX lists none
 * of them), nor calls run by a pool helper (the job must finish either way). */
int gp_thread_cancel(uintptr_t h)
{
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    int live = g && !exited(g), id = g ? g->id : 0; /* the id under the lock: the record may be reused after */
    int again = live && __atomic_exchange_n(&g->cancelled, 1, __ATOMIC_ACQ_REL);
    gp__rec_unlock();
    if (!g) return -ESRCH;
    if (!live) return 0; /* it exits anyway */
    /* cancelled already: the first request's message or ready did all
     * there is to do (a later park in a cancellation point looks at the
     * flag itself). A loop of pthread_cancel calls on a thread of another
     * worker posted one message each, faster than that worker drained them
     * (Open POSIX pthread_cancel/5-2 with 2 workers: its timers never ran). */
    if (again) return 0;
    /* another worker's gthread: its worker looks at its state (the message
     * names it by id: the record may be reused by then) */
    struct gp_worker *home = __atomic_load_n(&g->home, __ATOMIC_ACQUIRE); /* only its home moves it */
    if (home != GP_ME()) gp__xpost(home, g, id, GP_X_CANCEL, 0); /* if it moves on, the post follows it */
    else if (!g->cancel_off && g->state == GT_PARKED && g->cancelpt) gp__ready(g, -ECANCELED);
    return 0;
}

/* gthread only: pthread_testcancel */
int gp_test_cancel(void)
{
    struct gp_gthread *g = GP_ME()->cur;
    if (__atomic_load_n(&g->cancelled, __ATOMIC_ACQUIRE) && !g->cancel_off) gp_thread_exit_unwinding(PTHREAD_CANCELED);
    return 0;
}

static void (*unwinder)(void *top);

/* any thread, once (the shim registers its cleanup-record unwinder) */
void gp_set_unwinder(void (*unwind)(void *top)) { unwinder = unwind; }

/* gthread only */
void **gp_cleanup_top(void) { return &GP_ME()->cur->cleanup_top; }

/* gthread only: pthread_exit, and cancellation (gp__cancel_exit) */
void gp_thread_exit_unwinding(void *ret)
{
    struct gp_gthread *g = GP_ME()->cur;
    g->exit_value = ret;
    g->cancel_off = 1; /* no second cancellation while the handlers run */
    if (g->cleanup_top && unwinder) unwinder(g->cleanup_top);
    gp_thread_exit(ret);
}

/* gthread only: its cleanup handlers have run */
void gp_thread_exit_recorded(void)
{
    gp_thread_exit(GP_ME()->cur->exit_value);
}

/* gthread only. Enabling does not act on a pending cancel: the next
 * cancellation point does (deferred cancellation, as glibc) */
int gp_thread_setcancelstate(int enable, int *old)
{
    struct gp_gthread *g = GP_ME()->cur;
    if (old) *old = !g->cancel_off;
    g->cancel_off = !enable;
    return 0;
}

/* any OS thread: 0 filled; 1: main's own stack, ask libc; -errno */
int gp_thread_stack(uintptr_t h, struct gp_stack_info *si)
{
    if (inherited_handle && h == inherited_handle) { /* the child runs on that gthread's stack */
        *si = inherited_stack;
        return 0;
    }
    if (!gp__w) return gone(h);
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g && (g = gp__gthread_slot(h)) && !g->detached) g = NULL; /* glibc still describes a detached thread that exited */
    int r = 0;
    if (!g) r = -ESRCH;
    else if (g == gp__w->g0) r = 1;
    else {
        si->lo = g->stack_lo;
        si->size = g->stack_size;
        si->guard = g->guard;
        si->detached = g->detached;
    }
    gp__rec_unlock();
    return r;
}

/* any OS thread: an exited thread has no /proc/self/task entry (ENOENT, as glibc) */
int gp_thread_setname(uintptr_t h, const char *name)
{
    size_t n = strlen(name);
    if (n >= sizeof ((struct gp_gthread *)0)->name) return -ERANGE;
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    int r = !g || exited(g) ? -ENOENT : 0;
    if (!r) memcpy(g->name, name, n + 1);
    gp__rec_unlock();
    return r;
}

/* any OS thread */
int gp_thread_getname(uintptr_t h, char *buf, size_t len)
{
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    int r = !g || exited(g) ? -ENOENT : 0;
    if (!r) {
        size_t n = strlen(g->name);
        if (len < n + 1) r = -ERANGE;
        else memcpy(buf, g->name, n + 1);
    }
    gp__rec_unlock();
    return r;
}

/* any OS thread. The kernel's id of the OS thread gthread h runs on now:
 * the one it kept while a hand-off left it there (GT_AWAY), else its
 * worker's current carrier's -- where it runs, or will run when next
 * resumed, unless it moves meanwhile (stealing, a hand-off). Main (gthread
 * 0) is one of them. -ESRCH once it exited. An id, not a pthread_t: a
 * glibc descriptor's tid follows whichever block runs where (switch_to), so
 * the OS thread's own pthread_t may name another one by now. Racy by
 * nature, as the answer may be stale the moment it is given: the record
 * lock keeps g from being freed while its fields are read; home, carrier
 * and the worker's tid are single words the worker stores atomically. */
int gp_thread_os_tid(uintptr_t h)
{
    if (!gp__w) return -ESRCH;
    gp__rec_lock();
    struct gp_gthread *g = gp__gthread_from_handle(h);
    struct gp_worker *w = NULL;
    int r = -ESRCH;
    if (g && !exited(g)) {
        struct gp_carrier *c = __atomic_load_n(&g->carrier, __ATOMIC_RELAXED);
        if (__atomic_load_n(&g->state, __ATOMIC_RELAXED) == GT_AWAY && c) {
            r = c->tid;
        } else {
            w = __atomic_load_n(&g->home, __ATOMIC_RELAXED);
            r = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);
        }
    }
    gp__rec_unlock();
    /* a worker whose OS thread has not yet begun (a gthread placed there
     * at the runtime's start) stores its id first thing (worker_thread,
     * release): wait for it, outside the lock (workers are never freed),
     * rather than answer ESRCH for a thread that lives */
    while (w && r == 0) {
        R(sched_yield)();
        r = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);
    }
    return r;
}

int gp_is_main_gthread(void)
{
    struct gp_worker *w = GP_ME();
    return w && w->cur == gp__w->g0;
}

/* ---- how many green threads may be alive at once ---------------------------
 * Stock, pthread_create fails with EAGAIN at RLIMIT_NPROC (for a user the
 * kernel holds to it) or when the kernel runs out of tasks (pid_max,
 * threads-max: 32,418 threads on our 2-core machine). A green thread is no
 * task, so none of those would stop a program that creates threads until one
 * fails: it went on to the OOM killer (100,000 in 9.6 s and still going).
 * gpatch fails it with EAGAIN, as stock, at
 *  - RLIMIT_NPROC where it is finite and the kernel applies it (not to root,
 *    whose limit the kernel does not enforce), counting this process's green
 *    threads (stock counts all of the user's tasks: a limit no tighter);
 *  - else one thread per 16 KiB of the memory available when the first
 *    thread is made (MemAvailable, or the cgroup's memory.max if lower): a
 *    blocked green thread costs about 4.5 KiB resident, so the limit comes
 *    with most of that memory still free (24 GB: about 1.5 million).
 * Counted: green threads alive, main included (gp__nlive). */
#include <fcntl.h>
#include <sys/resource.h>

static long thread_limit; /* 0: not computed yet (a race computes it twice, alike) */

/* a number after key in a small file (key NULL: the file's first token);
 * -1 when absent or not a number ("max") */
static long long file_number(const char *path, const char *key)
{
    char buf[8192];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = R(read)(fd, buf, sizeof buf - 1);
    R(close)(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    const char *p = buf;
    if (key) {
        p = strstr(buf, key);
        if (!p) return -1;
        p += strlen(key);
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p < '0' || *p > '9') return -1;
    return strtoll(p, NULL, 10);
}

long gp__thread_limit(void)
{
    long l = __atomic_load_n(&thread_limit, __ATOMIC_RELAXED);
    if (l) return l;
    struct rlimit rl;
    if (geteuid() != 0 && getrlimit(RLIMIT_NPROC, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        l = rl.rlim_cur > 0x7fffffff ? 0x7fffffff : (long)rl.rlim_cur;
    } else {
        long long avail = file_number("/proc/meminfo", "MemAvailable:"); /* KiB */
        long long cg = file_number("/sys/fs/cgroup/memory.max", NULL);   /* bytes */
        if (cg > 0 && (avail < 0 || cg / 1024 < avail)) avail = cg / 1024;
        l = avail > 0 ? (long)(avail / 16) : 1L << 20;
    }
    if (l < 16) l = 16;
    __atomic_store_n(&thread_limit, l, __ATOMIC_RELAXED);
    return l;
}
