/* sync.c — pthread mutexes, condition variables, rwlocks, semaphores,
 * barriers, once, spinlocks and keys, cooperative for green threads.
 *
 * State stays in the program's own object, in glibc's layout where glibc's
 * own code may also touch it (mutexes, semaphores, rwlocks: an OS thread that
 * is not a green thread still uses glibc's real functions on them, and they
 * interoperate through the same futex words). Condition variables and
 * barriers are ours entirely (every entry point is hooked, for every caller),
 * so their layout inside the program's object is ours too.
 *
 * Process-shared objects are glibc's, from init to destroy, for every
 * caller: their state lives in memory another process also works on, with
 * glibc's code and glibc's layout, and their waits are shared futex waits no
 * queue of ours could hear. Each kind is told apart by the flag glibc's own
 * layout keeps in the object (glibc 2.36, x86_64), which our own layouts
 * leave zero:
 *   mutex    __data.__kind & 128 (PTHREAD_MUTEX_PSHARED_BIT; robust and PI
 *            kinds, 16 and 32, are glibc's too)
 *   cond     __data.__wrefs & 1 (the shared bit of its waiter count)
 *   rwlock   __data.__shared != 0
 *   sem      the word after the 64-bit value != 0 (sem_init(s, 1, n) and
 *            every sem_open'ed semaphore)
 *   barrier  the fourth 32-bit word (glibc's `shared`, 128 when shared)
 * A green thread that waits on a shared condition variable or barrier parks
 * while a helper thread makes glibc's wait (shared_cond_wait). Shared
 * semaphores and rwlocks keep glibc's state and glibc's operations; a
 * gthread waiting on one parks and tries again often (other processes'
 * posts are not ours to hear). A gthread that finds a glibc-managed mutex
 * held by a parked gthread of its own worker parks too (foreign_lock).
 * So no wait on a shared object blocks the worker while another gthread of
 * it could be the one to end the wait.
 *
 * Owners: glibc records a mutex owner as the OS thread id, which all green
 * threads of a worker share. A green thread other than main is recorded
 * under an id no OS thread can have (gp_owner_id), so recursive and
 * errorcheck mutexes keep their meaning between green threads.
 *
 * Robust, priority-inheritance/protect and process-shared mutexes keep
 * glibc's implementation: a green thread waiting for one that another
 * process or an OS thread holds waits in glibc, blocking its worker
 * (README); for one a green thread of ours holds, it parks. The holder of
 * a robust or priority one keeps its worker until it lets go; of a plain
 * process-shared one, it parks as with any lock (foreign_taken). */
#include "../runtime/real.h"
#include "../runtime/gp.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <semaphore.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>

#define POLL_NS (50 * 1000000LL)        /* belt and braces for wake-ups we cannot see */
#define POLL_SHARED_NS (2 * 1000000LL)  /* process-shared objects: other processes post */

static inline int gthread(void) { return gp_started_here() && gp_is_current_gthread(); }

static long futex(void *addr, int op, int val, const struct timespec *ts, int val3)
{
    return R(syscall)(SYS_futex, addr, op, val, ts, NULL, val3);
}

/* ---- mutexes --------------------------------------------------------------- */
#define M_TYPE(m) ((m)->__data.__kind & 3) /* normal, recursive, errorcheck, adaptive */
#define M_SPECIAL 0xf0                     /* robust, PI, PP, process-shared */
#define M_FAKE_OWNER(o) (((o) & 0x40000000) != 0)
#define M_HANDED 0x3fffffff /* an errorcheck/recursive mutex on its way to a helper's wait: no tid is this large */

static int glibc_handles(pthread_mutex_t *m)
{
    int k = m->__data.__kind;
    return k < 0 || (k & M_SPECIAL);
}

struct mctx { pthread_mutex_t *m; int id; };

