/* sync_edge — the differential subject for synchronisation: contention
 * across many threads (a mutex held while its owner is parked in read and
 * sleep), timed waits timing out, cond signal before and after wait, and bad
 * inputs (EBUSY, EPERM, EDEADLK, EINVAL...). Output identical stock and under
 * gpatch. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void show(const char *label, long v)
{
    printf("%-44s %ld\n", label, v);
    fflush(stdout);
}

static struct timespec in_ms(clockid_t clk, long ms)
{
    struct timespec t;
    clock_gettime(clk, &t);
    t.tv_nsec += (ms % 1000) * 1000000;
    t.tv_sec += ms / 1000 + t.tv_nsec / 1000000000;
    t.tv_nsec %= 1000000000;
    return t;
}

/* ---- a mutex held across blocking calls, 500 threads ---------------------- */
#define N 1000
static pthread_mutex_t big = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static int pairv[2];

static void *contend(void *arg)
{
    for (int i = 0; i < 3; i++) {
        pthread_mutex_lock(&big);
        long c = counter;
        if (i == 0) usleep(100);          /* parked while holding the lock */
        if (i == 1) {
            (void)!write(pairv[1], "x", 1); /* and parked in read while holding it */
            char ch;
            (void)!read(pairv[0], &ch, 1);
        }
        counter = c + 1;
        pthread_mutex_unlock(&big);
    }
    return arg;
}

/* ---- conds ---------------------------------------------------------------- */
static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int ready, woken;

static void *cond_waiter(void *arg)
{
    pthread_mutex_lock(&cm);
    while (!ready) pthread_cond_wait(&cv, &cm);
    woken++;
    pthread_mutex_unlock(&cm);
    return arg;
}

static void *signal_later(void *arg)
{
    usleep(30000);
    pthread_mutex_lock(&cm);
    ready = 1;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&cm);
    return arg;
}

/* ---- semaphores, rwlocks, barriers, once, keys ------------------------------------ */
static sem_t sem;
static void *sem_poster(void *arg)
{
    usleep(20000);
    for (int i = 0; i < 10; i++) sem_post(&sem);
    return arg;
}
static void *sem_taker(void *arg)
{
    sem_wait(&sem);
    return arg;
}

static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;
static int readers_in, max_readers;
static sem_t readers_go; /* main lets the readers go once its timed write lock has timed out */
static void *reader(void *arg)
{
    pthread_rwlock_rdlock(&rw);
    int r = __atomic_add_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
    usleep(1000);
    while (sem_wait(&readers_go) != 0) {} /* hold the read lock until then: no timing involved */
    r = __atomic_load_n(&readers_in, __ATOMIC_SEQ_CST);
    if (r > max_readers) max_readers = r;
    __atomic_sub_fetch(&readers_in, 1, __ATOMIC_SEQ_CST);
    pthread_rwlock_unlock(&rw);
    return arg;
}

static pthread_barrier_t bar;
static int serial;
static void *at_barrier(void *arg)
{
    usleep((useconds_t)(uintptr_t)arg * 1000);
    if (pthread_barrier_wait(&bar) == PTHREAD_BARRIER_SERIAL_THREAD) __atomic_add_fetch(&serial, 1, __ATOMIC_SEQ_CST);
    return arg;
}

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int once_runs;
static void init_once(void) { usleep(20000); once_runs++; }
static void *call_once_(void *arg) { pthread_once(&once, init_once); return (void *)(long)once_runs; }

static pthread_key_t key;
static int dtor_calls;
static void dtor(void *v) { (void)v; __atomic_add_fetch(&dtor_calls, 1, __ATOMIC_SEQ_CST); }
static void *keyed(void *arg)
{
    pthread_setspecific(key, arg);
    usleep(10000);
    return (void *)(long)(pthread_getspecific(key) == arg);
}

static pthread_spinlock_t spin;
static long spun;
static void *spinner(void *arg)
{
    for (int i = 0; i < 100; i++) {
        pthread_spin_lock(&spin);
        long v = spun;
        sched_yield();
        spun = v + 1;
        pthread_spin_unlock(&spin);
    }
    return arg;
}

static int cancel_pipe[2];
#include <signal.h>
static void *cancellable(void *arg)
{
    char c;
    (void)!read(cancel_pipe[0], &c, 1); /* a cancellation point */
    return arg;
}

