/* rel_handoff_gates: a thread that computes past gpatch's hand-off threshold
 * (GPATCH_HANDOFF_MS, 10 ms; own TLS) is left on its OS thread while its
 * worker goes on elsewhere; its next call into gpatch must bring it back
 * before it touches anything of the worker's or anything that is its own as
 * a green thread. Each round below computes for a while (a wall-clock
 * busy loop, no call at all) and then makes one kind of call:
 *   flock      flockfile(stdout) before, funlockfile after: main's next
 *              printf must not wait for a gate nobody holds any more
 *   trylock    the same with ftrylockfile
 *   lockaway   flockfile(stdout) after computing (away), then a sleep with
 *              the stream locked while main prints: main waits its turn
 *   keys       pthread_getspecific/setspecific after computing: the
 *              thread's own values, not the OS thread's or another's
 *   self       pthread_self() after computing is the handle main holds
 *   handler    a signal (SIGUSR1) the thread sends itself by a raw tgkill
 *              gpatch never sees, while it computes away: the handler's
 *              pthread_self()
 *              and pthread_getspecific() are the thread's; then the thread
 *              goes on and ends normally
 *   exit       the same, and the handler calls pthread_exit: the thread
 *              ends, joined with its value
 *   cancel     pthread_setcancelstate/testcancel after computing: the
 *              thread's own state (disabled: not cancelled)
 *   mask       pthread_sigmask after computing, read back: the thread's own
 * Stock is the specification; alarm(20) turns a hang into a failure. argv[1]
 * names one round; none: all of them. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static volatile uint64_t sink;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the vDSO: no call into gpatch */
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* compute for ms milliseconds of wall time, calling nothing but the vDSO's clock */
static void compute(int ms)
{
    int64_t end = now_ns() + (int64_t)ms * 1000000;
    uint64_t h = 1469598103934665603ull;
    while (now_ns() < end)
        for (int i = 0; i < 10000; i++) h = (h ^ (uint64_t)i) * 1099511628211ull;
    sink = h;
}

/* ---- flock / trylock --------------------------------------------------------- */
static void *locker(void *arg)
{
    int try = arg != NULL;
    if (try) {
        if (ftrylockfile(stdout) != 0) return (void *)1;
    } else {
        flockfile(stdout);
    }
    compute(200);
    funlockfile(stdout);
    return NULL;
}

static void round_flock(int try)
{
    pthread_t t;
    void *r = (void *)2;
    pthread_create(&t, NULL, locker, try ? (void *)1 : NULL);
    pthread_join(t, &r);
    printf("%s: thread returned %ld; main prints after\n", try ? "trylock" : "flock", (long)r);
    fflush(stdout);
}

/* ---- lockaway --------------------------------------------------------------- */
static int locked; /* __atomic */

static void *late_locker(void *arg)
{
    (void)arg;
    compute(200);
    flockfile(stdout);
    __atomic_store_n(&locked, 1, __ATOMIC_RELEASE);
    usleep(100 * 1000);
    printf("lockaway: the thread prints with stdout locked\n");
    funlockfile(stdout);
    return NULL;
}

static void round_lockaway(void)
{
    pthread_t t;
    pthread_create(&t, NULL, late_locker, NULL);
    while (!__atomic_load_n(&locked, __ATOMIC_ACQUIRE)) usleep(1000);
    printf("lockaway: main prints once the thread unlocked\n");
    pthread_join(t, NULL);
    fflush(stdout);
}

/* ---- keys / self ------------------------------------------------------------- */
static pthread_key_t key;
static pthread_t seen_self;
static int v_main, v_a, v_b;

static void *keyed(void *arg)
{
    (void)arg;
    int ok1, ok2;
    pthread_setspecific(key, &v_a);
    compute(150);
    ok1 = pthread_getspecific(key) == &v_a;
    pthread_setspecific(key, &v_b);
    compute(150);
    ok2 = pthread_getspecific(key) == &v_b;
    return (void *)(long)(ok1 + 2 * ok2);
}

static void round_keys(void)
{
    pthread_setspecific(key, &v_main);
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, keyed, NULL);
    pthread_join(t, &r);
    printf("keys: thread saw its own values: %s; main still has its own: %s\n", (long)r == 3 ? "yes" : "no",
           pthread_getspecific(key) == &v_main ? "yes" : "no");
    fflush(stdout);
}

static void *selfish(void *arg)
{
    (void)arg;
    compute(150);
    seen_self = pthread_self();
    return NULL;
}

static void round_self(void)
{
    pthread_t t;
    pthread_create(&t, NULL, selfish, NULL);
    pthread_join(t, NULL);
    printf("self: pthread_self() after computing is the created handle: %s\n",
           pthread_equal(seen_self, t) ? "yes" : "no");
    fflush(stdout);
}

/* ---- handler ------------------------------------------------------------------- */
static volatile int h_self_ok = -1, h_key_ok = -1, h_ran;
static pthread_t h_expect;

static long raw_syscall3(long nr, long a, long b, long c);
static volatile int h_one_thread = -1;

/* The kernel runs a handler on one thread and returns from it there (its
 * signal frame, mask and signal stack are that thread's): the handler may
 * not move to another OS thread halfway */