static int mutex_try(void *ctx)
{
    struct mctx *c = ctx;
    pthread_mutex_t *m = c->m;
    int zero = 0;
    if (!__atomic_compare_exchange_n(&m->__data.__lock, &zero, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return -EAGAIN;
    m->__data.__owner = c->id;
    if (M_TYPE(m) == PTHREAD_MUTEX_RECURSIVE) m->__data.__count = 1;
    m->__data.__nusers++;
    return 0;
}

/* a gthread locks: 0 or an error number */
static int g_mutex_lock(pthread_mutex_t *m, clockid_t clk, const struct timespec *abst, int try)
{
    struct mctx c = {m, gp_owner_id()};
    if (m->__data.__owner == c.id && m->__data.__lock != 0) {
        if (M_TYPE(m) == PTHREAD_MUTEX_RECURSIVE) {
            if (m->__data.__count + 1 == 0) return EAGAIN;
            m->__data.__count++;
            return 0;
        }
        if (M_TYPE(m) == PTHREAD_MUTEX_ERRORCHECK) return try ? EBUSY : EDEADLK;
    }
    if (mutex_try(&c) == 0) return 0;
    if (try) return EBUSY;
    gp_deadline dl = GP_FOREVER;
    if (abst) {
        int e = gp_user_abstime(clk, abst, &dl);
        if (e) return e;
    }
    int r = gp_sync_wait(m, mutex_try, &c, dl, GP_INTR_NONE, POLL_NS);
    return r == -ETIMEDOUT ? ETIMEDOUT : -r;
}

/* A mutex glibc manages records its owner as the OS thread id, which a
 * green thread shares with the others of its worker (main's included):
 * held under this OS thread's id, it may be another green thread's, though
 * glibc would take this one for its owner (a recursive trylock succeeded,
 * an unlock by a thread that does not own it succeeded: Open POSIX
 * pthread_mutex_trylock/1-2). So the runtime lists which green thread holds
 * which (gp_owner_note at every lock a green thread takes, gp_owner_forget
 * at its unlock, as for rwlocks' writers) and asks the list: the caller's
 * own, or main's from before the runtime started (held under its id and
 * nobody's noted: gp_owner_holds). A holder may park meanwhile (a sem_wait
 * in a cancelled wait's cleanup handler, Open POSIX pthread_cond_wait/2-3),
 * and another green thread of its worker, main included, then runs. */
static int held_by_another_gthread(pthread_mutex_t *m)
{
    int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) & 0x3fffffff;
    return owner != 0 && owner == gp_os_tid() && !gp_owner_holds(m, owner);
}

/* A gthread took (foreign_taken) or let go (foreign_released) a mutex
 * glibc keeps: it is noted as its holder (held_by_another_gthread), and,
 * for a robust, priority-inheritance or priority-protect one, which glibc
 * and the kernel tie to the OS thread beyond its owner word (the robust
 * list, the kernel's PI state), it keeps its worker until it lets go
 * (gp_foreign_lock: it does not park, move or get handed off). A plain
 * process-shared one is only a futex word and an owner id: its holder parks
 * as with any lock, and a green thread of ours that finds it held by
 * another of ours parks too (foreign_lock), so nothing waits in glibc for
 * a holder parked on the same worker. */
static int tied_to_os_thread(pthread_mutex_t *m)
{
    int k = m->__data.__kind;
    return k < 0 || (k & 0x70);
}

static void foreign_taken(pthread_mutex_t *m)
{
    if (tied_to_os_thread(m)) gp_foreign_lock(+1);
    (void)gp_owner_note(m); /* (no memory: not noted, glibc's view of its owner stands) */
}

static void foreign_released(pthread_mutex_t *m)
{
    if (tied_to_os_thread(m)) gp_foreign_lock(-1);
    gp_owner_forget(m);
}

static int mutex_unlock_impl(pthread_mutex_t *m)
{
    if (glibc_handles(m)) {
        /* not its owner: as glibc answers another thread (a normal mutex
         * is not checked: glibc unlocks it for anyone) */
        if (M_TYPE(m) != PTHREAD_MUTEX_NORMAL && gthread() && held_by_another_gthread(m)) return EPERM;
        int r = R(pthread_mutex_unlock)(m);
        if (r == 0) {
            if (gthread()) foreign_released(m);
            gp_sync_wake(m, 1); /* a gthread parked in foreign_lock */
        }
        return r;
    }
    int g = gthread(), owner = m->__data.__owner;
    if (!g && !M_FAKE_OWNER(owner)) { /* an OS thread's own mutex: glibc's unlock */
        int r = R(pthread_mutex_unlock)(m);
        if (r == 0) gp_sync_wake(m, 1);
        return r;
    }
    int id = g ? gp_owner_id() : gp_os_owner_id();
    int type = M_TYPE(m);
    if ((type == PTHREAD_MUTEX_RECURSIVE || type == PTHREAD_MUTEX_ERRORCHECK) &&
        (owner != id || m->__data.__lock == 0))
        return EPERM;
    if (type == PTHREAD_MUTEX_RECURSIVE && --m->__data.__count != 0) return 0;
    m->__data.__owner = 0;
    m->__data.__nusers--;
    int old = __atomic_exchange_n(&m->__data.__lock, 0, __ATOMIC_RELEASE);
    if (old > 1) futex(&m->__data.__lock, FUTEX_WAKE_PRIVATE, 1, NULL, 0); /* OS threads in glibc's lock */
    gp_sync_wake(m, 1);
    return 0;
}

static int foreign_result(pthread_mutex_t *m, int r)
{
    if (r == 0 || r == EOWNERDEAD) foreign_taken(m);
    return r;
}

static int foreign_try(void *m)
{
    if (held_by_another_gthread(m)) return -EAGAIN;
    int r = R(pthread_mutex_trylock)(m);
    if (r == 0 || r == EOWNERDEAD) foreign_taken(m);
    return r == EBUSY ? -EAGAIN : -r;
}

/* A gthread locks a mutex glibc manages. Uncontended: glibc's trylock.
 * Held by another process or OS thread: glibc's blocking lock (the holder
 * needs nothing from this worker to let go). Held by a green thread of
 * ours -- under a worker's thread id (this one's, or another worker's:
 * GPATCH_WORKERS), or noted as its holder (gp_owner_anyone: after a
 * hand-off it holds it under an old carrier's id), or on its way to a
 * helper's condition wait (M_HANDED) -- maybe parked or waiting for one of
 * this worker's: blocking here could stop the worker for good, so park and
 * try again at every unlock by a gthread of ours (gp_sync_wake in
 * mutex_unlock_impl), and often. An errorcheck mutex the caller holds goes
 * to glibc too: EDEADLK, as glibc answers its own OS thread. how: 0 lock,
 * 1 trylock, 2 timedlock, 3 clocklock. */
static int foreign_lock(pthread_mutex_t *m, int how, clockid_t clk, const struct timespec *abst)
{
    int other = held_by_another_gthread(m);
    int r = other ? EBUSY : R(pthread_mutex_trylock)(m);
    if (r != EBUSY || how == 1) return foreign_result(m, r);
    int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED) & 0x3fffffff;
    int mine = owner == gp_os_tid() && !other;
    int ours = mine || other || gp_tid_is_worker(owner) || owner == M_HANDED || gp_owner_anyone(m);
    if (!ours || (mine && M_TYPE(m) == PTHREAD_MUTEX_ERRORCHECK)) {
        if (how == 0) r = R(pthread_mutex_lock)(m);
        else if (how == 2) r = R(pthread_mutex_timedlock)(m, abst);
        else r = R(pthread_mutex_clocklock)(m, clk, abst);
        return foreign_result(m, r);
    }
    gp_deadline dl = GP_FOREVER;
    if (abst) {
        if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) return EINVAL;
        int e = gp_user_abstime(clk, abst, &dl);
        if (e) return e;
    }
    r = gp_sync_wait(m, foreign_try, m, dl, GP_INTR_NONE, POLL_SHARED_NS);
    return r == -ETIMEDOUT ? ETIMEDOUT : -r;
}

