/* internal.h — what the runtime's files share with each other (gp__*).
 * Never included by shim/. */
#ifndef GP_INTERNAL_H
#define GP_INTERNAL_H
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <signal.h>
#include <stdint.h>
#include <uv.h>

#include "fcontext.h"
#include "gp.h"

/* ---- intrusive doubly linked list (libuv queue.h style) --------------- */
struct gp_list { struct gp_list *next, *prev; };
static inline void gp_list_init(struct gp_list *l) { l->next = l->prev = l; }
static inline int gp_list_empty(const struct gp_list *l) { return l->next == l; }
static inline void gp_list_push(struct gp_list *l, struct gp_list *n)
{
    n->prev = l->prev; n->next = l; l->prev->next = n; l->prev = n;
}
static inline void gp_list_del(struct gp_list *n)
{
    n->prev->next = n->next; n->next->prev = n->prev; n->next = n->prev = n;
}
static inline struct gp_list *gp_list_pop(struct gp_list *l)
{
    if (gp_list_empty(l)) return NULL;
    struct gp_list *n = l->next; gp_list_del(n); return n;
}
#define gp_container(ptr, type, field) ((type *)((char *)(ptr) - offsetof(type, field)))

/* ---- a green thread --------------------------------------------------- */
/* A gthread's state; the transitions allowed are drawn in sched.c's essay
 * and checked by gp__set_state, the only code that changes g->state. */
/* GT_AWAY: the worker was handed to another OS thread while this gthread
 * ran code gpatch cannot see; it keeps its old OS thread until it comes
 * back (sched.c, "Hand-off"). */
enum gp_state { GT_FREE, GT_READY, GT_RUNNING, GT_PARKED, GT_DEAD, GT_AWAY };
#define GT_BIT(s) (1u << (s))
/* How a park reacts to a signal handler: not at all (joins, locks), like a
 * restartable call (resumes waiting if the handler had SA_RESTART), or like a
 * call that is never restarted (sleep, poll, socket calls with a timeout). */
enum gp_intr { GP_NOINTR, GP_RESTARTABLE, GP_NORESTART };
#define GP_INTR_MASK 3
/* Or'ed into a park's intr: the wait is a cancellation point. Whether a
 * signal interrupts a wait and whether pthread_cancel ends it are separate
 * questions (pthread_cond_wait: never EINTR, but cancellable). A park with it
 * returns -ECANCELED; its caller undoes what it registered (a queue entry on
 * its stack, a joiner) and then calls gp__cancel_exit. */
#define GP_CANCELPT GP_INTR_CANCEL
/* Or'ed into gp_sync_wait's intr with GP_CANCELPT: a cancel returns
 * -ECANCELED to the caller, which undoes its own registrations first */
#define GP_CANCEL_RETURN 8

#define GT_MAGIC 0x67746872u /* "gthr" */

