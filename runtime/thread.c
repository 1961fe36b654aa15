/* thread.c — the pthread-facing operations on green threads that are not
 * the scheduler's own business: identity (the pthread_t the program sees, the
 * owner id its mutexes record, what a forked child inherits), join, detach,
 * cancellation and cleanup handlers, names, signal masks, stacks.
 * Creating, switching and ending green threads stay in sched.c. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

/* A child forked by a gthread keeps that gthread's identity (its pthread_t,
 * its owner id): the program may have recorded them before the fork (CPython
 * does, for its import lock). */
static uintptr_t inherited_handle;
static int inherited_owner;

static int fake_owner(struct gp_gthread *g) { return 0x40000000 | (g->id & 0x3fffffff); }

/* the child of a fork made by gthread g is g, as far as the program can tell */
void gp__thread_inherit(struct gp_gthread *g)
{
    inherited_handle = g->handle;
    inherited_owner = fake_owner(g);
}

int gp_owner_id(void)
{
    struct gp_gthread *g = gp__w->cur;
    /* main is the main OS thread: what it locked before we started is its */
    return g == gp__w->g0 ? gp_os_owner_id() : fake_owner(g);
}

/* Thread ids, read once: a mutex's owner is recorded at every lock and
 * checked at every unlock, and gettid/getpid are system calls. own_tid is
 * per OS thread; main_tid is the process's initial thread (its pid). The
 * thread that forks becomes the child's initial thread under new ids: both
 * are forgotten in the child (gp__thread_fork_reset, before anything else
 * runs there). main_tid may be filled by two threads at once with the same
 * value: relaxed atomics, no ordering needed. */
static __thread pid_t own_tid;
static pid_t main_tid;

static pid_t self_tid(void)
{
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
    struct gp_worker *w = gp__w;
    if (!w || !gp__tls.worker || w->cur == &w->sched || w->cur == w->g0) return 0;
    const char *lo = w->cur->stack_lo, *hi = lo + w->cur->stack_size, *a = p;
    const char *sp = (const char *)__builtin_frame_address(0);
    return lo && sp >= lo && sp < hi && a >= lo && n <= (size_t)(hi - a);
}

/* A gthread that holds a lock glibc manages (robust, priority-inheritance or
 * process-shared mutex) must not park: another gthread of this worker would
 * block the whole OS thread on it. Its calls go straight to libc meanwhile. */
void gp_foreign_lock(int delta)
{
    struct gp_worker *w = gp__w;
    if (!w || !gp__tls.worker || w->cur == &w->sched) return;
    w->cur->foreign += delta;
    if (w->cur->foreign < 0) w->cur->foreign = 0;
    gp__update_managed();
}

int gp_is_thread(uintptr_t h)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return 0;
    return g == gp__w->g0 ? 2 : 1;
}

uintptr_t gp_thread_self(void)
{
    return gp__w->cur->handle;
}

int gp_thread_join(uintptr_t h, void **ret, gp_deadline dl)
{
    struct gp_worker *w = gp__w;
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return -ESRCH;
    struct gp_gthread *self = w->cur;
    if (g == self) return -EDEADLK;
    if (g->detached) return -EINVAL;
    if (g->joiner && g->joiner != self) return -EINVAL;
    if (self->joiner == g) return -EDEADLK; /* joining each other */
    while (g->state != GT_DEAD) {
        if (dl == 0) return -EBUSY;
        g->joiner = self;
        int r = gp__park("pthread_join", dl, GP_NOINTR);
        if (g->state == GT_DEAD) break;
        if (r == -ETIMEDOUT) {
            g->joiner = NULL;
            return -ETIMEDOUT;
        }
    }
    if (ret) *ret = g->ret;
    if (g != w->g0) gp__gthread_free(g);
    else g->detached = 1, g->joiner = NULL;
    return 0;
}

int gp_thread_detach(uintptr_t h)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return -ESRCH;
    if (g->detached) return -EINVAL;
    g->detached = 1;
    if (g->state == GT_DEAD && g != gp__w->g0) gp__gthread_free(g);
    return 0;
}

int gp_thread_alive(uintptr_t h)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    return g && g->state != GT_DEAD ? 0 : -ESRCH;
}

int gp_thread_cancel(uintptr_t h)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return -ESRCH;
    g->cancelled = 1;
    if (!g->cancel_off && g->state == GT_PARKED && g->intr != GP_NOINTR) gp__ready(g, -ECANCELED);
    return 0;
}

int gp_test_cancel(void)
{
    struct gp_gthread *g = gp__w->cur;
    if (g->cancelled && !g->cancel_off) gp_thread_exit_unwinding(PTHREAD_CANCELED);
    return 0;
}

static void (*unwinder)(void *top);

void gp_set_unwinder(void (*unwind)(void *top)) { unwinder = unwind; }

void **gp_cleanup_top(void) { return &gp__w->cur->cleanup_top; }

void gp_thread_exit_unwinding(void *ret)
{
    struct gp_gthread *g = gp__w->cur;
    g->exit_value = ret;
    g->cancel_off = 1; /* no second cancellation while the handlers run */
    if (g->cleanup_top && unwinder) unwinder(g->cleanup_top);
    gp_thread_exit(ret);
}

void gp_thread_exit_recorded(void)
{
    gp_thread_exit(gp__w->cur->exit_value);
}

int gp_thread_setcancelstate(int enable, int *old)
{
    struct gp_gthread *g = gp__w->cur;
    if (old) *old = !g->cancel_off;
    g->cancel_off = !enable;
    return 0;
}

int gp_thread_stack(uintptr_t h, struct gp_stack_info *si)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return -ESRCH;
    si->lo = g->stack_lo;
    si->size = g->stack_size;
    si->guard = g->map_base ? gp__page() : 0;
    si->detached = g->detached;
    return 0;
}

int gp_thread_setname(uintptr_t h, const char *name)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return -ESRCH;
    size_t n = strlen(name);
    if (n >= sizeof g->name) return -ERANGE;
    memcpy(g->name, name, n + 1);
    return 0;
}

int gp_thread_getname(uintptr_t h, char *buf, size_t len)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g) return -ESRCH;
    size_t n = strlen(g->name);
    if (len < n + 1) return -ERANGE;
    memcpy(buf, g->name, n + 1);
    return 0;
}

uintptr_t gp_thread_os_handle(uintptr_t h)
{
    (void)h;
    return gp__w->os_thread;
}

int gp_thread_prefer_signal(uintptr_t h)
{
    struct gp_gthread *g = gp__gthread_from_handle(h);
    if (!g || g->state == GT_DEAD) return -ESRCH;
    gp__w->sig_target = g;
    return 0;
}

int gp_is_main_gthread(void)
{
    struct gp_worker *w = gp__w;
    return w && gp__tls.worker && w->cur == w->g0;
}

int gp_thread_sigmask(int how, const uint64_t *set, uint64_t *old)
{
    struct gp_gthread *g = gp__w->cur;
    uint64_t m = g->sigmask;
    if (set) {
        if (how == SIG_BLOCK) m |= *set;
        else if (how == SIG_UNBLOCK) m &= ~*set;
        else if (how == SIG_SETMASK) m = *set;
        else return -EINVAL;
    }
    if (old) *old = g->sigmask;
    /* SIGKILL and SIGSTOP cannot be blocked */
    g->sigmask = m & ~((1ull << (SIGKILL - 1)) | (1ull << (SIGSTOP - 1)));
    return 0;
}