GP_EXPORT int pthread_mutex_lock(pthread_mutex_t *m)
{
    if (!gthread()) return R(pthread_mutex_lock)(m);
    if (glibc_handles(m)) return foreign_lock(m, 0, CLOCK_REALTIME, NULL);
    return g_mutex_lock(m, CLOCK_REALTIME, NULL, 0);
}

GP_EXPORT int pthread_mutex_trylock(pthread_mutex_t *m)
{
    if (!gthread()) return R(pthread_mutex_trylock)(m);
    if (glibc_handles(m)) return foreign_lock(m, 1, CLOCK_REALTIME, NULL);
    return g_mutex_lock(m, CLOCK_REALTIME, NULL, 1);
}

GP_EXPORT int pthread_mutex_timedlock(pthread_mutex_t *m, const struct timespec *abst)
{
    if (!gthread()) return R(pthread_mutex_timedlock)(m, abst);
    if (glibc_handles(m)) return foreign_lock(m, 2, CLOCK_REALTIME, abst);
    return g_mutex_lock(m, CLOCK_REALTIME, abst, 0);
}

GP_EXPORT int pthread_mutex_clocklock(pthread_mutex_t *m, clockid_t clk, const struct timespec *abst)
{
    if (!gthread()) return R(pthread_mutex_clocklock)(m, clk, abst);
    if (glibc_handles(m)) return foreign_lock(m, 3, clk, abst);
    if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) return EINVAL;
    return g_mutex_lock(m, clk, abst, 0);
}

GP_EXPORT int pthread_mutex_unlock(pthread_mutex_t *m)
{
    int r = mutex_unlock_impl(m);
    gp_preempt_point();
    return r;
}

static int mutex_lock_any(pthread_mutex_t *m)
{
    return pthread_mutex_lock(m);
}

/* ---- process-shared waits, on a helper thread ----------------------------------- */
/* A gthread waiting on a process-shared condition variable or barrier parks
 * while a pool helper makes glibc's wait: whoever wakes it may be another
 * process, an OS thread, or another gthread of this worker, which must keep
 * running meanwhile. A condition wait hands glibc a mutex its own code
 * releases and takes again on the helper; the helper then releases it and
 * the gthread takes it back itself (a waiter competes for the mutex after
 * its wake-up either way). glibc's unlock of an errorcheck or recursive
 * mutex checks that its owner is the thread unlocking, the helper: the
 * gthread owns it (checked first: one it does not own, or a recursive one
 * it holds more than once, goes to glibc's wait here, which answers EPERM
 * or waits as stock would), so the helper records itself as the owner
 * before it waits (only the holder writes the owner word; the lock word is
 * untouched), and the gthread's own id goes back if glibc refused the wait.
 * Robust, priority-inheritance and priority-protect mutexes tie more than
 * that word to the thread (the robust list, the kernel's PI state): with
 * them the gthread waits in glibc itself, blocking its worker. */
/* The helper fills r and released before the pool marks the job done (a
 * release store the parked gthread's wake-up check reads with acquire, in
 * gp_offload): the gthread reads them only after gp_offload returns. */
struct shared_wait {
    pthread_cond_t *c;
    pthread_mutex_t *m;
    pthread_barrier_t *b;
    int clock_given; /* pthread_cond_clockwait */
    clockid_t clk;
    const struct timespec *abst;
    int r;
    int released; /* the helper has let go of m again */
    int take_owner; /* an errorcheck or recursive mutex: the helper owns it for glibc's wait */
};