struct gp_gthread {
    fcontext_t ctx;           /* saved context while not running */
    uint32_t magic;
    int id;                   /* 0 is main */
    int state;
    void *tcb;                /* its thread control block (own TLS), or NULL (shared) */
    int err;                  /* errno, saved across switches */
    int herr;                 /* h_errno, likewise */
    const char *last;         /* its last hooked call (gp__tls.last while it runs) */
    int wake;                 /* result handed over by gp__ready */
    int intr;                 /* enum gp_intr of the current park */
    int cancelpt;             /* the current park is a cancellation point */
    int skipping;             /* yielding inside a wait that did not park (sched.c) */
    int offered;              /* on the run queue from gp_offer_self (counted if it moves) */
    int in_call;              /* inside a blocking call (gp_io, gp_poll, gp_sleep, a sync wait) */
    int sigpend;              /* a handler ran while it was in that call: 1 SA_RESTART, 2 not */
    uint64_t sigmask;         /* its own signal mask (not main's: main keeps the OS thread's) */
    int leaving;              /* on its way out: no signal is kept for it any more (record lock; sigthread.c) */
    uint64_t sig_pend;        /* signals sent to it alone that it blocks or sigwaits for, not yet taken (sigthread.c; record lock) */
    struct gp_siginfo *sig_info; /* their senders' details, 64 of them, made at the first one kept or its first sigwait */
    int sigwaiting;           /* in a sigwait for sigwait_set: a post wakes it (GP_X_POKE) */
    uint64_t sigwait_set;
    int sig_mode;             /* how the kept signals it lets in interrupt its call: GP_SIGMODE_* (sigthread.c) */
    int deliver_restart;      /* readied with -GP_EDELIVER: after the handlers, park again (sched.c) */
    int tid_kept;             /* its block's glibc id may be one it holds locks under (sched.c, sync_tid) */
    int in_fn;                /* inside its start routine (gthread_entry): the program's code may run */
    int foreign;              /* glibc-handled locks it holds: while > 0 it never parks */
    int streams;              /* stream gates it holds (flockfile; stdio.c): never preempted meanwhile */
    void *cleanup_top;        /* pthread_cleanup_push records, innermost first (shim's format) */
    void *exit_value;         /* what it exits with once its cleanup handlers have run */
    const char *reason;       /* why it is parked: traces and the monitor */
    int detached, cancelled, cancel_off, joined;
    struct gp_gthread *joiner;
    /* a join by an OS thread that is not a gthread (thread.c), under the
     * record lock: xjoin it waits, xdone it exited (the futex word the exit
     * sets, what other OS threads read instead of state), reap it joined
     * before finish_dead ran, finished finish_dead ran */
    int xjoin, reap, finished;
    uint32_t xdone;
    void *(*fn)(void *);
    void *arg, *ret;
    /* stack: [stack_lo, stack_lo+stack_size), a slot of an arena (coro.c)
     * with a guard page (guard bytes) or a canary zone (canary) below it,
     * or the program's own (arena == NULL) */
    void *stack_lo; size_t stack_size;
    void *arena; unsigned slot;
    size_t guard;
    uint64_t *canary, canary_val; /* checked at every switch away (switch_to) */
    uv_timer_t timer;         /* the record's timer, on the loop of the worker it was made on */
    uv_timer_t *tm;           /* the deadline timer in use: timer, or one its worker lent it
                               * after it moved there (sched.c, "Stealing") */
    int movable;              /* ready at a clean point (a yield, a time slice's end, new): no
                               * registration anywhere, so another worker may take it */
    int pinned;               /* inside code that knows its OS thread (the loader's lock) */
    struct gp_list runq;      /* link in the run queue */
    struct gp_list all;       /* link in the worker's list of live gthreads */
    uintptr_t handle;         /* the pthread_t the program sees */
    struct gp_tsd { void *v; unsigned seq; } *tsd; unsigned tsd_n; /* pthread_setspecific values, with their key's sequence number (sync.c) */
    /* the objects it write-holds (rwlocks: gp_owner_note, sync.c): the
     * first GP_OWNED_IN in place, more in owned_heap (owned_cap slots) */
#define GP_OWNED_IN 4
    const void *owned_in[GP_OWNED_IN], **owned_heap;
    unsigned owned_n, owned_cap;
    char name[16];
    struct gp_worker *home;   /* the worker it runs on (GPATCH_WORKERS: placed at creation; with own
                               * TLS another worker may steal it while it is movable) */
    struct gp_carrier *carrier; /* GT_AWAY: the OS thread it kept (handoff.c) */
    struct gp_gthread *rejoin_next; /* in the worker's list of gthreads coming back */
#ifdef GP_TSAN
    void *tsan_fiber;         /* ThreadSanitizer's fiber for this stack (`make test-tsan` only) */
#endif
};

