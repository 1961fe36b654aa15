/* gp.h — the only header shim/ includes: the runtime's entry points.
 *
 * Conventions (the contract is written out in sched.c):
 *   - every gp_* call returns >= 0 on success or -errno; the runtime never
 *     touches errno (except to save and restore it across switches);
 *   - time is one type, gp_deadline: absolute CLOCK_MONOTONIC nanoseconds,
 *     GP_FOREVER (-1) for never, 0 for "poll, do not wait";
 *   - nothing here knows which libc function a hook stands for: the shim
 *     describes a call (an attempt function, an fd, a direction) and the
 *     runtime decides how and when to make it.
 */
#ifndef GP_H
#define GP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>
#include <poll.h>
#include <signal.h>

typedef int64_t gp_deadline;
#define GP_FOREVER ((gp_deadline)-1)
#define GP_NSEC 1000000000LL

/* Per OS thread state the shim reads on every hooked call. `managed` is 1
 * exactly when the calling code is a green thread on its worker, outside the
 * runtime and outside a signal handler, and another green thread exists that
 * could run while this one waits (otherwise a blocking call may as well go
 * straight to libc). The runtime keeps it current at every switch. */
struct gp_worker;
struct gp_tls {
    int managed;     /* hooked calls go through the runtime */
    struct gp_worker *worker; /* the worker this OS thread runs (its scheduler), or NULL */
    int swallow_nb;  /* libuv is about to set O_NONBLOCK on a program fd: ignore it */
    const char *last; /* the last hooked call a gthread made here (monitor, traces) */
    unsigned preempt_calls; /* preemption points passed (the clock is read at some) */
    int in_handler;  /* signal handlers running on this OS thread (the shim's trampoline) */
    void *evicted;   /* this gthread was left behind by its worker (a hand-off, sched.c):
                      * managed reads 2 meanwhile, and its next entry comes back first */
};
extern __thread struct gp_tls gp__tls __attribute__((tls_model("initial-exec")));

/* An evicted gthread (managed == 2) gives its OS thread back and queues
 * itself for the worker first: returns what managed is once it runs there. */
int gp__rejoin(void);
/* Every entry into gpatch that may touch its worker's state or the green
 * thread's own (a stream's gate, the fd table, a key, its mask, its
 * handle...) begins here: a gthread a hand-off left on its OS thread comes
 * back to its worker first. Never inside a signal handler (it may have
 * interrupted anything, and may run on a signal stack of that OS thread's):
 * there the gthread stays where it is, its hooked calls pass through as an
 * OS thread's, and only what is its very own is answered for it
 * (gp_away_self). GP_MANAGED's one test of managed is this same test:
 * managed reads 2 exactly while away and outside a handler (the trampoline
 * zeroes it around one). */
static inline int gp_away(void) { return gp__tls.evicted && !gp__tls.in_handler; }
static inline void gp_enter(void)
{
    if (__builtin_expect(gp_away(), 0)) gp__rejoin();
}
static inline int gp__managed_slow(void) { return gp__tls.managed && gp__rejoin(); }
static inline int gp_managed(void) { return gp__tls.managed == 1 || gp__managed_slow(); }
extern int gp_trace_calls; /* GPATCH_DEBUG */
void gp_trace_call(const char *name);
/* gp_managed() for a hook, noting its name (__func__ is the libc name) for
 * the blocking monitor and GPATCH_DEBUG's trace of every managed call */
#define GP_MANAGED()                                                         \
    ((gp__tls.managed == 1 || gp__managed_slow()) && (gp__tls.last = __func__,                            \
                         __builtin_expect(gp_trace_calls, 0) ? (gp_trace_call(__func__), 1) : 1))
static inline int gp_started_here(void)
{
    gp_enter();
    return gp__tls.worker != NULL;
}
static inline int gp_swallowing_nonblock(void) { return gp__tls.swallow_nb; }

/* ---- time ------------------------------------------------------------- */
static inline gp_deadline gp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (gp_deadline)ts.tv_sec * GP_NSEC + ts.tv_nsec;
}
/* A relative interval (already validated, >= 0) to a deadline. */
static inline gp_deadline gp_after_ns(int64_t ns)
{
    gp_deadline now = gp_now();
    if (ns > INT64_MAX - now) return GP_FOREVER;
    return now + ns;
}
static inline int64_t gp_ts_ns(const struct timespec *ts)
{
    if (ts->tv_sec > INT64_MAX / GP_NSEC - 1) return INT64_MAX;
    return (int64_t)ts->tv_sec * GP_NSEC + ts->tv_nsec;
}
/* An absolute time on clock clk (already checked) as a monotonic deadline:
 * the same distance from now; 0 when it has passed. */