static void shared_wait_job(void *ctx)
{
    struct shared_wait *w = ctx;
    if (w->b) {
        w->r = R(pthread_barrier_wait)(w->b);
        return;
    }
    if (w->take_owner) __atomic_store_n(&w->m->__data.__owner, (int)R(syscall)(SYS_gettid), __ATOMIC_RELAXED);
    if (!w->abst) w->r = R(pthread_cond_wait)(w->c, w->m);
    else if (w->clock_given) w->r = R(pthread_cond_clockwait)(w->c, w->m, w->clk, w->abst);
    else w->r = R(pthread_cond_timedwait)(w->c, w->m, w->abst);
    if (w->r == 0 || w->r == ETIMEDOUT) {
        w->released = R(pthread_mutex_unlock)(w->m) == 0;
        if (w->released) gp_sync_wake(w->m, 1); /* gthreads parked on it (any thread may wake) */
    }
}

/* the gthread waiting on the helper's wait is cancelled: the helper's wait
 * must end. Any thread may wake it: under the mutex, so that a helper not
 * yet inside glibc's wait (it holds the mutex until then) is in it before
 * the broadcast. Every waiter of the condition wakes (a spurious wake-up,
 * which every waiter allows); the helper's returns, and the cancelled
 * gthread takes the mutex back before its cleanup handlers run, as
 * glibc's cancelled wait does. */
static void shared_wait_cancel(void *ctx)
{
    struct shared_wait *w = ctx;
    int r = pthread_mutex_lock(w->m);
    R(pthread_cond_broadcast)(w->c);
    if (r == 0) pthread_mutex_unlock(w->m);
}

static int owner_checked(pthread_mutex_t *m)
{
    return M_TYPE(m) == PTHREAD_MUTEX_ERRORCHECK || M_TYPE(m) == PTHREAD_MUTEX_RECURSIVE;
}

/* a gthread: does it hold m (once, if recursive), as glibc's unlock checks? */
static int held_by_caller(pthread_mutex_t *m)
{
    if (__atomic_load_n(&m->__data.__lock, __ATOMIC_RELAXED) == 0) return 0;
    int owner = __atomic_load_n(&m->__data.__owner, __ATOMIC_RELAXED);
    if (glibc_handles(m)) return (owner & 0x3fffffff) == gp_os_tid() && !held_by_another_gthread(m);
    return owner == gp_owner_id();
}

static int held_once_by_caller(pthread_mutex_t *m)
{
    return held_by_caller(m) && (M_TYPE(m) != PTHREAD_MUTEX_RECURSIVE || m->__data.__count == 1);
}

static int offloadable_mutex(pthread_mutex_t *m)
{
    int k = m->__data.__kind;
    if (k < 0 || (k & 0x70)) return 0; /* robust, PI, PP */
    return M_TYPE(m) == PTHREAD_MUTEX_NORMAL || M_TYPE(m) == PTHREAD_MUTEX_ADAPTIVE_NP || held_once_by_caller(m);
}

/* a gthread's wait on a process-shared condition variable: glibc's answer */
static int shared_cond_wait(pthread_cond_t *c, pthread_mutex_t *m, int clock_given, clockid_t clk,
                            const struct timespec *abst)
{
    /* glibc's unlock inside its wait refuses an errorcheck or recursive
     * mutex its caller does not hold (after its checks of the time), but
     * would take the worker's id for the caller's: answered here */
    if (gthread() && owner_checked(m) && !held_by_caller(m) &&
        (!abst || (abst->tv_nsec >= 0 && abst->tv_nsec < GP_NSEC)) &&
        (!clock_given || clk == CLOCK_MONOTONIC || clk == CLOCK_REALTIME))
        return EPERM;
    if (!gthread() || !offloadable_mutex(m)) {
        if (!abst) return R(pthread_cond_wait)(c, m);
        return clock_given ? R(pthread_cond_clockwait)(c, m, clk, abst) : R(pthread_cond_timedwait)(c, m, abst);
    }
    struct shared_wait w = {.c = c, .m = m, .clock_given = clock_given, .clk = clk, .abst = abst};
    w.take_owner = owner_checked(m);
    int owner = m->__data.__owner; /* (the holder's, ours: nobody else writes it meanwhile) */
    /* until the helper writes its own id: an owner that is nobody's, so
     * that a green thread of this worker that locks it meanwhile waits
     * (foreign_lock) rather than take the worker's id for its own */
    if (w.take_owner) __atomic_store_n(&m->__data.__owner, M_HANDED, __ATOMIC_RELAXED);
    int foreign = glibc_handles(m);
    if (foreign) foreign_released(m); /* the helper holds it from here on */
    int e = gp_offload_cancellable(shared_wait_job, &w, shared_wait_cancel); /* a cancellation point */
    if (e < 0 && e != -ECANCELED) {
        if (foreign) foreign_taken(m);
        return -e;
    }
    if (w.released) { /* take it back, as the wait's return promises */
        int r = pthread_mutex_lock(m);
        if (r != 0) return r;
    } else {
        /* glibc refused the wait, or the helper could not let go: still ours */
        if (w.take_owner) __atomic_store_n(&m->__data.__owner, owner, __ATOMIC_RELAXED);
        if (foreign) foreign_taken(m);
    }
    if (e == -ECANCELED) gp_test_cancel(); /* with the mutex held: the cleanup handlers run */
    return w.r;
}