/* ---- the worker ------------------------------------------------------- */
struct gp_worker {
    uv_loop_t loop;
    struct gp_gthread sched;   /* the scheduler context (no gthread) */
    struct gp_gthread *g0;     /* main */
    struct gp_gthread *cur;
    struct gp_list runq;
    struct gp_list all;
    int next_id;
    int budget;                /* direct switches left before the loop turns */
    uv_async_t async;          /* wake-ups from signal handlers, other threads */
    volatile sig_atomic_t sig_pending; /* a handler passed a signal on (redir_set) */
    uint64_t redir_set;        /* process signals a handler passed on to the scheduler (bits; worker 0) */
    struct gp_redir { int code, pid, mode; unsigned uid; union sigval value; } redir[64]; /* their details */
    uintptr_t os_thread;       /* pthread_self() of the worker OS thread */
    struct gp_tls *tls;        /* the gp__tls of the block loaded now, for the watchdog to read */
    gp_deadline away_since;    /* when the scheduler last handed the worker to gthreads, 0 while home */
    void *sched_stack; size_t sched_stack_size;
    struct gp_carrier *carrier;  /* the OS thread that owns the worker now (hand-off) */
    struct gp_gthread *rejoin;   /* gthreads back from GT_AWAY, pushed by their old OS threads */
    int naway;                   /* gthreads in GT_AWAY (each keeps an OS thread) */
    sigset_t os_mask;            /* the owner OS thread's signal mask, handed on with the worker */
    /* several workers (GPATCH_WORKERS, sched.c "Workers") */
    int index;                   /* 0 is main's worker */
    pid_t tid;                   /* its OS thread's id */
    int nhome;                   /* live gthreads placed here (atomic: place() reads them all) */
    void *idle_tcb;              /* a block the scheduler may stand on when a gthread's goes (own TLS) */
    unsigned long switches;      /* its share of gp__stats.switches */
    uint64_t shuffle_state;      /* its GPATCH_SHUFFLE stream */
    struct gp_list remote_ready; /* sync waiters woken by other threads (sync.c, under its lock) */
    int remote_pending;          /* remote_ready is not empty (a hint for the drain) */
    int inbox_lock;              /* spinlock over inbox */
    struct gp_xmsg *inbox;       /* what other workers ask of this one (sched.c) */
    unsigned inbox_n, inbox_cap;
    int inbox_pending;
    struct gp_fdtab *fds;        /* its fd table (fdtable.c) */
    int hungry;                  /* about to sleep with nothing to run: give me one (stealing) */
    int64_t hungry_since;        /* when it last said so (gp_now) */
    int deferred;                /* this loop turn left an fd wake's gthreads for later (gp__run_ready) */
    uv_timer_t *spare_timers;    /* timers on this loop lent to gthreads that moved here (their
                                  * data links the spare ones; under the record lock) */
    /* preemption (preempt.c): the OS thread whose timer is made, and what
     * the last ticks saw running (its owner's handler only) */
    pid_t ptimer_tid;
    struct gp_list batch;        /* preempted gthreads, READY, behind the run queue (sched.c, batch_turn) */
    gp_deadline batch_since;     /* when batch's head last waited from */
    struct gp_gthread *pre_g;
    unsigned long pre_switches;
    int pre_ticks;
};
/* the runtime's first worker (main's), NULL before the runtime starts and
 * in a forked child: "is there a runtime?" for any thread */
extern struct gp_worker *gp__w;
/* the worker the calling OS thread runs, NULL on any other thread */
#define GP_ME() (gp__tls.worker)
#define GP_MAX_WORKERS 64
extern struct gp_worker *gp__workers[GP_MAX_WORKERS];
extern int gp__nworkers;
extern int gp__nlive; /* gthreads alive on every worker (atomic) */
/* how many may be alive at once: pthread_create fails with EAGAIN past it (thread.c) */
long gp__thread_limit(void);
extern int gp__naway; /* gthreads in GT_AWAY on every worker (atomic; hand-off) */
extern int gp__steal_on; /* own TLS and several workers, unless GPATCH_STEAL=0 */
extern int gp__workers_want; /* GPATCH_WORKERS, 0 for the default */
/* a message to another worker's scheduler (sched.c): a new gthread to run,
 * a cancel or a signal for one of its gthreads */
enum { GP_X_NEW, GP_X_CANCEL, GP_X_DELIVER, GP_X_MOVE, GP_X_POKE };
struct gp_xmsg { struct gp_gthread *g; int id, kind, arg; };
/* any OS thread (never a handler): post m to w's scheduler and wake it */
void gp__xpost(struct gp_worker *w, struct gp_gthread *g, int id, int kind, int arg); /* id: g->id, read where g was known live */

/* An OS thread that can carry the worker (handoff.c): the original worker
 * thread and the spares started for hand-offs. rec.ctx is its own context
 * while it does not run the scheduler: where a gthread that kept it jumps
 * to give it back. */