/* a process-shared mutex (glibc's own code) held across a sleep: under
 * gpatch its holder must not park, or the other thread would block the
 * worker on it for good */
static pthread_mutex_t shared_m;
static long shared_counter;
static void *shared_user(void *arg)
{
    for (int i = 0; i < 5; i++) {
        pthread_mutex_lock(&shared_m);
        long v = shared_counter;
        usleep(1000);
        shared_counter = v + 1;
        pthread_mutex_unlock(&shared_m);
    }
    return arg;
}

/* cleanup handlers run, innermost first, on cancellation and on pthread_exit */
static char cleanup_log[64];
static void note(void *s) { strcat(cleanup_log, s); }
static void *cancelled_with_handlers(void *arg)
{
    pthread_cleanup_push(note, "outer;");
    pthread_cleanup_push(note, "inner;");
    char c;
    (void)!read(cancel_pipe[0], &c, 1);
    pthread_cleanup_pop(0);
    pthread_cleanup_pop(0);
    return arg;
}
static void *exits_with_handlers(void *arg)
{
    pthread_cleanup_push(note, "exit-handler;");
    pthread_exit((void *)7L);
    pthread_cleanup_pop(0);
    return arg;
}
static void *pops_and_runs(void *arg)
{
    pthread_cleanup_push(note, "popped;");
    pthread_cleanup_pop(1);
    return arg;
}

/* an OS thread that is not a green thread (glibc's SIGEV_THREAD timer
 * helper) shares a semaphore and a mutex with green threads */
static sem_t os_sem;
static pthread_mutex_t os_m = PTHREAD_MUTEX_INITIALIZER;
static long os_shared;
static void on_timer(union sigval v)
{
    pthread_mutex_lock(&os_m);
    os_shared += v.sival_int;
    pthread_mutex_unlock(&os_m);
    sem_post(&os_sem);
}
static void *waits_for_os_thread(void *arg)
{
    sem_wait(&os_sem);
    pthread_mutex_lock(&os_m);
    long v = os_shared;
    pthread_mutex_unlock(&os_m);
    return (void *)v;
}

static void *try_unlock_other(void *m)
{
    return (void *)(long)pthread_mutex_unlock(m);
}