static void on_usr1(int sig)
{
    (void)sig;
    long tid = raw_syscall3(SYS_gettid, 0, 0, 0);
    h_self_ok = pthread_equal(pthread_self(), h_expect) != 0;
    h_key_ok = pthread_getspecific(key) == &v_a;
    h_one_thread = raw_syscall3(SYS_gettid, 0, 0, 0) == tid;
    h_ran++;
}

static long raw_syscall3(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static void *handled(void *arg)
{
    (void)arg;
    h_expect = pthread_self();
    pthread_setspecific(key, &v_a);
    compute(100);
    /* away by now (under gpatch): a signal at this very OS thread, by system
     * calls gpatch never sees, while it computes */
    long tid = raw_syscall3(SYS_gettid, 0, 0, 0);
    /* (a no-op stock; under gpatch a second worker's OS thread blocks every
     * asynchronous signal, gthreads' masks being gpatch's own) */
    uint64_t one = 1ull << (SIGUSR1 - 1);
    long r;
    register long r10 __asm__("r10") = 8; /* the kernel's sigset size */
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"((long)SYS_rt_sigprocmask), "D"((long)SIG_UNBLOCK), "S"(&one), "d"(0L), "r"(r10)
                     : "rcx", "r11", "memory");
    (void)r;
    raw_syscall3(SYS_tgkill, getpid(), tid, SIGUSR1);
    compute(100);
    int after = pthread_getspecific(key) == &v_a && pthread_equal(pthread_self(), h_expect);
    return (void *)(long)after;
}

static void round_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, handled, NULL);
    pthread_join(t, &r);
    printf("handler: ran %d; its pthread_self was the thread's: %d; its key value: %d; on one OS thread: %d; "
           "after it: %ld\n",
           h_ran, h_self_ok, h_key_ok, h_one_thread, (long)r);
    fflush(stdout);
}

/* ---- exit: pthread_exit from such a handler ----------------------------------- */
static void on_usr2(int sig)
{
    (void)sig;
    pthread_exit((void *)42);
}

static void *exiting(void *arg)
{
    (void)arg;
    compute(100);
    long tid = raw_syscall3(SYS_gettid, 0, 0, 0);
    uint64_t one = 1ull << (SIGUSR2 - 1);
    long r;
    register long r10 __asm__("r10") = 8;
    __asm__ volatile("syscall"
                     : "=a"(r)
                     : "0"((long)SYS_rt_sigprocmask), "D"((long)SIG_UNBLOCK), "S"(&one), "d"(0L), "r"(r10)
                     : "rcx", "r11", "memory");
    (void)r;
    raw_syscall3(SYS_tgkill, getpid(), tid, SIGUSR2);
    compute(100);
    return (void *)1;
}

static void round_exit(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sigaction(SIGUSR2, &sa, NULL);
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, exiting, NULL);
    pthread_join(t, &r);
    printf("exit: pthread_exit in the handler, joined with %ld\n", (long)r);
    fflush(stdout);
    signal(SIGUSR2, SIG_DFL);
}

/* ---- cancel / mask ------------------------------------------------------------- */
static void *uncancellable(void *arg)
{
    (void)arg;
    int old = -1;
    compute(150);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
    __atomic_store_n(&locked, 2, __ATOMIC_RELEASE);
    usleep(100 * 1000);
    pthread_testcancel(); /* disabled: goes on */
    return (void *)(long)(old == PTHREAD_CANCEL_ENABLE ? 7 : 8);
}

static void round_cancel(void)
{
    __atomic_store_n(&locked, 0, __ATOMIC_RELAXED);
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, uncancellable, NULL);
    while (__atomic_load_n(&locked, __ATOMIC_ACQUIRE) != 2) usleep(1000);
    pthread_cancel(t);
    pthread_join(t, &r);
    printf("cancel: the thread disabled cancellation away and returned %s\n",
           r == PTHREAD_CANCELED ? "CANCELED" : (long)r == 7 ? "7" : "something else");
    fflush(stdout);
}

static void *masker(void *arg)
{
    (void)arg;
    compute(150);
    sigset_t s, o;
    sigemptyset(&s);
    sigaddset(&s, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    usleep(20 * 1000);
    pthread_sigmask(SIG_SETMASK, NULL, &o);
    return (void *)(long)sigismember(&o, SIGUSR2);
}

static void round_mask(void)
{
    pthread_t t;
    void *r;
    pthread_create(&t, NULL, masker, NULL);
    pthread_join(t, &r);
    sigset_t o;
    pthread_sigmask(SIG_SETMASK, NULL, &o);
    printf("mask: the thread's SIGUSR2 blocked: %ld; main's: %d\n", (long)r, sigismember(&o, SIGUSR2));
    fflush(stdout);
}

int main(int argc, char **argv)
{
    alarm(bound_s(20));
    pthread_key_create(&key, NULL);
    const char *only = argc > 1 ? argv[1] : NULL;
#define ROUND(name, call) \
    if (!only || !strcmp(only, name)) call
    ROUND("flock", round_flock(0));
    ROUND("trylock", round_flock(1));
    ROUND("lockaway", round_lockaway());
    ROUND("keys", round_keys());
    ROUND("self", round_self());
    ROUND("cancel", round_cancel());
    ROUND("mask", round_mask());
    ROUND("handler", round_handler());
    ROUND("exit", round_exit());
    printf("done\n");
    return 0;
}