struct gp_carrier {
    struct gp_gthread rec;       /* only ctx (and a state that is not GT_DEAD) is used */
    pthread_t pt;
    pid_t tid;
    void *idle_tcb;              /* the thread pointer it loads while idle (never a gthread's) */
    uint32_t word;               /* futex: 1 = take the worker (the hand-off token, handoff.c) */
    int reserved;                /* picked by the monitor for the next hand-off */
    struct gp_carrier *next;     /* in the list of idle spares */
    struct gp_worker *w;         /* the worker the token hands it (written before word) */
};

/* monitor.c */
#define GP_STAT_REASONS 16
struct gp_stats {
    unsigned long created, peak_alive, switches, turns, pool_jobs; /* switches: the workers' sum (gp__stats_switches) */
    unsigned long handoffs, peak_os; /* hand-offs; most OS threads carrying gthreads at once */
    unsigned long steals;            /* gthreads moved to a hungry worker (sched.c, "Stealing") */
    unsigned long steals_offered;    /* of them, offered at a call's end (gp_offer_self) */
    unsigned long preempts;          /* green threads preempted after a time slice (preempt.c) */
    int64_t longest_stall_ns;
    const char *reason[GP_STAT_REASONS];
    unsigned long parks[GP_STAT_REASONS];
};
extern struct gp_stats gp__stats;
extern int gp__stats_on;
void gp__stat_park(const char *reason);
unsigned long gp__stats_switches(void);
void gp__monitor_start(struct gp_worker *w);
int gp__monitor_sig(void); /* the signal the monitor asks a stuck worker's stack with */
/* worker: g's canary was found broken at a switch: the overflow report, abort() */
_Noreturn void gp__overflow_abort(struct gp_gthread *g) __attribute__((cold, noinline));

/* sched.c */
int gp__start(void);
int gp__worker_init(struct gp_worker *w, int index); /* main's thread: a worker's loop, stacks, queues */
void gp__runq_push(struct gp_worker *w, struct gp_gthread *g); /* worker only: g (READY) onto w's run queue */
void gp__step_off(struct gp_worker *w); /* scheduler context: off a block that goes, onto an idle one */

/* worker.c (sched.c's essay: "Workers", "Stealing") */
int gp__workers_wanted(void);          /* GPATCH_WORKERS, or the default */
void gp__workers_start(int n);         /* main's thread, in gp__start: workers 1..n-1 */
struct gp_worker *gp__place(void);     /* any gthread: the worker a new gthread goes to */
void gp__adopt(struct gp_worker *w, struct gp_gthread *g); /* worker only: a new gthread placed on w */
const sigset_t *gp__workers_os_mask(void); /* main's mask when the workers started */
void gp__hunger(struct gp_worker *w, int on); /* worker only: about to sleep / awake (or woken with work) */
int gp__may_leave(struct gp_gthread *g);      /* could g move at a clean point? (stealing: can_move) */
void gp__give_away(struct gp_worker *w);      /* scheduler context: feed a hungry worker */
int gp__hungry_long(void); /* a worker has been hungry for a while (GP_IDLE_OFFER_NS): worth an offer */
/* worker, gthread or scheduler context: g (parked) becomes ready with result */
void gp__ready(struct gp_gthread *g, int result);
/* gthread only. Park the current gthread until gp__ready, dl, or a signal
 * (per intr & GP_INTR_MASK), or a cancel (if intr & GP_CANCELPT). Returns
 * the wake result: 0, -ETIMEDOUT, -EINTR, -ECANCELED, or what gp__ready
 * gave. A park that returns at once (deadline passed, signal already
 * handled) yields first, as gp__wait_skipped. */
int gp__park(const char *reason, gp_deadline dl, int intr);
/* gthread only. A wait that returns without parking: let whoever is ready
 * run, and now and then the loop turn (the contract in sched.c). */
void gp__wait_skipped(void);
/* gthread only: a cancellation point was reached with a cancel pending and
 * its registrations undone: run the cleanup handlers and exit. */
