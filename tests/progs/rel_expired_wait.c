/* rel_expired_wait — a thread that waits for another by polling with an
 * expired (or about to expire) timed wait must still let that other thread
 * run. CPython's GIL waits this way: pthread_cond_timedwait with a deadline
 * of a microsecond, again and again, until the holder lets go.
 *
 * Each variant: the spinner loops on one kind of wait whose deadline has
 * passed (or is a microsecond away) until a flag is set by the other thread;
 * the other thread sets it either at once (it only has to be run) or after a
 * 2 ms sleep (a timer has to fire as well). Every variant is repeated for
 * several rounds. Prints one line per variant; stock prints the same. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 20

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static sem_t sem;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static int flag;
static int setter_sleeps;

static void nap(long ns)
{
    struct timespec ts = {0, ns};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void in_us(struct timespec *ts, long us)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += us * 1000;
    while (ts->tv_nsec >= 1000000000) {
        ts->tv_nsec -= 1000000000;
        ts->tv_sec++;
    }
}

static void *setter(void *arg)
{
    (void)arg;
    if (setter_sleeps) nap(2000000);
    pthread_mutex_lock(&m);
    __atomic_store_n(&flag, 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&m);
    return NULL;
}

static void *poster(void *arg)
{
    (void)arg;
    if (setter_sleeps) nap(2000000);
    sem_post(&sem);
    return NULL;
}

static int get(void) { return __atomic_load_n(&flag, __ATOMIC_ACQUIRE); }

/* the spinner's waits, each until the flag is set; returns 0 when all went as stock says */
static int spin_cond(void)
{
    int bad = 0;
    pthread_mutex_lock(&m);
    while (!get()) {
        struct timespec ts;
        in_us(&ts, 1);
        int r = pthread_cond_timedwait(&c, &m, &ts);
        if (r != 0 && r != ETIMEDOUT) bad = 1;
    }
    pthread_mutex_unlock(&m);
    return bad;
}

static int spin_cond_past(void)
{
    int bad = 0;
    pthread_mutex_lock(&m);
    while (!get()) {
        struct timespec ts = {1, 0}; /* 1970 */
        if (pthread_cond_timedwait(&c, &m, &ts) != ETIMEDOUT) bad = 1;
    }
    pthread_mutex_unlock(&m);
    return bad;
}

static int spin_poll(void)
{
    int bad = 0;
    while (!get())
        if (poll(NULL, 0, 0) != 0) bad = 1;
    return bad;
}

static int spin_nanosleep(void)
{
    int bad = 0;
    while (!get()) {
        struct timespec z = {0, 0};
        if (nanosleep(&z, NULL) != 0) bad = 1;
    }
    return bad;
}

static int spin_clock_nanosleep(void)
{
    int bad = 0;
    while (!get()) {
        struct timespec past = {1, 0};
        if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL) != 0) bad = 1;
    }
    return bad;
}

static int spin_sem(void)
{
    int bad = 0;
    for (;;) {
        struct timespec past = {1, 0};
        int r = sem_timedwait(&sem, &past);
        if (r == 0) break;
        if (errno != ETIMEDOUT) bad = 1;
    }
    return bad;
}

static int spin_timedjoin(pthread_t t)
{
    int bad = 0;
    for (;;) {
        struct timespec past = {1, 0};
        int r = pthread_timedjoin_np(t, NULL, &past);
        if (r == 0) break;
        if (r != ETIMEDOUT) {
            bad = 1;
            break;
        }
    }
    return bad;
}

/* the mutex variant inverts the roles: a thread spins on timedlock while
 * main holds the mutex and sleeps */
static void *locker(void *arg)
{
    int *bad = arg;
    for (;;) {
        struct timespec past = {1, 0};
        int r = pthread_mutex_timedlock(&held, &past);
        if (r == 0) break;
        if (r != ETIMEDOUT) *bad = 1;
    }
    pthread_mutex_unlock(&held);
    return NULL;
}

static const char *names[] = {"cond_timedwait_1us", "cond_timedwait_past", "poll_zero", "nanosleep_zero",
                              "clock_nanosleep_past", "sem_timedwait_past", "timedjoin_past",
                              "mutex_timedlock_past"};

static int run(int v, int sleeps)
{
    int bad = 0;
    for (int round = 0; round < ROUNDS; round++) {
        flag = 0;
        setter_sleeps = sleeps;
        pthread_t t;
        if (v == 7) {
            pthread_mutex_lock(&held);
            if (pthread_create(&t, NULL, locker, &bad) != 0) return -1;
            nap(sleeps ? 2000000 : 0);
            pthread_mutex_unlock(&held);
            pthread_join(t, NULL);
            continue;
        }
        if (pthread_create(&t, NULL, v == 5 ? poster : setter, NULL) != 0) return -1;
        switch (v) {
        case 0: bad |= spin_cond(); break;
        case 1: bad |= spin_cond_past(); break;
        case 2: bad |= spin_poll(); break;
        case 3: bad |= spin_nanosleep(); break;
        case 4: bad |= spin_clock_nanosleep(); break;
        case 5: bad |= spin_sem(); break;
        case 6: bad |= spin_timedjoin(t); continue; /* joined */
        }
        pthread_join(t, NULL);
    }
    return bad;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    sem_init(&sem, 0, 0);
    int only = argc > 1 ? atoi(argv[1]) : -1;
    for (int v = 0; v < 8; v++) {
        if (only >= 0 && v != only) continue;
        for (int sleeps = 0; sleeps < 2; sleeps++) {
            int r = run(v, sleeps);
            printf("%s %s: %s\n", names[v], sleeps ? "after a timer" : "runnable at once",
                   r == 0 ? "ok" : r < 0 ? "pthread_create failed" : "unexpected result");
        }
    }
    return 0;
}
