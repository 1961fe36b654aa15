/* tls.h — a green thread's own thread control block (tls.c). */
#ifndef GP_TLS_H
#define GP_TLS_H
#include <stddef.h>
#include <stdint.h>
#include <asm/prctl.h>
#include <sys/syscall.h>

#include "gp.h"

/* How green threads get their thread-local storage:
 *   GP_TLS_OWN: each has its own thread control block and static TLS, made
 *     the way glibc makes them for a new thread; a switch loads its thread
 *     pointer (wrfsbase where the CPU and kernel allow it, else arch_prctl).
 *   GP_TLS_SHARED: all green threads of a worker share the worker's
 *     (GPATCH_TLS=shared, or when glibc's allocator is not found); errno and
 *     h_errno are then saved and restored at every switch. */
enum { GP_TLS_SHARED = 0, GP_TLS_OWN = 1 };
extern int gp__tls_mode;        /* read-only after gp__tls_setup */
extern int gp__tls_fsgsbase;    /* wrfsbase usable */
extern ptrdiff_t gp__tls_gp_off; /* where gp__tls lies from a thread pointer */

/* Once, at the runtime's start, on the worker (scheduler not running yet):
 * decide the mode from the setting (want: -1 auto, 0 shared, 1 own) and what
 * this glibc and CPU offer. Returns the mode. */
int gp__tls_setup(int want);
const char *gp__tls_user(void); /* a loaded module with thread-local variables, or NULL */
/* A new thread control block for a green thread, initialised as glibc
 * initialises a new thread's: every module's TLS image, fresh DTV, the
 * worker's canary and pointer guard. NULL when out of memory. Gthread or
 * scheduler context. */
void *gp__tls_new(void);
/* Gthread's block: the OS thread id glibc reads from it (its recursive and
 * robust locks record their owner by it). A new block has main's; a gthread
 * placed on another worker gets that worker's (worker.c, adopt), and one
 * whose worker moved to another OS thread (a hand-off) gets that one's as it
 * is switched in (sched.c, switch_to). */
void gp__tls_set_tid(void *tcb, pid_t tid);
extern long gp__tls_tid_off; /* the id's offset in a block, -1 when unknown */
/* the id in a block (0 when unknown) */
static inline pid_t gp__tls_tid(const void *tcb)
{
    return gp__tls_tid_off >= 0 ? *(const pid_t *)((const char *)tcb + gp__tls_tid_off) : 0;
}
void gp__dl_locks_find(void);     /* the loader's recursive locks, once (stealing) */
int gp__dl_locks_known(void);
int gp__dl_locked_by(pid_t tid);  /* one of them is held under tid */
void gp__tls_fork_reset(void); /* the child of a fork: its locks are nobody's */
/* On a new green thread, first thing, on its own block: what glibc does at
 * the start of every thread (the ctype tables' per-thread pointers, which
 * isspace() and toupper() read). Gthread only. */
void gp__tls_thread_start(void);
/* a block for an OS thread's idle times (no gthread's): a new one, set up as
 * at a thread's start (gp__tls_thread_start run on it). A signal handler
 * that comes while the scheduler stands on it runs on it. */
void *gp__tls_new_idle(void);
/* Free a dead green thread's block (never the running one's). Scheduler or
 * another gthread, after the owner has switched away for good. */
void gp__tls_free(void *tcb);
/* On the exiting green thread, running on its own block: run the
 * destructors of its thread_local objects (__cxa_thread_atexit), as glibc
 * does at a thread's exit. */
void gp__tls_run_dtors(void);
/* Then glibc's other per-thread buffers (strerror's, strsignal's, dlerror's). */
void gp__tls_freeres(void);
/* Then, last (nothing may allocate on the block after it): keep its malloc
 * cache for the next green thread. */
void gp__tls_keep_cache(void);
/* GPATCH_TLS as the shim read it: -1 auto, 0 shared, 1 own */
extern int gp__tls_want;
/* the thread pointer of the code running now (read afresh each time: the
 * compiler would otherwise recompute it wherever it likes, across a load) */
static inline void *gp__tls_current(void)
{
    void *tp;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(tp) : : "memory");
    return tp;
}
/* a block's copy of the runtime's per-thread word block (gp.h's gp__tls) */
static inline struct gp_tls *gp__tls_of(void *tcb) { return (struct gp_tls *)((char *)tcb + gp__tls_gp_off); }

/* Load tcb as this OS thread's thread pointer. Any thread context, never a
 * signal handler. Nothing between this and the switch it precedes may use
 * thread-local storage: the compiler may hold a TLS address in a register. */
static inline void gp__tls_load(void *tcb)
{
    if (__builtin_expect(gp__tls_fsgsbase, 1)) {
        __asm__ volatile("wrfsbase %0" ::"r"(tcb) : "memory");
    } else {
        long r;
        __asm__ volatile("syscall"
                         : "=a"(r)
                         : "0"((long)SYS_arch_prctl), "D"((long)ARCH_SET_FS), "S"(tcb)
                         : "rcx", "r11", "memory");
        (void)r;
    }
}
#endif