_Noreturn void gp__cancel_exit(void);
/* The one place a gthread's state changes: g must be in one of the states
 * of from (GT_BIT masks). A breach is a runtime bug: fatal, with the line. */
#define gp__set_state(g, from, to)                                             \
    do {                                                                        \
        struct gp_gthread *g_ = (g);                                            \
        if (GP_UNLIKELY(!(GT_BIT(g_->state) & (from))))                         \
            gp__bad_state(g_, to, __FILE__, __LINE__);                          \
        g_->state = (to);                                                       \
    } while (0)
_Noreturn void gp__bad_state(struct gp_gthread *g, int to, const char *file, int line)
    __attribute__((cold, noinline));
void gp__update_managed(void);
void gp__run_ready(void); /* from an fd event's callback: run the ready gthreads now */
void gp__signals(void);   /* act on signal handlers that ran */
void gp__signal_deliver(struct gp_gthread *t, int mode); /* t's worker: have t run its kept signals' handlers */
/* gthread only: the kept signals g's mask lets in run their handlers here (the shim's deliverer) */
void gp__deliver_kept(struct gp_gthread *g);
static inline int gp__deliverable(struct gp_gthread *g)
{
    return (__atomic_load_n(&g->sig_pend, __ATOMIC_RELAXED) & ~__atomic_load_n(&g->sigmask, __ATOMIC_RELAXED)) != 0;
}
void gp__poke_os(int tid, int mode);   /* the deliver signal to OS thread tid (sigthread.c) */
/* preempt.c */
extern long gp__preempt_ms;
extern int gp__preempt_on;
void gp__preempt_start(struct gp_worker *w);   /* main's thread, in gp__start */
void gp__preempt_arm(struct gp_worker *w, pid_t tid); /* w's scheduler on tid: its timer */
void gp__preempt_yield(void);                  /* sched.c: the handler's switch away */
int gp__preempt_handler(void *fn);             /* fn is preempt.c's handler */
void gp__preempt_fork_reset(void);
int gp__holds_stream(const struct gp_gthread *g); /* stdio.c, signal-safe: g holds a stream's lock */

/* walk.c: whose code a pc is in, and the handlers' walks of an interrupted stack */
int gp__pc_is_runtime(uintptr_t pc);   /* pc is in libgpatch's or libuv's code */
int gp__pc_is_program(uintptr_t pc);   /* neither gpatch's nor libc's, the loader's, the vDSO's, the unwinder's */
void gp__code_ranges_init(void);       /* once, at the start, outside handlers */
int gp__walk_handoff(uintptr_t pc);    /* signal-safe: the owner of this stack may be handed off */
int gp__walk_preempt(uintptr_t pc, int is_main); /* signal-safe: the green thread may be preempted here */
void gp__walk_warm(void);              /* outside handlers: set the unwinder up */
void gp__signal_route(int sig, const struct gp_redir *rd); /* worker 0's scheduler */
/* a park readied to run signal handlers (never returned by gp__park) */
#define GP_EDELIVER 4097
void gp__xdrain(void);    /* scheduler context: act on what other workers posted (gp__xpost) */
/* bracket a blocking call: a signal handled while it runs interrupts it */
static inline struct gp_gthread *gp__call_begin(void)
{
    struct gp_gthread *g = GP_ME()->cur;
    g->in_call = 1;
    g->sigpend = 0;
    return g;
}
static inline void gp__call_end(struct gp_gthread *g) { g->in_call = 0; }

/* gp__evict: in the hand-off signal handler on the owner OS thread, the
 * current gthread interrupted in code gpatch does not own: it goes GT_AWAY
 * and the worker passes to carrier c. gp__sched_take: on c, run the
 * scheduler until a gthread that kept c comes back; returns its transfer.
 * gp__rejoin_post: c, idle again, queues that gthread for the worker. */
void gp__evict(struct gp_carrier *c);
transfer_t gp__sched_take(struct gp_carrier *c);
void gp__rejoin_post(struct gp_gthread *g);
void gp__rejoin_drain(void);