static inline gp_deadline gp_abs_deadline(clockid_t clk, const struct timespec *ts)
{
    struct timespec now;
    clock_gettime(clk, &now);
    int64_t d = gp_ts_ns(ts) - gp_ts_ns(&now);
    return d <= 0 ? 0 : gp_after_ns(d);
}
/* Remaining ns until dl, 0 if passed. */
static inline int64_t gp_left(gp_deadline dl)
{
    if (dl < 0) return INT64_MAX;
    gp_deadline now = gp_now();
    return dl > now ? dl - now : 0;
}

/* ---- green threads ----------------------------------------------------- */
struct gp_thread_attr {
    size_t stack_size;  /* usable bytes */
    void *stack_addr;   /* lowest address of a program-provided stack, or NULL */
    int detached;
    uint64_t sigmask;   /* inherited from the creator, as POSIX says */
};
/* May the calling code create a green thread (it is the main OS thread or a
 * gthread, not the scheduler, not a signal handler)? */
int gp_can_spawn(void);
int gp_thread_create(uintptr_t *out, const struct gp_thread_attr *a,
                     void *(*fn)(void *), void *arg);
/* Does this pthread_t name a green thread (alive, or dead but not joined)? */
int gp_is_thread(uintptr_t h);
int gp_is_current_gthread(void);  /* caller is a gthread (on its worker) */
/* What a pthread_t the program hands to a pthread function names; any OS
 * thread may ask, and no gthread's handle may ever reach glibc:
 *   GP_H_OS    an OS thread's: libc acts on *os (h itself, or, in a child
 *              forked by a gthread, the real handle of the child's thread
 *              that carries that gthread's identity)
 *   GP_H_MAIN  main's gthread: joins and signals through the runtime,
 *              OS-level calls (names, scheduling) on *os, the worker's
 *   GP_H_GREEN a gthread (running, parked, or exited and not yet joined);
 *              OS-level calls act on *os, the worker it runs on
 *   GP_H_GONE  a gthread that exited and whose record was freed (it was
 *              detached, or joined): answered as glibc answers an exited
 *              thread, never handed to it */
enum { GP_H_OS, GP_H_MAIN, GP_H_GREEN, GP_H_GONE };
int gp_handle_kind(uintptr_t h, uintptr_t *os);
uintptr_t gp_thread_self(void);
/* any OS thread: the handle of the gthread a hand-off left running here, now
 * inside a signal handler (which does not bring it back: gp_enter), or 0 */
uintptr_t gp_away_self(void);
/* any OS thread (a gthread parks; an OS thread that is not one sleeps until
 * the gthread exits). dl: GP_FOREVER to wait, 0 for tryjoin (-EBUSY), else
 * -ETIMEDOUT at dl. A stale handle: -EINVAL if it was detached, else -ESRCH. */
int gp_thread_join(uintptr_t h, void **ret, gp_deadline dl);
int gp_thread_detach(uintptr_t h);  /* any OS thread */
_Noreturn void gp_thread_exit(void *ret);
int gp_thread_alive(uintptr_t h);  /* any OS thread: 0 alive, 1 exited, -ESRCH */
int gp_thread_cancel(uintptr_t h);
int gp_test_cancel(void);  /* exits the gthread if cancelled (and enabled) */
int gp_thread_setcancelstate(int enable, int *old);
/* Cleanup handlers (pthread_cleanup_push), per gthread: the runtime keeps the
 * innermost record; the shim knows its format and registers the function
 * that unwinds into it (it does not return) when a gthread exits by
 * pthread_exit or cancellation. */
void **gp_cleanup_top(void);
void gp_set_unwinder(void (*unwind)(void *top));
/* exit through the cleanup handlers, then with ret */
_Noreturn void gp_thread_exit_unwinding(void *ret);
/* the handlers are done: exit with the value recorded */
_Noreturn void gp_thread_exit_recorded(void);
struct gp_stack_info { void *lo; size_t size; size_t guard; int detached; };
/* any OS thread: 0 filled, 1 main's own stack (ask libc), -errno */
int gp_thread_stack(uintptr_t h, struct gp_stack_info *si);
/* any OS thread; -ENOENT for an exited thread (it has no /proc entry) */
int gp_thread_setname(uintptr_t h, const char *name);
int gp_thread_getname(uintptr_t h, char *buf, size_t len);
/* the kernel's id of the OS thread gthread h runs on now (its home
 * worker's carrier, or the one it kept while away), or -ESRCH once it exited */
