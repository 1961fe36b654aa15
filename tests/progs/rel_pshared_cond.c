/* rel_pshared_cond — a process-shared condition variable waited on between
 * threads of one process, with each kind of mutex (normal, errorcheck,
 * recursive; process-shared or not): the waiter owns the mutex again when
 * its wait returns, whether woken, timed out or cancelled (its cleanup
 * handler runs with the mutex held, and main's trylock meanwhile is EBUSY);
 * several waiters, each woken by a signal that cascades; and a wait with
 * an errorcheck mutex the caller does not hold is EPERM. Under gpatch a
 * green thread waits on such a condition on a helper thread; with an
 * errorcheck or recursive mutex it waited in glibc on its worker instead,
 * and main, which was to signal, never ran (one worker: a hang); a
 * cancel did not end the helper's wait (a hang); and while a waiter's
 * cleanup handler held the mutex, main's recursive trylock succeeded
 * (glibc records the owner as the OS thread id, which green threads
 * share). Open POSIX pthread_cond_wait/2-2, 2-3, pthread_cond_signal/1-2,
 * pthread_cond_broadcast/2-3, pthread_cond_timedwait/2-4, 2-5, 2-6. Also a
 * thread that holds a process-shared mutex while it waits for others (a
 * yield loop, a pipe read) and one that waits for that mutex meanwhile:
 * under gpatch such a holder kept its worker (it could not park), so the
 * others never ran (pthread_cond_destroy/2-1). Stock is the specification;
 * alarm(20) turns a hang into a failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t m;
static pthread_cond_t c;
static int predicate, inside, kind_type;
static sem_t in_cleanup, cleanup_go;

static const char *err(int r)
{
    switch (r) {
    case 0: return "0";
    case EBUSY: return "EBUSY";
    case EPERM: return "EPERM";
    case EDEADLK: return "EDEADLK";
    case ETIMEDOUT: return "ETIMEDOUT";
    default: return strerror(r);
    }
}

static void init(int type, int mutex_shared)
{
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, type);
    if (mutex_shared) pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_condattr_init(&ca);
    pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&m, &ma);
    pthread_cond_init(&c, &ca);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_destroy(&ca);
    kind_type = type;
    predicate = 0;
    inside = 0;
}

static void fini(void)
{
    pthread_cond_destroy(&c);
    pthread_mutex_destroy(&m);
}

/* after a wait returned: does the caller own the mutex? (a trylock by its
 * owner: EBUSY, or a recursive one's second level) */
static const char *owns(void)
{
    int r = pthread_mutex_trylock(&m);
    if (kind_type == PTHREAD_MUTEX_RECURSIVE) {
        if (r == 0) pthread_mutex_unlock(&m);
        return r == 0 ? "yes" : "no";
    }
    if (r == 0) pthread_mutex_unlock(&m);
    return r == EBUSY ? "yes" : "no";
}

static char result[4][160];

static void *waiter(void *arg)
{
    long i = (long)arg;
    pthread_mutex_lock(&m);
    inside++;
    int r;
    do r = pthread_cond_wait(&c, &m);
    while (r == 0 && !predicate);
    snprintf(result[i], sizeof result[i], "waiter %ld: %s, owns the mutex: %s", i, err(r), owns());
    pthread_cond_signal(&c); /* cascade */
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *timed_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000 * 1000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    int r;
    do r = pthread_cond_timedwait(&c, &m, &ts);
    while (r == 0);
    snprintf(result[0], sizeof result[0], "timed wait: %s, owns the mutex: %s", err(r), owns());
    pthread_mutex_unlock(&m);
    return NULL;
}

static void cleanup(void *arg)
{
    (void)arg;
    sem_post(&in_cleanup);
    while (sem_wait(&cleanup_go) != 0) {}
    pthread_mutex_unlock(&m);
}

static void *cancelled_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    inside = 1;
    pthread_cleanup_push(cleanup, NULL);
    for (;;) pthread_cond_wait(&c, &m);
    pthread_cleanup_pop(0);
    return NULL;
}

static void wait_inside(int n)
{
    for (;;) {
        pthread_mutex_lock(&m);
        int k = inside;
        pthread_mutex_unlock(&m);
        if (k >= n) break;
        usleep(1000);
    }
}

