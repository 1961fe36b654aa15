/* rel_cancel_cond — the usual cancel-then-join shutdown of workers blocked
 * in cancellation points: pthread_cond_wait, pthread_cond_timedwait (a far
 * deadline), sem_wait, pthread_join, and a cond wait entered with a cancel
 * already pending (it was requested while cancellation was disabled).
 *
 * A cancelled condition waiter owns the mutex again when its cleanup
 * handlers run (POSIX; glibc does so): the handler here unlocks an
 * error-checking mutex and records what the unlock returned (EPERM if the
 * waiter did not hold it). Main cancels, joins, and prints what it saw. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define N 8

static pthread_mutex_t m;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static int waiting, cleanups, unlock_errors, go;

static void unlock_handler(void *arg)
{
    (void)arg;
    int r = pthread_mutex_unlock(&m); /* the waiter owns m again here */
    if (r != 0) __atomic_add_fetch(&unlock_errors, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&cleanups, 1, __ATOMIC_RELAXED);
}

static void count_handler(void *arg)
{
    (void)arg;
    __atomic_add_fetch(&cleanups, 1, __ATOMIC_RELAXED);
}

static void *cond_waiter(void *arg)
{
    long timed = (long)arg;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(unlock_handler, NULL);
    waiting++;
    for (;;) { /* nobody signals: only a cancel ends this */
        if (timed) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 3600;
            pthread_cond_timedwait(&c, &m, &ts);
        } else {
            pthread_cond_wait(&c, &m);
        }
    }
    pthread_cleanup_pop(1);
    return NULL;
}

static void *pending_waiter(void *arg)
{
    (void)arg;
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    pthread_mutex_lock(&m);
    pthread_cleanup_push(unlock_handler, NULL);
    waiting++;
    while (!go) pthread_cond_wait(&c, &m); /* not cancelled: disabled */
    pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, NULL);
    for (;;) pthread_cond_wait(&c, &m); /* the pending cancel acts here */
    pthread_cleanup_pop(1);
    return NULL;
}

static void *sem_waiter(void *arg)
{
    (void)arg;
    pthread_cleanup_push(count_handler, NULL);
    pthread_mutex_lock(&m);
    waiting++;
    pthread_mutex_unlock(&m);
    for (;;) sem_wait(&sem);
    pthread_cleanup_pop(1);
    return NULL;
}

/* takes a ticket when there is one; cancellable while it waits */
static int tickets, took;
static void *ticket_waiter(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&m);
    pthread_cleanup_push(unlock_handler, NULL);
    waiting++;
    while (!tickets) pthread_cond_wait(&c, &m);
    tickets--;
    took++;
    pthread_cleanup_pop(1);
    return NULL;
}

static void *forever(void *arg)
{
    (void)arg;
    for (;;) sem_wait(&sem);
    return NULL;
}

static void *join_waiter(void *arg)
{
    pthread_t *target = arg;
    pthread_cleanup_push(count_handler, NULL);
    pthread_mutex_lock(&m);
    waiting++;
    pthread_mutex_unlock(&m);
    pthread_join(*target, NULL);
    pthread_cleanup_pop(1);
    return NULL;
}

static void wait_for(int n)
{
    for (;;) {
        pthread_mutex_lock(&m);
        int w = waiting;
        pthread_mutex_unlock(&m);
        if (w >= n) break;
        usleep(1000);
    }
}

static void report(const char *what, pthread_t *t, int n)
{
    int canceled = 0;
    for (int i = 0; i < n; i++) {
        void *ret = NULL;
        int r = pthread_join(t[i], &ret);
        if (r == 0 && ret == PTHREAD_CANCELED) canceled++;
    }
    int tr = pthread_mutex_trylock(&m);
    if (tr == 0) pthread_mutex_unlock(&m);
    printf("%s: %d of %d canceled, %d cleanups, %d unlock errors, mutex then %s\n", what, canceled, n,
           cleanups, unlock_errors, tr == 0 ? "free" : strerror(tr));
}

static void reset(void)
{
    waiting = cleanups = unlock_errors = go = 0;
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    pthread_mutex_init(&m, &a);
    sem_init(&sem, 0, 0);
    pthread_t t[N];

    for (long timed = 0; timed < 2; timed++) {
        for (int round = 0; round < 3; round++) {
            reset();
            for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, cond_waiter, (void *)timed);
            wait_for(N); /* each has released m inside its wait */
            for (int i = 0; i < N; i++) pthread_cancel(t[i]);
            report(timed ? "pthread_cond_timedwait" : "pthread_cond_wait", t, N);
        }
    }

    reset();
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, pending_waiter, NULL);
    wait_for(N);
    for (int i = 0; i < N; i++) pthread_cancel(t[i]);
    usleep(10000); /* they stay in their waits: cancellation is disabled */
    pthread_mutex_lock(&m);
    printf("pending: %d cleanups before enabling\n", cleanups);
    go = 1;
    pthread_cond_broadcast(&c);
    pthread_mutex_unlock(&m);
    report("cancel pending at pthread_cond_wait", t, N);

    /* a cancel and a signal in one critical section: whoever the signal
     * picked, one of the others ends up taking the ticket (a cancelled
     * waiter that took the signal passes it on) */
    for (int round = 0; round < 3; round++) {
        reset();
        tickets = took = 0;
        for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, ticket_waiter, NULL);
        wait_for(N);
        pthread_mutex_lock(&m);
        pthread_cancel(t[0]);
        tickets = 1;
        pthread_cond_signal(&c);
        pthread_mutex_unlock(&m);
        void *ret;
        pthread_join(t[0], &ret);
        for (;;) {
            pthread_mutex_lock(&m);
            int done = took;
            pthread_mutex_unlock(&m);
            if (done) break;
            usleep(1000);
        }
        pthread_mutex_lock(&m);
        tickets = N - 2;
        pthread_cond_broadcast(&c);
        pthread_mutex_unlock(&m);
        for (int i = 1; i < N; i++) pthread_join(t[i], NULL);
        printf("cancel and signal together: first %s, the ticket taken, %d took one in all\n",
               ret == PTHREAD_CANCELED ? "canceled" : "not canceled", took);
    }

    reset();
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, sem_waiter, NULL);
    wait_for(N);
    usleep(10000);
    for (int i = 0; i < N; i++) pthread_cancel(t[i]);
    report("sem_wait", t, N);

    reset();
    pthread_t target[N];
    for (int i = 0; i < N; i++) pthread_create(&target[i], NULL, forever, NULL);
    for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, join_waiter, &target[i]);
    wait_for(N);
    usleep(10000);
    for (int i = 0; i < N; i++) pthread_cancel(t[i]);
    report("pthread_join", t, N);
    int targets = 0;
    for (int i = 0; i < N; i++) { /* the joins were cancelled: the targets are still joinable */
        void *ret;
        pthread_cancel(target[i]);
        if (pthread_join(target[i], &ret) == 0 && ret == PTHREAD_CANCELED) targets++;
    }
    printf("pthread_join: %d of %d targets then canceled and joined\n", targets, N);
    return 0;
}