int gp_thread_os_tid(uintptr_t h);
/* How a signal's handler interrupts a call, as the kernel's: no handler
 * (SIG_DFL, SIG_IGN: nothing is interrupted), a handler with SA_RESTART
 * (restartable calls go on), a handler without it. */
enum { GP_SIGMODE_NONE, GP_SIGMODE_RESTART, GP_SIGMODE_NORESTART };
/* any OS thread, never a handler: send sig to green thread h, kept for it
 * alone: 1 kept (h blocks it or sigwaits for it), 2 kept for the caller
 * itself (deliver it now), 3 kept and h is being interrupted to run its
 * handler (its worker readies it; an OS thread its code runs on gets the
 * deliver signal),
 * 0 send it the usual way, -errno */
int gp_thread_sig_send(uintptr_t h, int sig, const siginfo_t *si, int mode);
/* the shim's: runs the calling green thread's kept signals it lets in */
void gp_set_deliverer(void (*fn)(void));
/* the signal that makes the OS thread a green thread runs on deliver its
 * kept signals (two: with and without SA_RESTART, as the program's handler) */
int gp_deliver_sig(int mode);
extern int gp_deliver_taken; /* the program handles them itself: no deliver signals are sent */
/* signal-safe: from the trampoline, before the program's handler runs: 1 if
 * it must run in another green thread (the scheduler passes it on), 0 to run
 * it here (the current one's call is interrupted as the kernel's would be) */
int gp_signal_elsewhere(int sig, const siginfo_t *si, int mode);
/* signal-safe: the internal deliver signal landed: may the current green
 * thread on this OS thread run its kept handlers at pc? */
int gp_deliver_here(uintptr_t pc);
/* main's mask changed (main keeps the OS thread's own): bits */
void gp_thread_main_mask(uint64_t bits);
/* a signal sent to a gthread that blocks it or waits for it in sigwait is
 * kept for it alone, as the kernel keeps an OS thread's (thread.c) */
int gp_thread_sig_post(uintptr_t h, int sig, const siginfo_t *si, int waiting_only); /* 1 kept, 0 send, -errno */
int gp_thread_sig_take(uint64_t set, siginfo_t *info);              /* gthread: a kept one of set, or 0 */
int gp_thread_sig_take_unblocked(siginfo_t *info);                   /* gthread: a kept one its mask lets in, or 0 */
uint64_t gp_thread_sig_kept(void);                                   /* gthread: the kept ones (bits) */
int gp_thread_sigwaiting(uint64_t set);                              /* gthread: in a sigwait for set, or not (0) */
uint64_t gp_sigwait_all(void);                                       /* what all sigwaits in progress wait for */
void gp_thread_sig_handled(int sig, int on);
uintptr_t gp_thread_sig_taker(int sig); /* gthread: who takes a kill of its process now (0: the kernel decides) */ /* the shim's sigaction: sig has a program handler (1) or not */
int gp_yield(void);         /* the runtime's own spins: the gthread stays on its worker */
int gp_yield_movable(void); /* the program's yields: another worker may take it meanwhile */
int gp_yield_program(void); /* sched_yield: gp_yield_movable, and the OS thread's yield when nobody else was ready */
/* at a hooked call that did not wait: go round the loop if this gthread has
 * kept the worker for a whole time slice (the clock is read at one call in
 * eight, in gp_preempt_check) */
void gp_preempt_check(void);
/* at the same points while another worker is hungry (stealing; worker.c):
 * the gthread offers itself to it if another is ready here */
void gp_offer_self(void);
extern int gp__hungry; /* workers about to sleep that asked for work; 0 unless stealing is on */
static inline void gp_preempt_point(void)
{
    if (!gp__tls.managed) return;
    if (__builtin_expect(__atomic_load_n(&gp__hungry, __ATOMIC_RELAXED), 0)) gp_offer_self();
    else if (!(++gp__tls.preempt_calls & 7)) gp_preempt_check();
}