static void scenario(const char *name, int type, int mutex_shared)
{
    printf("%s mutex%s, process-shared condition:\n", name, mutex_shared ? " (process-shared)" : "");

    /* three waiters, one signal that each passes on */
    init(type, mutex_shared);
    pthread_t t[3];
    for (long i = 0; i < 3; i++) pthread_create(&t[i], NULL, waiter, (void *)i);
    wait_inside(3);
    usleep(20000); /* the last one in is inside its wait by now */
    pthread_mutex_lock(&m);
    predicate = 1;
    pthread_cond_signal(&c);
    pthread_mutex_unlock(&m);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 3; i++) printf("  %s\n", result[i]);
    fini();

    /* a timed wait nobody signals */
    init(type, mutex_shared);
    pthread_create(&t[0], NULL, timed_waiter, NULL);
    pthread_join(t[0], NULL);
    printf("  %s\n", result[0]);
    fini();

    /* a waiter cancelled: its cleanup handler holds the mutex */
    init(type, mutex_shared);
    sem_init(&in_cleanup, 0, 0);
    sem_init(&cleanup_go, 0, 0);
    pthread_create(&t[0], NULL, cancelled_waiter, NULL);
    wait_inside(1);
    usleep(20000);
    pthread_cancel(t[0]);
    while (sem_wait(&in_cleanup) != 0) {}
    int r = pthread_mutex_trylock(&m);
    printf("  cancelled: main's trylock while its cleanup handler runs: %s\n", err(r));
    if (r == 0) pthread_mutex_unlock(&m);
    sem_post(&cleanup_go);
    void *v = NULL;
    pthread_join(t[0], &v);
    printf("  cancelled: ended %s\n", v == PTHREAD_CANCELED ? "cancelled" : "otherwise");
    sem_destroy(&in_cleanup);
    sem_destroy(&cleanup_go);
    fini();
}

/* a thread that holds a process-shared mutex and waits for another:
 * main holds m2 while it yields until three threads came in (Open POSIX
 * pthread_cond_destroy/2-1), and a holder reads a pipe another thread
 * writes, while a third thread waits for the mutex */
static pthread_mutex_t m2;
static int came;
static int pipefd[2];

static void *comes(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    came++;
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *holder_reads(void *arg)
{
    (void)arg;
    char b = 0;
    pthread_mutex_lock(&m2);
    ssize_t n = read(pipefd[0], &b, 1);
    pthread_mutex_unlock(&m2);
    snprintf(result[0], sizeof result[0], "the holder read %zd byte(s) while it held the mutex", n);
    return NULL;
}

static void *writes(void *arg)
{
    (void)arg;
    usleep(20000);
    (void)!write(pipefd[1], "x", 1);
    return NULL;
}

static void *contender(void *arg)
{
    (void)arg;
    usleep(10000);
    int r = pthread_mutex_lock(&m2);
    snprintf(result[1], sizeof result[1], "a thread waiting for it got it: %s", err(r));
    if (r == 0) pthread_mutex_unlock(&m2);
    return NULL;
}

static void holders(const char *name, int type)
{
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_settype(&ma, type);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(&m2, &ma);
    pthread_mutexattr_destroy(&ma);
    init(type, 1);
    printf("%s process-shared mutex held while waiting for other threads:\n", name);
    pthread_mutex_lock(&m2);
    came = 0;
    pthread_t t[3];
    for (int i = 0; i < 3; i++) pthread_create(&t[i], NULL, comes, NULL);
    int n;
    do {
        pthread_mutex_lock(&m);
        n = came;
        pthread_mutex_unlock(&m);
        if (n < 3) sched_yield();
    } while (n < 3);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("  main, holding it, saw all three threads come\n");
    int r = pthread_mutex_trylock(&m2);
    printf("  main's trylock of the mutex it holds: %s\n", err(r));
    if (r == 0) pthread_mutex_unlock(&m2);
    pthread_mutex_unlock(&m2);
    (void)!pipe(pipefd);
    pthread_create(&t[0], NULL, holder_reads, NULL);
    pthread_create(&t[1], NULL, writes, NULL);
    pthread_create(&t[2], NULL, contender, NULL);
    for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
    printf("  %s\n  %s\n", result[0], result[1]);
    close(pipefd[0]);
    close(pipefd[1]);
    fini();
    pthread_mutex_destroy(&m2);
}

static void *not_owner(void *arg)
{
    (void)arg;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 1;
    printf("a wait with an errorcheck mutex main holds: %s\n", err(pthread_cond_timedwait(&c, &m, &ts)));
    return NULL;
}

int main(void)
{
    alarm(20);
    setvbuf(stdout, NULL, _IOLBF, 0);
    scenario("normal", PTHREAD_MUTEX_NORMAL, 1);
    scenario("errorcheck", PTHREAD_MUTEX_ERRORCHECK, 1);
    scenario("recursive", PTHREAD_MUTEX_RECURSIVE, 1);
    scenario("errorcheck", PTHREAD_MUTEX_ERRORCHECK, 0);
    scenario("recursive", PTHREAD_MUTEX_RECURSIVE, 0);

    holders("normal", PTHREAD_MUTEX_NORMAL);
    holders("errorcheck", PTHREAD_MUTEX_ERRORCHECK);
    holders("recursive", PTHREAD_MUTEX_RECURSIVE);

    init(PTHREAD_MUTEX_ERRORCHECK, 1);
    pthread_mutex_lock(&m);
    pthread_t t;
    pthread_create(&t, NULL, not_owner, NULL);
    pthread_join(t, NULL);
    pthread_mutex_unlock(&m);
    fini();
    printf("done\n");
    return 0;
}