int main(void)
{
    pthread_t t[N];
    socketpair(AF_UNIX, SOCK_STREAM, 0, pairv);

    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, contend, NULL);
    for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
    show("mutex: counter after 1000 x 3 locked increments", counter);

    /* errorcheck, recursive, destroy, try, timed */
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_t em;
    pthread_mutex_init(&em, &a);
    show("errorcheck: lock", pthread_mutex_lock(&em));
    show("errorcheck: lock again (EDEADLK)", pthread_mutex_lock(&em));
    show("errorcheck: trylock held (EBUSY)", pthread_mutex_trylock(&em));
    pthread_t o;
    void *rv;
    pthread_create(&o, NULL, try_unlock_other, &em);
    pthread_join(o, &rv);
    show("errorcheck: unlock by another thread (EPERM)", (long)rv);
    show("destroy a held mutex (EBUSY)", pthread_mutex_destroy(&em));
    show("errorcheck: unlock", pthread_mutex_unlock(&em));
    show("errorcheck: unlock again (EPERM)", pthread_mutex_unlock(&em));
    show("destroy", pthread_mutex_destroy(&em));
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_t rm;
    pthread_mutex_init(&rm, &a);
    show("recursive: lock x3", pthread_mutex_lock(&rm) + pthread_mutex_lock(&rm) + pthread_mutex_trylock(&rm));
    pthread_create(&o, NULL, try_unlock_other, &rm);
    pthread_join(o, &rv);
    show("recursive: unlock by another thread (EPERM)", (long)rv);
    show("recursive: unlock x3", pthread_mutex_unlock(&rm) + pthread_mutex_unlock(&rm) + pthread_mutex_unlock(&rm));
    show("recursive: unlock a 4th time (EPERM)", pthread_mutex_unlock(&rm));
    pthread_mutex_t nm = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&nm);
    struct timespec ts = in_ms(CLOCK_REALTIME, 30);
    show("timedlock held, 30 ms (ETIMEDOUT)", pthread_mutex_timedlock(&nm, &ts));
    ts.tv_nsec = 2000000000;
    show("timedlock bad nsec (EINVAL)", pthread_mutex_timedlock(&nm, &ts));
    ts = in_ms(CLOCK_MONOTONIC, 20);
    show("clocklock MONOTONIC held (ETIMEDOUT)", pthread_mutex_clocklock(&nm, CLOCK_MONOTONIC, &ts));
    show("clocklock bad clock (EINVAL)", pthread_mutex_clocklock(&nm, 12345, &ts));
    pthread_mutex_unlock(&nm);

    /* conds: signal before anyone waits is lost; a timed wait times out */
    pthread_cond_signal(&cv);
    pthread_mutex_lock(&cm);
    ts = in_ms(CLOCK_REALTIME, 30);
    show("cond: signal before wait, timedwait (ETIMEDOUT)", pthread_cond_timedwait(&cv, &cm, &ts));
    pthread_mutex_unlock(&cm);
    pthread_create(&o, NULL, signal_later, NULL);
    pthread_mutex_lock(&cm);
    int waits = 0;
    while (!ready) waits += pthread_cond_wait(&cv, &cm) == 0;
    pthread_mutex_unlock(&cm);
    pthread_join(o, NULL);
    show("cond: signal after wait wakes the waiter", ready);
    ready = 0;
    for (int i = 0; i < 50; i++) pthread_create(&t[i], NULL, cond_waiter, NULL);
    usleep(30000);
    pthread_mutex_lock(&cm);
    ready = 1;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&cm);
    for (int i = 0; i < 50; i++) pthread_join(t[i], NULL);
    show("cond: broadcast wakes all 50", woken);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_t mc;
    pthread_cond_init(&mc, &ca);
    pthread_mutex_lock(&cm);
    ts = in_ms(CLOCK_MONOTONIC, 20);
    show("cond MONOTONIC: timedwait (ETIMEDOUT)", pthread_cond_timedwait(&mc, &cm, &ts));
    ts = in_ms(CLOCK_REALTIME, 20);
    show("cond: clockwait REALTIME (ETIMEDOUT)", pthread_cond_clockwait(&mc, &cm, CLOCK_REALTIME, &ts));
    show("cond: clockwait bad clock (EINVAL)", pthread_cond_clockwait(&mc, &cm, 12345, &ts));
    ts.tv_nsec = -1;
    show("cond: timedwait bad nsec (EINVAL)", pthread_cond_timedwait(&mc, &cm, &ts));
    pthread_mutex_unlock(&cm);
    pthread_cond_destroy(&mc);

    /* semaphores */
    sem_init(&sem, 0, 0);
    errno = 0;
    show("sem_trywait empty (-1)", sem_trywait(&sem));
    show("  errno EAGAIN", errno == EAGAIN);
    ts = in_ms(CLOCK_REALTIME, 20);
    show("sem_timedwait (-1)", sem_timedwait(&sem, &ts));
    show("  errno ETIMEDOUT", errno == ETIMEDOUT);
    ts.tv_nsec = 1000000000;
    show("sem_timedwait bad nsec (-1)", sem_timedwait(&sem, &ts));
    show("  errno EINVAL", errno == EINVAL);
    ts = in_ms(CLOCK_MONOTONIC, 20);
    show("sem_clockwait MONOTONIC (-1)", sem_clockwait(&sem, CLOCK_MONOTONIC, &ts));
    show("  errno ETIMEDOUT", errno == ETIMEDOUT);
    for (int i = 0; i < 10; i++) pthread_create(&t[i], NULL, sem_taker, NULL);
    pthread_create(&o, NULL, sem_poster, NULL);
    for (int i = 0; i < 10; i++) pthread_join(t[i], NULL);
    pthread_join(o, NULL);
    int sv = -1;
    sem_getvalue(&sem, &sv);
    show("sem: 10 posts took by 10 waiters, value", sv);

    /* rwlocks */
    sem_init(&readers_go, 0, 0);
    for (int i = 0; i < 20; i++) pthread_create(&t[i], NULL, reader, NULL);
    while (__atomic_load_n(&readers_in, __ATOMIC_SEQ_CST) < 20) usleep(1000); /* all 20 hold it */
    ts = in_ms(CLOCK_REALTIME, 5);
    show("rwlock: timedwrlock while read (ETIMEDOUT)", pthread_rwlock_timedwrlock(&rw, &ts));
    for (int i = 0; i < 20; i++) sem_post(&readers_go);
    show("rwlock: wrlock after readers", pthread_rwlock_wrlock(&rw));
    show("rwlock: tryrdlock while written (EBUSY)", pthread_rwlock_tryrdlock(&rw));
    show("rwlock: unlock", pthread_rwlock_unlock(&rw));
    for (int i = 0; i < 20; i++) pthread_join(t[i], NULL);
    show("rwlock: readers shared the lock (max > 1)", max_readers > 1);

    /* barriers */
    show("barrier_init count 0 (EINVAL)", pthread_barrier_init(&bar, NULL, 0));
    pthread_barrier_init(&bar, NULL, 10);
    for (int i = 0; i < 10; i++) pthread_create(&t[i], NULL, at_barrier, (void *)(uintptr_t)i);
    for (int i = 0; i < 10; i++) pthread_join(t[i], NULL);
    show("barrier: one serial thread of 10", serial);
    pthread_barrier_destroy(&bar);

    /* once */
    for (int i = 0; i < 10; i++) pthread_create(&t[i], NULL, call_once_, NULL);
    long all_saw = 0;
    for (int i = 0; i < 10; i++) {
        pthread_join(t[i], &rv);
        all_saw += (long)rv;
    }
    show("once: ran once", once_runs);
    show("once: every caller saw it done", all_saw);

    /* keys */
    pthread_key_create(&key, dtor);
    pthread_setspecific(key, (void *)1);
    for (int i = 0; i < 20; i++) pthread_create(&t[i], NULL, keyed, (void *)(long)(i + 100));
    long own = 0;
    for (int i = 0; i < 20; i++) {
        pthread_join(t[i], &rv);
        own += (long)rv;
    }
    show("keys: each thread saw its own value", own);
    show("keys: destructors ran at thread exit", dtor_calls);
    show("keys: main's value untouched", (long)pthread_getspecific(key));

    /* spinlocks held across a yield */
    pthread_spin_init(&spin, 0);
    for (int i = 0; i < 10; i++) pthread_create(&t[i], NULL, spinner, NULL);
    for (int i = 0; i < 10; i++) pthread_join(t[i], NULL);
    show("spin: 10 x 100 increments", spun);

    /* process-shared mutex */
    pthread_mutexattr_t sa;
    pthread_mutexattr_init(&sa);
    pthread_mutexattr_setpshared(&sa, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&shared_m, &sa);
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, shared_user, NULL);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    show("process-shared mutex held across usleep: 4 x 5", shared_counter);

    /* cancellation at a blocking read */
    pipe(cancel_pipe);
    pthread_create(&o, NULL, cancellable, NULL);
    usleep(20000);
    show("pthread_cancel", pthread_cancel(o));
    pthread_join(o, &rv);
    show("  joined: PTHREAD_CANCELED", rv == PTHREAD_CANCELED);
    pthread_create(&o, NULL, cancelled_with_handlers, NULL);
    usleep(20000);
    pthread_cancel(o);
    pthread_join(o, &rv);
    printf("cleanup on cancel: %s canceled=%d\n", cleanup_log, rv == PTHREAD_CANCELED);
    cleanup_log[0] = 0;
    pthread_create(&o, NULL, exits_with_handlers, NULL);
    pthread_join(o, &rv);
    printf("cleanup on pthread_exit: %s value=%ld\n", cleanup_log, (long)rv);
    cleanup_log[0] = 0;
    pthread_create(&o, NULL, pops_and_runs, NULL);
    pthread_join(o, NULL);
    printf("cleanup_pop(1): %s\n", cleanup_log);

    /* shared with an OS thread that is not a green thread */
    sem_init(&os_sem, 0, 0);
    pthread_t ow[3];
    for (int i = 0; i < 3; i++) pthread_create(&ow[i], NULL, waits_for_os_thread, NULL);
    timer_t tm;
    struct sigevent sev = {.sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_timer,
                           .sigev_value.sival_int = 5};
    timer_create(CLOCK_MONOTONIC, &sev, &tm);
    struct itimerspec its = {.it_value = {0, 20000000}, .it_interval = {0, 20000000}};
    timer_settime(tm, 0, &its, NULL);
    long seen = 0;
    for (int i = 0; i < 3; i++) {
        pthread_join(ow[i], &rv);
        seen += (long)rv > 0;
    }
    timer_delete(tm);
    show("woken by an OS thread's sem_post: 3 of 3", seen);
    return 0;
}