/* ---- sleeping ------------------------------------------------------------ */
/* Park until dl. 0 when reached, -EINTR when a signal handler interrupted. */
int gp_sleep(gp_deadline dl);

/* ---- I/O ------------------------------------------------------------------ */
enum { GP_IN = 1, GP_OUT = 2, GP_PRI = 8 };  /* as libuv's UV_READABLE... */
enum gp_how {
    GP_PLAIN,   /* make the call as the program asked (it will not block, or may) */
    GP_SOCK,    /* a socket: add MSG_DONTWAIT (or its equivalent) */
    GP_RWF,     /* a pipe/FIFO/tty: use preadv2/pwritev2 with RWF_NOWAIT */
    GP_FINISH,  /* a connect in progress became writable: collect its result */
    GP_SMALL,   /* a zero-timeout poll saw a pipe, FIFO or terminal writable: move at
                 * most PIPE_BUF bytes of what is left (that much cannot block, where
                 * the whole could, waiting for a reader on this very worker) */
};
struct gp_io {
    /* Make the call once without blocking (as `how` says), continuing after
     * op->done bytes; return bytes moved, or -errno (-EAGAIN: would block). */
    ssize_t (*attempt)(struct gp_io *op, int how);
    int fd;
    short events;          /* GP_IN or GP_OUT */
    unsigned char all;     /* a blocking call moves all of len (write, MSG_WAITALL) */
    unsigned char connect; /* -EINPROGRESS means: wait writable, then GP_FINISH */
    unsigned char newfd;   /* the result is a new fd (accept) */
    unsigned char drains;  /* a short result means the socket is empty now (not MSG_PEEK) */
    unsigned char sock;    /* a call of sockets only (recv*, send*, accept, connect): on any
                            * other file the kernel answers ENOTSOCK at once, never waits */
    size_t len, done;
    /* set by gp_io before a GP_SOCK or GP_FINISH attempt: the fd's file
     * status flags as the runtime knows them (read once, kept until the
     * program changes them through a hooked call), or -1 not known yet. An
     * attempt that must set O_NONBLOCK for one call puts these back. */
    int fl;
};
ssize_t gp_io(struct gp_io *op);
/* Gthread only. A call with no "don't wait" flag (accept, a read of an
 * eventfd) is made only after a zero-timeout poll saw the fd ready. With
 * several workers a gthread of another one may take what the poll saw
 * before the call, which then blocks its worker: the poll and the call are
 * made under this lock (one of a few, by fd). 1: taken (gp_ready_unlock
 * after the call); 0: another worker's gthread is at it: answer -EAGAIN, the
 * runtime waits for the fd again. Always 1 with one worker. */
int gp_ready_lock(int fd);
/* any thread: fd is the epoll fd of one of the runtime's loops (shim/epoll.c) */
int gp_loop_epoll(int fd);
void gp_ready_unlock(int fd);

struct gp_pollop {
    /* Check readiness without waiting: > 0 ready, 0 none, -errno. */
    int (*attempt)(struct gp_pollop *op);
    struct pollfd *wait;   /* what to wait on between attempts */
    nfds_t nwait;
    gp_deadline deadline;
};
/* Attempt, and between attempts wait until one of the fds may be ready, the
 * deadline passes (then 0) or a signal handler interrupts (-EINTR). */
int gp_poll(struct gp_pollop *op);

/* fd lifecycle, from any OS thread (a gthread, main, or an OS thread that
 * is not a gthread): the program closes or replaces fd (wakes its waiters
 * with EBADF first); -EBADF when fd is one of the runtime's own. */
int gp_fd_close(int fd);
void gp_fd_new(int fd);  /* a fresh fd appeared under this number */
/* the program changed fd's O_NONBLOCK or socket timeouts (fcntl, ioctl, setsockopt) */
void gp_fd_flags_changed(int fd);
int gp_fd_tracking(void); /* a runtime is running: the calls above matter */

/* ---- stdio streams locked across a park (stdio.c) ----------------------- */
extern int gp__files_held; /* streams a gthread holds with flockfile now */
static inline int gp_files_held(void) { return __atomic_load_n(&gp__files_held, __ATOMIC_ACQUIRE); }
/* flockfile / ftrylockfile (trylock: -EBUSY) on a gthread: the stream's gate,
 * parking while another gthread holds it; any thread (others: 0 at once) */