/* ---- condition variables: ours for every caller --------------------------------- */
struct gcond {
    uint32_t seq;        /* futex word of OS-thread waiters */
    uint32_t os_waiters;
    uint32_t monotonic;  /* the clock of timed waits */
};
_Static_assert(sizeof(struct gcond) <= sizeof(pthread_cond_t), "cond layout");
_Static_assert(offsetof(pthread_cond_t, __data.__wrefs) >= sizeof(struct gcond), "cond shared bit");

/* a process-shared condition variable: glibc's (its init set bit 0 of
 * __wrefs; ours never write that word) */
static int cond_pshared(pthread_cond_t *c)
{
    return (__atomic_load_n(&c->__data.__wrefs, __ATOMIC_RELAXED) & 1) != 0;
}

GP_EXPORT int pthread_cond_init(pthread_cond_t *c, const pthread_condattr_t *a)
{
    int shared = PTHREAD_PROCESS_PRIVATE;
    if (a) pthread_condattr_getpshared(a, &shared);
    if (shared != PTHREAD_PROCESS_PRIVATE) return R(pthread_cond_init)(c, a);
    memset(c, 0, sizeof *c);
    clockid_t clk = CLOCK_REALTIME;
    if (a) pthread_condattr_getclock(a, &clk);
    ((struct gcond *)c)->monotonic = clk == CLOCK_MONOTONIC;
    return 0;
}

GP_EXPORT int pthread_cond_destroy(pthread_cond_t *c)
{
    if (cond_pshared(c)) return R(pthread_cond_destroy)(c);
    return 0;
}

GP_EXPORT int pthread_cond_signal(pthread_cond_t *c)
{
    if (cond_pshared(c)) return R(pthread_cond_signal)(c);
    struct gcond *gc = (struct gcond *)c;
    gp_preempt_point();
    int woke = gp_sync_wake(c, 1);
    if (!woke && __atomic_load_n(&gc->os_waiters, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&gc->seq, 1, __ATOMIC_RELEASE);
        futex(&gc->seq, FUTEX_WAKE_PRIVATE, 1, NULL, 0);
    }
    return 0;
}

GP_EXPORT int pthread_cond_broadcast(pthread_cond_t *c)
{
    if (cond_pshared(c)) return R(pthread_cond_broadcast)(c);
    struct gcond *gc = (struct gcond *)c;
    gp_sync_wake(c, INT_MAX);
    if (__atomic_load_n(&gc->os_waiters, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&gc->seq, 1, __ATOMIC_RELEASE);
        futex(&gc->seq, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
    }
    return 0;
}

static void cond_release(void *m) { mutex_unlock_impl(m); }
static int cond_reacquire(void *m) { return -mutex_lock_any(m); }

static int cond_wait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk, const struct timespec *abst)
{
    struct gcond *gc = (struct gcond *)c;
    /* glibc reads the deadline in user space (a bad pointer faults there
     * too): a plain read, no system call */
    if (abst && (abst->tv_nsec < 0 || abst->tv_nsec >= GP_NSEC)) return EINVAL;
    if (gthread()) {
        gp_deadline dl = GP_FOREVER;
        if (abst) {
            int e = gp_user_abstime(clk, abst, &dl);
            if (e) return e;
        }
        int r = gp_cond_wait(c, cond_release, cond_reacquire, m, dl);
        return r == -ETIMEDOUT ? ETIMEDOUT : -r;
    }
    /* an OS thread: a futex wait on our sequence word */
    uint32_t seq = __atomic_load_n(&gc->seq, __ATOMIC_ACQUIRE);
    __atomic_fetch_add(&gc->os_waiters, 1, __ATOMIC_ACQ_REL);
    int r = mutex_unlock_impl(m);
    if (r != 0) {
        __atomic_fetch_sub(&gc->os_waiters, 1, __ATOMIC_RELEASE);
        return r;
    }
    int timedout = 0;
    int op = FUTEX_WAIT_BITSET_PRIVATE | (clk == CLOCK_REALTIME ? FUTEX_CLOCK_REALTIME : 0);
    if (futex(&gc->seq, op, (int)seq, abst, FUTEX_BITSET_MATCH_ANY) != 0 && errno == ETIMEDOUT) timedout = 1;
    __atomic_fetch_sub(&gc->os_waiters, 1, __ATOMIC_RELEASE);
    r = mutex_lock_any(m);
    if (r != 0) return r;
    return timedout ? ETIMEDOUT : 0;
}

static clockid_t cond_clock(pthread_cond_t *c)
{
    return ((struct gcond *)c)->monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME;
}

GP_EXPORT int pthread_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (cond_pshared(c)) return shared_cond_wait(c, m, 0, CLOCK_REALTIME, NULL);
    int e = errno, r = cond_wait(c, m, CLOCK_REALTIME, NULL);
    errno = e;
    return r;
}

GP_EXPORT int pthread_cond_timedwait(pthread_cond_t *c, pthread_mutex_t *m, const struct timespec *abst)
{
    if (cond_pshared(c)) return shared_cond_wait(c, m, 0, CLOCK_REALTIME, abst);
    int e = errno, r = cond_wait(c, m, cond_clock(c), abst);
    errno = e;
    return r;
}

GP_EXPORT int pthread_cond_clockwait(pthread_cond_t *c, pthread_mutex_t *m, clockid_t clk, const struct timespec *abst)
{
    if (cond_pshared(c)) return shared_cond_wait(c, m, 1, clk, abst);
    if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) return EINVAL;
    int e = errno, r = cond_wait(c, m, clk, abst);
    errno = e;
    return r;
}