/* handoff.c */
void gp__handoff_start(struct gp_worker *w);
void gp__handoff_worker(struct gp_worker *w); /* on worker w's own OS thread (index > 0), before its scheduler */
int gp__handoff_sig(void);
int gp__carrier_tid_known(pid_t tid); /* any thread: tid is an OS thread hand-off made or took */
void gp__handoff_fork_reset(void);
extern long gp__handoff_ms; /* 0: off */
pid_t gp__carrier_tid(void); /* the tid of the OS thread running the calling gthread (a worker's), or 0 */

/* thread.c */
void gp__thread_fork_child(struct gp_worker *w);
void gp__thread_dying(struct gp_gthread *g);    /* worker: g becomes GT_DEAD */
void gp__thread_finished(struct gp_gthread *g); /* worker: g's stack is released */
void gp__thread_fork_reset(void);
int gp__on_own_stack(const void *p, size_t n);
void gp__sigwait_fork_reset(void);
int gp__on_catcher(void);            /* signal-safe: this OS thread is the signal catcher (sigthread.c) */
void gp__catcher_fork_reset(void);
void gp__catcher_left(uint64_t mask);
void gp__signals_before_exit(struct gp_gthread *g); /* gthread, at its exit: the process signals it lets in run first (sigthread.c) */ /* a gthread with this mask exited (sigthread.c) */

/* coro.c */
struct gp_gthread *gp__gthread_alloc(struct gp_worker *home);
void gp__gthread_free(struct gp_gthread *g);
void gp__gthread_free_locked(struct gp_gthread *g);
struct gp_gthread *gp__gthread_slot(uintptr_t h);
void gp__rec_lock(void);
void gp__rec_unlock(void);
void gp__rec_lock_reset(void);
int gp__stack_alloc(struct gp_gthread *g, size_t size);
void gp__stack_release(struct gp_gthread *g);
int gp__stack_overflowed(const struct gp_gthread *g, const char *addr, const char *sp);
int gp__stack_report(char *buf, size_t len);
void gp__stack_lock_reset(void);
/* any thread: g's canary zone is intact (words 0 and 7 of its 64 bytes: the
 * first an overflow writes, and the last) */
static inline int gp__canary_ok(const struct gp_gthread *g)
{
    return g->canary[7] == g->canary_val && g->canary[0] == g->canary_val;
}
struct gp_gthread *gp__gthread_from_handle(uintptr_t h);
/* any OS thread: has g exited? xdone, not state (set once, under the record
 * lock, by gp__thread_dying; acquire pairs with its release store) */
static inline int gp__gthread_exited(struct gp_gthread *g) { return __atomic_load_n(&g->xdone, __ATOMIC_ACQUIRE) != 0; }
size_t gp__page(void);
extern size_t gp__default_stack;

/* loop.c */
int gp__loop_init(struct gp_worker *w);
void gp__timer_arm(struct gp_gthread *g, gp_deadline dl);
void gp__timer_disarm(struct gp_gthread *g);
void gp__timer_lend(struct gp_worker *w, struct gp_gthread *g);
void gp__timer_give_back(struct gp_gthread *g); /* record lock held */
int gp__loop_owns_fd(int fd);
void gp__async_send(uv_async_t *a); /* any OS thread, signal-safe: with this thread's hooks off */

/* sync.c */
void gp__sync_drain_remote(struct gp_worker *w);
void gp__sync_worker_init(struct gp_worker *w);
void gp__tsd_run_dtors(struct gp_gthread *g);
void gp__owner_drop(struct gp_gthread *g); /* at its exit: free what gp_owner_note took */
void gp__sync_fork_reset(void);
/* stdio.c: the child of a fork, its only thread: no stream is held */
void gp__files_fork_reset(void);

/* pool.c */
void gp__pool_fork_reset(void);

/* GPATCH_SHUFFLE (sched.c): 0, or the seed's stream is perturbing choices */
extern int gp__shuffle_on;

/* fdtable.c */
void gp__fd_fork_reset(void);
int gp__fd_worker_init(struct gp_worker *w); /* worker w's table, on w's thread before it runs anyone */

/* log.c */
void gp__fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define GP_ASSERT(c) ((c) ? (void)0 : gp__fatal("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__))
#define GP_LIKELY(x) __builtin_expect(!!(x), 1)
#define GP_UNLIKELY(x) __builtin_expect(!!(x), 0)
#endif