int gp_file_lock(void *fp, int trylock);
void gp_file_unlock(void *fp); /* funlockfile's: any thread */
/* a stdio call on fp (NULL: all streams) waits while another gthread holds
 * its gate; any thread (others return at once) */
void gp_file_wait(void *fp);
/* any thread: 1 if the calling gthread holds fp's gate (flockfile) */
int gp_file_mine(void *fp);

/* ---- dlopen (tls.c) ----------------------------------------------------- */
/* Does a dlopen on this thread need gp_dlopen (own TLS, on a gthread)? */
int gp_dlopen_tracks(void);
/* gthread only: glibc's dlopen, then the initial-exec TLS of the modules it
 * loaded is initialised in every green thread's block, as glibc does in the
 * threads it knows. Returns what dlopen returned (dlerror as it left it). */
void *gp_dlopen(const char *file, int mode);

/* ---- synchronisation objects (sync.c) ------------------------------------ */
/* Wait on the object at key: try(ctx) returns 0 (got it), -EAGAIN (not yet)
 * or another -errno (returned). Parks between tries until gp_sync_wake(key),
 * dl (then -ETIMEDOUT), or, if intr, a signal (-EINTR); with GP_INTR_CANCEL
 * or'ed into intr a pending cancel ends the gthread there. poll_ns > 0 also
 * tries again that often, for wakers that may not call gp_sync_wake. A dl
 * already passed still yields before the last try. */
int gp_sync_wait(const void *key, int (*try)(void *ctx), void *ctx, gp_deadline dl, int intr, int64_t poll_ns);
/* Wake up to n gthreads waiting on key, from any thread; returns how many. */
int gp_sync_wake(const void *key, int n);
/* Condition wait: queue on key, release(ctx), park until woken or dl,
 * reacquire(ctx). 0, -ETIMEDOUT, or reacquire's error. A cancellation
 * point: a cancelled waiter reacquires, then runs its cleanup handlers. */
int gp_cond_wait(const void *key, void (*release)(void *ctx), int (*reacquire)(void *ctx), void *ctx, gp_deadline dl);
enum { GP_INTR_NONE = 0, GP_INTR_RESTART = 1, GP_INTR_ALWAYS = 2 }; /* as gp_intr: never / as SA_RESTART says / EINTR */
enum { GP_INTR_CANCEL = 4 }; /* or'ed in: the wait is a cancellation point (sem_wait) */
enum { GP_WAKE_ENDS = 16 };   /* or'ed in: a gp_sync_wake that takes the waiter ends the wait with 0 (futex) */
void gp_key_created(unsigned key, void (*dtor)(void *)); /* any thread, after the real create */
void gp_key_deleted(unsigned key);                        /* any thread, after the real delete */
void *gp_tsd_get(unsigned key);
int gp_tsd_set(unsigned key, const void *v);
/* gthread only, all three: which gthread write-holds an object whose libc
 * state cannot tell (a glibc rwlock records its writer by OS thread id, which
 * the gthreads of a worker share). note: the calling gthread now
 * write-holds obj (0, or -ENOMEM: not recorded); forget: it let obj go
 * (nothing if it had not noted it). */
int gp_owner_note(const void *obj);
void gp_owner_forget(const void *obj);
/* gthread only: 1 when the calling gthread write-holds obj: it noted obj, or
 * it is main, libc_owner (the thread id libc recorded as obj's writer) is the
 * id of the OS thread it runs on, and no gthread noted obj (main locked it
 * before the runtime started); else 0 */
int gp_owner_holds(const void *obj, int libc_owner);
int gp_owner_anyone(const void *obj); /* some gthread of ours noted obj (holds it) */
/* the current gthread took (+1) or released (-1) a lock glibc manages */
void gp_foreign_lock(int delta);
int gp_foreign_held(void); /* gthread: the locks glibc manages it holds now */
/* an id for the current gthread that no OS thread id can equal */
int gp_owner_id(void);
/* the owner id of a caller that is not a gthread (its tid; in a child
 * forked by a gthread, the main thread keeps that gthread's id) */
int gp_os_owner_id(void);
/* any thread: the calling OS thread's id (read once per thread) */
int gp_os_tid(void);
/* any thread: tid is the OS thread of one of the runtime's workers, or the
 * process's main thread (whose id own-TLS green threads show glibc) */
int gp_tid_is_worker(int tid);
/* in a child forked by a gthread, before any new thread: its pthread_t */
uintptr_t gp_inherited_self(void);