/* ---- semaphores: glibc's, with a queue for green threads ---------------------- */
struct sctx { sem_t *s; };

static int sem_try(void *ctx)
{
    int e = errno;
    int r = R(sem_trywait)(((struct sctx *)ctx)->s) == 0 ? 0 : -errno;
    errno = e;
    return r;
}

static int sem_shared(sem_t *s)
{
    /* glibc's new_sem: { uint64 data; int private; }: private is 0 for a
     * process-private semaphore and FUTEX_PRIVATE_FLAG for a shared one
     * (glibc's LLL_SHARED: the flag is flipped again at the futex call) */
    return ((int *)s)[2] != 0;
}

static int g_sem_wait(sem_t *s, clockid_t clk, const struct timespec *abst)
{
    struct sctx c = {s};
    int r = sem_try(&c);
    if (r != -EAGAIN) return r;
    gp_deadline dl = GP_FOREVER;
    if (abst) {
        int e = gp_user_abstime(clk, abst, &dl);
        if (e) return -e;
    }
    return gp_sync_wait(s, sem_try, &c, dl, GP_INTR_ALWAYS | GP_INTR_CANCEL, sem_shared(s) ? POLL_SHARED_NS : POLL_NS);
}

GP_EXPORT int sem_wait(sem_t *s)
{
    if (!gthread()) return R(sem_wait)(s);
    return (int)GP_CALL(g_sem_wait(s, CLOCK_REALTIME, NULL));
}

GP_EXPORT int sem_timedwait(sem_t *s, const struct timespec *abst)
{
    if (!gthread()) return R(sem_timedwait)(s, abst);
    return (int)GP_CALL(g_sem_wait(s, CLOCK_REALTIME, abst));
}

GP_EXPORT int sem_clockwait(sem_t *s, clockid_t clk, const struct timespec *abst)
{
    if (!gthread()) return R(sem_clockwait)(s, clk, abst);
    if (clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) {
        errno = EINVAL;
        return -1;
    }
    return (int)GP_CALL(g_sem_wait(s, clk, abst));
}

GP_EXPORT int sem_post(sem_t *s)
{
    int r = R(sem_post)(s);
    if (r == 0) {
        int e = errno;
        gp_sync_wake(s, 1);
        gp_preempt_point();
        errno = e;
    }
    return r;
}

/* ---- rwlocks: glibc's, with a queue for green threads ---------------------------
 * A gthread takes the lock with glibc's trylock, and between tries waits on
 * the lock's address (every unlock wakes it). glibc's blocking calls first
 * check a timed call's clock and nanoseconds (EINVAL, even on a free lock),
 * then answer EDEADLK to the thread that write-holds the lock, for a read
 * as for a write; its trylocks do neither check (the holder gets EBUSY):
 * the same here. glibc tells the holder by __cur_writer, an OS thread id,
 * which all gthreads of a worker share (under own TLS each one's thread
 * descriptor carries a copy): so the runtime lists which gthread write-holds
 * which lock (gp_owner_note at every write lock a gthread takes,
 * gp_owner_forget at its unlock) and the check asks it, only once a try has
 * failed (a holder's try always fails), so an uncontended lock pays nothing.
 * Main's write locks from before the runtime started were glibc's alone:
 * the runtime counts as main's a lock whose __cur_writer is main's OS thread
 * and that no gthread noted. */
struct rwctx { pthread_rwlock_t *rw; int write; };

static int rw_try(void *ctx)
{
    struct rwctx *c = ctx;
    int r = c->write ? R(pthread_rwlock_trywrlock)(c->rw) : R(pthread_rwlock_tryrdlock)(c->rw);
    return r == EBUSY ? -EAGAIN : -r;
}

/* a process-shared rwlock (glibc's init stored 1 in __shared) */
static int rw_shared(pthread_rwlock_t *rw)
{
    return __atomic_load_n(&rw->__data.__shared, __ATOMIC_RELAXED) != 0;
}

/* __cur_writer: 0 when nobody write-holds rw. Relaxed: the answer only
 * matters when this gthread (or, before the runtime, main) stored it, which
 * program order makes visible; any other value means "not ours" */
static int rw_writer(pthread_rwlock_t *rw)
{
    return __atomic_load_n(&rw->__data.__cur_writer, __ATOMIC_RELAXED);
}

static int g_rw_lock(pthread_rwlock_t *rw, int write, clockid_t clk, const struct timespec *abst)
{
    if (abst && ((clk != CLOCK_MONOTONIC && clk != CLOCK_REALTIME) || abst->tv_nsec < 0 || abst->tv_nsec >= GP_NSEC))
        return EINVAL;
    struct rwctx c = {rw, write};
    int r = rw_try(&c);
    if (r == -EAGAIN) {
        int cw = rw_writer(rw);
        if (cw && gp_owner_holds(rw, cw)) return EDEADLK;
        gp_deadline dl = GP_FOREVER;
        if (abst) {
            int e = gp_user_abstime(clk, abst, &dl);
            if (e) return e;
        }
        r = gp_sync_wait(rw, rw_try, &c, dl, GP_INTR_NONE, rw_shared(rw) ? POLL_SHARED_NS : POLL_NS);
        if (r == -ETIMEDOUT) return ETIMEDOUT;
    }
    /* not noted (no memory): only a second lock by this gthread would notice,
     * waiting where glibc says EDEADLK */
    if (r == 0 && write) (void)gp_owner_note(rw);
    return -r;
}

