/* sync_storm — one bounded queue (a mutex and two condition variables)
 * shared by threads of the program (green threads under gpatch) and by
 * OS threads that gpatch did not make: the callbacks of SIGEV_THREAD timers,
 * which glibc runs on threads it creates internally (not through the
 * program's pthread_create, so never green threads). Producers and consumers
 * of both kinds, some consumers waiting with short timed waits (the
 * deadline passes often: the waiter must give the worker up), plus a plain
 * mutex-guarded counter hammered by both kinds. Every value pushed is
 * popped exactly once (sums compared), and the foreign callbacks check that
 * they run on an OS thread other than main's (under gpatch the green
 * threads share main's). Built stock; under gpatch the same output is
 * expected. A lost wake-up parks everyone (timeout); a broken mutex shows
 * as a wrong count.
 * Usage: sync_storm [ROUNDS [ITEMS]]   (default 100 rounds x 400 items per actor) */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { GREEN_PROD = 6, GREEN_CONS = 6, FOREIGN_PROD = 2, FOREIGN_CONS = 2, CAP = 8 };

static int items = 400;

static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t notfull = PTHREAD_COND_INITIALIZER, notempty = PTHREAD_COND_INITIALIZER;
static long q[CAP];
static int qhead, qlen;
static long pushed_sum, popped_sum;

static pthread_mutex_t cm = PTHREAD_MUTEX_INITIALIZER;
static long hammered;

static pthread_mutex_t dm = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t donec = PTHREAD_COND_INITIALIZER;
static int foreign_done, foreign_elsewhere, wait_errors;

static void push(long v)
{
    pthread_mutex_lock(&m);
    while (qlen == CAP) pthread_cond_wait(&notfull, &m);
    q[(qhead + qlen++) % CAP] = v;
    pushed_sum += v;
    pthread_cond_signal(&notempty);
    pthread_mutex_unlock(&m);
}

/* timed: wait in 1 ms slices (a slice often expires before anyone pushes) */
static long pop(int timed)
{
    pthread_mutex_lock(&m);
    while (qlen == 0) {
        if (timed) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 1000000;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            int rc = pthread_cond_timedwait(&notempty, &m, &ts);
            if (rc != 0 && rc != ETIMEDOUT) __atomic_add_fetch(&wait_errors, 1, __ATOMIC_RELAXED);
        } else {
            pthread_cond_wait(&notempty, &m);
        }
    }
    long v = q[qhead];
    qhead = (qhead + 1) % CAP;
    qlen--;
    popped_sum += v;
    pthread_cond_signal(&notfull);
    pthread_mutex_unlock(&m);
    return v;
}

static void hammer(void)
{
    if (pthread_mutex_trylock(&cm) != 0) pthread_mutex_lock(&cm);
    long c = hammered;
    hammered = c + 1;
    pthread_mutex_unlock(&cm);
}

/* green threads: producers push items values, consumers pop as many */
static void *green(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < items; i++) {
        if (id < GREEN_PROD) push(id * 100000 + i + 1);
        else pop((id & 1) == 0);
        hammer();
    }
    return NULL;
}

/* foreign OS threads: a SIGEV_THREAD timer's callback does a whole actor's work */
static void foreign(union sigval sv)
{
    long id = sv.sival_int;
    int elsewhere = syscall(SYS_gettid) != getpid();
    for (int i = 0; i < items; i++) {
        if (id < FOREIGN_PROD) push(1000000 + id * 100000 + i + 1);
        else pop(id & 1);
        hammer();
    }
    pthread_mutex_lock(&dm);
    foreign_done++;
    foreign_elsewhere += elsewhere;
    pthread_cond_signal(&donec);
    pthread_mutex_unlock(&dm);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    if (argc > 2) items = atoi(argv[2]);
    long expect_sum = 0;
    for (long id = 0; id < GREEN_PROD; id++)
        for (int i = 0; i < items; i++) expect_sum += id * 100000 + i + 1;
    for (long id = 0; id < FOREIGN_PROD; id++)
        for (int i = 0; i < items; i++) expect_sum += 1000000 + id * 100000 + i + 1;
    int ok = 1;
    for (int r = 0; r < rounds; r++) {
        pushed_sum = popped_sum = hammered = 0;
        foreign_done = foreign_elsewhere = 0;
        timer_t tm[FOREIGN_PROD + FOREIGN_CONS];
        for (int i = 0; i < FOREIGN_PROD + FOREIGN_CONS; i++) {
            struct sigevent se;
            memset(&se, 0, sizeof se);
            se.sigev_notify = SIGEV_THREAD;
            se.sigev_notify_function = foreign;
            se.sigev_value.sival_int = i;
            if (timer_create(CLOCK_MONOTONIC, &se, &tm[i]) != 0) return perror("timer_create"), 1;
            struct itimerspec its = {.it_value = {0, 1000000 + 250000 * i}}; /* one shot */
            timer_settime(tm[i], 0, &its, NULL);
        }
        pthread_t t[GREEN_PROD + GREEN_CONS];
        for (long i = 0; i < GREEN_PROD + GREEN_CONS; i++) pthread_create(&t[i], NULL, green, (void *)i);
        for (int i = 0; i < GREEN_PROD + GREEN_CONS; i++) pthread_join(t[i], NULL);
        pthread_mutex_lock(&dm);
        while (foreign_done < FOREIGN_PROD + FOREIGN_CONS) pthread_cond_wait(&donec, &dm);
        pthread_mutex_unlock(&dm);
        for (int i = 0; i < FOREIGN_PROD + FOREIGN_CONS; i++) timer_delete(tm[i]);
        long total = (long)(GREEN_PROD + GREEN_CONS + FOREIGN_PROD + FOREIGN_CONS) * items;
        int rok = pushed_sum == expect_sum && popped_sum == expect_sum && qlen == 0 && hammered == total &&
                  foreign_elsewhere == FOREIGN_PROD + FOREIGN_CONS;
        printf("round %d: pushed %s popped %s, queue left %d, counter %s, foreign callbacks on other OS threads %d/%d\n",
               r, pushed_sum == expect_sum ? "all" : "WRONG", popped_sum == expect_sum ? "all" : "WRONG", qlen,
               hammered == total ? "exact" : "WRONG", foreign_elsewhere, FOREIGN_PROD + FOREIGN_CONS);
        ok &= rok;
    }
    printf("timed wait errors %d\n%s\n", wait_errors, ok && !wait_errors ? "ok" : "FAILED");
    return ok && !wait_errors ? 0 : 1;
}