/* ---- helper threads (pool.c) ------------------------------------------------ */
/* Run fn(ctx) on a helper OS thread while the calling gthread parks. */
int gp_offload(void (*fn)(void *ctx), void *ctx);
/* The same, a cancellation point: on a cancel, on_cancel(ctx) makes fn end,
 * and -ECANCELED once it has (pool.c) */
int gp_offload_cancellable(void (*fn)(void *ctx), void *ctx, void (*on_cancel)(void *ctx));

/* ---- signals, fork ------------------------------------------------------- */
/* From a signal handler trampoline (async-signal-safe): a handler ran;
 * restart: it was installed with SA_RESTART. */

/* A green thread's signal mask is its own (glibc's is per OS thread, which
 * all green threads of a worker share): signals 1..64 as bits 0..63. Main
 * keeps the real one. how: SIG_BLOCK, SIG_UNBLOCK, SIG_SETMASK. */
int gp_thread_sigmask(int how, const uint64_t *set, uint64_t *old);
int gp_is_main_gthread(void);
void gp_fork_child(void);
/* gthread only: the worker's signalfd for sigwait, its mask covering want
 * (exactly want when exact: no waiter wants the others), or -errno */
int gp_sigwait_fd(const sigset_t *want, int exact);
/* is fn a handler the runtime installed itself (the overflow reporter)? */
int gp_runtime_handler(void *fn);
/* the handler that stands for sig's default action (--stats: SIGTERM, SIGINT,
 * SIGHUP print the counters, then die by the signal), or NULL */
void *gp_default_handler(int sig);

/* ---- settings and diagnostics -------------------------------------------- */
void gp_configure(size_t default_stack, int debug);
void gp_configure_monitor(int stats, long monitor_ms, int trace_calls);
/* GPATCH_SHUFFLE=SEED (a testing aid): perturb the scheduler's choices
 * reproducibly from seed; 0 leaves them alone */
void gp_configure_shuffle(uint64_t seed);
/* GPATCH_TLS: -1 auto (own where glibc allows), 0 shared, 1 own */
void gp_configure_tls(int want);
/* GPATCH_HANDOFF_MS: hand a worker stuck for this long to another OS thread (0: never).
 * On by default, as Go's runtime hands off a P whose M blocked in a system
 * call; with own TLS only (handoff.c) */
void gp_configure_handoff(long ms);
#define GP_HANDOFF_MS_DEFAULT 10
/* GPATCH_PREEMPT_MS: a green thread computing that long without a call is
 * preempted at a safe point (runtime/preempt.c); 0 off */
void gp_configure_preempt(long ms);
#define GP_PREEMPT_MS_DEFAULT 10
#define GP_PREEMPT_SIG (SIGRTMIN + 10) /* the preemption signal */
int gp_preempt_sig(void);   /* GP_PREEMPT_SIG, or 0 where preemption is configured off */
void gp_preempt_taken(void); /* the program installs its own handler for it: preemption stops */
int gp_preempt_running(void); /* GP_PREEMPT_SIG while its handler is in and preemption on, else 0 */
/* GPATCH_WORKERS: run green threads on n worker OS threads (sched.c, "Workers") */
void gp_configure_workers(int n);
/* the count without GPATCH_WORKERS: 0 would mean the CPUs the process may
 * run on (its affinity mask), as Go's GOMAXPROCS. One, measured (README,
 * "Workers"): on this 2-core VM a second worker speeds a computing handler
 * up 1.6x but slows the plain keep-alive server by a tenth (the load
 * generator shares the cores) and MariaDB's mysqlslap two to four times
 * (cross-worker futex traffic, each wake an eventfd write and an epoll
 * wake-up) */
#define GP_WORKERS_DEFAULT 1
/* GPATCH_NO_RWF_NOWAIT=1 (a testing aid): 0 makes pipes, FIFOs and terminals
 * take the path of a kernel that refuses RWF_NOWAIT (fdtable.c) */
void gp_configure_rwf_nowait(int on);
/* GPATCH_STACK_GUARD: how a green thread's stack overflow is caught (coro.c) */
enum { GP_STACK_GUARD_AUTO, GP_STACK_GUARD_ON, GP_STACK_GUARD_OFF };
void gp_configure_stack_guard(int mode);
void gp_debugf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
extern int gp_debug_on;

#endif