GP_EXPORT int pthread_rwlock_rdlock(pthread_rwlock_t *rw)
{
    if (!gthread()) return R(pthread_rwlock_rdlock)(rw);
    return g_rw_lock(rw, 0, CLOCK_REALTIME, NULL);
}

GP_EXPORT int pthread_rwlock_wrlock(pthread_rwlock_t *rw)
{
    if (!gthread()) return R(pthread_rwlock_wrlock)(rw);
    return g_rw_lock(rw, 1, CLOCK_REALTIME, NULL);
}

GP_EXPORT int pthread_rwlock_timedrdlock(pthread_rwlock_t *rw, const struct timespec *abst)
{
    if (!gthread()) return R(pthread_rwlock_timedrdlock)(rw, abst);
    return g_rw_lock(rw, 0, CLOCK_REALTIME, abst);
}

GP_EXPORT int pthread_rwlock_timedwrlock(pthread_rwlock_t *rw, const struct timespec *abst)
{
    if (!gthread()) return R(pthread_rwlock_timedwrlock)(rw, abst);
    return g_rw_lock(rw, 1, CLOCK_REALTIME, abst);
}

GP_EXPORT int pthread_rwlock_clockrdlock(pthread_rwlock_t *rw, clockid_t clk, const struct timespec *abst)
{
    if (!gthread()) return R(pthread_rwlock_clockrdlock)(rw, clk, abst);
    return g_rw_lock(rw, 0, clk, abst); /* clk checked there when abst (glibc: no abst, no check) */
}

GP_EXPORT int pthread_rwlock_clockwrlock(pthread_rwlock_t *rw, clockid_t clk, const struct timespec *abst)
{
    if (!gthread()) return R(pthread_rwlock_clockwrlock)(rw, clk, abst);
    return g_rw_lock(rw, 1, clk, abst);
}

GP_EXPORT int pthread_rwlock_unlock(pthread_rwlock_t *rw)
{
    /* a read holder finds no writer (one cannot hold it beside us) and pays
     * one load; a write holder that is a gthread forgets the lock first */
    if (rw_writer(rw) && gthread()) gp_owner_forget(rw);
    int r = R(pthread_rwlock_unlock)(rw);
    if (r == 0) gp_sync_wake(rw, INT_MAX); /* readers and writers try again */
    return r;
}

/* ---- once ----------------------------------------------------------------------- */
/* glibc's encoding: 0 not run, bit 0 running, 2 done. Ours adds bit 2 while
 * an OS thread sleeps on the futex word, so the thread that finishes makes
 * the wake system call only then (a loop of pthread_once on fresh controls
 * paid one per call). A gthread waits on our own queue instead. */
#define ONCE_RUNNING 1
#define ONCE_DONE 2
#define ONCE_FUTEX_WAITERS 4

static int once_try(void *ctx)
{
    /* done, or back to not run (a cancelled initializer): look again */
    return __atomic_load_n((int *)ctx, __ATOMIC_ACQUIRE) & ONCE_RUNNING ? -EAGAIN : 0;
}

static void once_wake(int *w, int old)
{
    if (old & ONCE_FUTEX_WAITERS) futex(w, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
    gp_sync_wake(w, INT_MAX);
}

/* The initializer was cancelled (POSIX: "the effect on once_control shall
 * be as if pthread_once() was never called"): back to not run, and the
 * waiters try again, one of them to run it. */
static void once_cancelled(void *arg)
{
    int *w = arg;
    once_wake(w, __atomic_exchange_n(w, 0, __ATOMIC_RELEASE));
}

GP_EXPORT int pthread_once(pthread_once_t *once, void (*fn)(void))
{
    int *w = (int *)once;
    for (;;) {
        int v = __atomic_load_n(w, __ATOMIC_ACQUIRE);
        if (v == ONCE_DONE) return 0;
        if (v == 0 && __atomic_compare_exchange_n(w, &v, ONCE_RUNNING, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED)) {
            /* a cancellation inside fn unwinds through this record (gthreads:
             * shim/thread.c's cleanup chain; OS threads: glibc's) */
            pthread_cleanup_push(once_cancelled, w);
            fn();
            pthread_cleanup_pop(0);
            once_wake(w, __atomic_exchange_n(w, ONCE_DONE, __ATOMIC_RELEASE));
            /* the program's code ran: a point where a thread that keeps the
             * worker goes round the loop (its signals, timers, the others) */
            if (gthread()) gp_preempt_point();
            return 0;
        }
        if (gthread()) {
            gp_sync_wait(w, once_try, w, GP_FOREVER, GP_INTR_NONE, POLL_NS);
        } else if (v == ONCE_RUNNING &&
                   !__atomic_compare_exchange_n(w, &v, ONCE_RUNNING | ONCE_FUTEX_WAITERS, 0, __ATOMIC_RELAXED,
                                                __ATOMIC_RELAXED)) {
            continue; /* it changed: look again */
        } else {
            futex(w, FUTEX_WAIT_PRIVATE, ONCE_RUNNING | ONCE_FUTEX_WAITERS, NULL, 0);
        }
    }
}

/* ---- spinlocks: a spinning green thread yields ------------------------------------ */
GP_EXPORT int pthread_spin_lock(pthread_spinlock_t *l)
{
    if (!gthread()) return R(pthread_spin_lock)(l);
    while (R(pthread_spin_trylock)(l) != 0) gp_yield_movable();
    return 0;
}

/* ---- barriers: ours for every caller, unless process-shared ------------------------- */
/* `shared` sits where glibc keeps its own (0: private, 128: process-shared);
 * ours always hold 0 there */
struct gbarrier { uint32_t count, arrived, gen, shared, lock; };
_Static_assert(sizeof(struct gbarrier) <= sizeof(pthread_barrier_t), "barrier layout");
_Static_assert(offsetof(struct gbarrier, shared) == 12, "glibc's barrier keeps its shared flag in word 3");

static int barrier_pshared(pthread_barrier_t *b)
{
    return __atomic_load_n(&((struct gbarrier *)b)->shared, __ATOMIC_RELAXED) != 0;
}

GP_EXPORT int pthread_barrier_init(pthread_barrier_t *b, const pthread_barrierattr_t *a, unsigned count)
{
    int shared = PTHREAD_PROCESS_PRIVATE;
    if (a) pthread_barrierattr_getpshared(a, &shared);
    if (shared != PTHREAD_PROCESS_PRIVATE) return R(pthread_barrier_init)(b, a, count);
    if (count == 0) return EINVAL;
    struct gbarrier *gb = (struct gbarrier *)b;
    memset(b, 0, sizeof *b);
    gb->count = count;
    return 0;
}

GP_EXPORT int pthread_barrier_destroy(pthread_barrier_t *b)
{
    if (barrier_pshared(b)) return R(pthread_barrier_destroy)(b);
    struct gbarrier *gb = (struct gbarrier *)b;
    if (__atomic_load_n(&gb->arrived, __ATOMIC_ACQUIRE) != 0) return EBUSY;
    return 0;
}

struct bctx { struct gbarrier *b; uint32_t gen; };
static int barrier_try(void *ctx)
{
    struct bctx *c = ctx;
    return __atomic_load_n(&c->b->gen, __ATOMIC_ACQUIRE) != c->gen ? 0 : -EAGAIN;
}

GP_EXPORT int pthread_barrier_wait(pthread_barrier_t *b)
{
    if (barrier_pshared(b)) {
        if (!gthread()) return R(pthread_barrier_wait)(b);
        struct shared_wait w = {.b = b};
        int e = gp_offload(shared_wait_job, &w);
        return e < 0 ? -e : w.r;
    }
    struct gbarrier *gb = (struct gbarrier *)b;
    while (__atomic_exchange_n(&gb->lock, 1, __ATOMIC_ACQUIRE)) __builtin_ia32_pause();
    uint32_t gen = gb->gen;
    if (++gb->arrived == gb->count) {
        gb->arrived = 0;
        __atomic_store_n(&gb->gen, gen + 1, __ATOMIC_RELEASE);
        __atomic_store_n(&gb->lock, 0, __ATOMIC_RELEASE);
        futex(&gb->gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, 0);
        gp_sync_wake(b, INT_MAX);
        return PTHREAD_BARRIER_SERIAL_THREAD;
    }
    __atomic_store_n(&gb->lock, 0, __ATOMIC_RELEASE);
    struct bctx c = {gb, gen};
    if (gthread()) {
        gp_sync_wait(b, barrier_try, &c, GP_FOREVER, GP_INTR_NONE, POLL_NS);
    } else {
        while (barrier_try(&c) != 0) futex(&gb->gen, FUTEX_WAIT_PRIVATE, (int)gen, NULL, 0);
    }
    return 0;
}

/* ---- thread-specific data: per green thread --------------------------------------- */
/* main keeps glibc's (it is the main OS thread); other green threads get their
 * own values, and their destructors run when they exit */
static int own_tsd(void)
{
    if (gthread()) return gp_is_thread(gp_thread_self()) == 1;
    uintptr_t away = gp_away_self(); /* a handler's, on a gthread left away by a hand-off */
    return away && gp_is_thread(away) == 1;
}

GP_EXPORT int pthread_key_create(pthread_key_t *k, void (*dtor)(void *))
{
    int r = R(pthread_key_create)(k, dtor);
    if (r == 0) gp_key_created(*k, dtor);
    return r;
}

GP_EXPORT int pthread_key_delete(pthread_key_t k)
{
    int r = R(pthread_key_delete)(k);
    if (r == 0) gp_key_deleted(k);
    return r;
}

GP_EXPORT void *pthread_getspecific(pthread_key_t k)
{
    if (!own_tsd()) return R(pthread_getspecific)(k);
    return gp_tsd_get(k);
}

GP_EXPORT int pthread_setspecific(pthread_key_t k, const void *v)
{
    if (!own_tsd()) return R(pthread_setspecific)(k, v);
    if (k >= PTHREAD_KEYS_MAX) return EINVAL;
    return -gp_tsd_set(k, v);
}
