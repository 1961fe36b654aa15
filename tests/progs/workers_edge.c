/* workers_edge.c — what a program sees of gpatch's workers (GPATCH_WORKERS)
 * where they could show: stock-built, run stock and under gpatch with one
 * and two workers, own and shared TLS; the outputs must be the same.
 *
 *  1. fork from threads (with two workers the first lands on the other
 *     worker, whose OS thread blocks asynchronous signals): the child's
 *     signal mask is the one main had, and a signal still reaches it;
 *  2. the loader's lock: while main is inside dl_iterate_phdr (glibc holds
 *     its recursive lock for the loaded-object list), another thread's
 *     dl_iterate_phdr waits. glibc tells holders apart by the thread id in
 *     the thread's descriptor: with own TLS every green thread's descriptor
 *     showed main's, so a thread on another worker walked in;
 *  3. a cancel, a join and a condition variable between threads that are
 *     on different workers. */
#define _GNU_SOURCE
#include <link.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "bound.h"

static sigset_t main_mask;
static sem_t first_done; /* the forks take turns: the output's order is fixed */

/* ---- 1 ---------------------------------------------------------------------- */
static void *forker(void *arg)
{
    long i = (long)arg;
    if (i == 1)
        while (sem_wait(&first_done) != 0) {}
    fflush(stdout);
    pid_t p = fork();
    if (p == 0) {
        sigset_t m;
        sigprocmask(SIG_SETMASK, NULL, &m);
        int same = 1;
        for (int s = 1; s < 32; s++) same &= sigismember(&m, s) == sigismember(&main_mask, s);
        /* SIGTERM, unblocked as in main, must end it */
        printf("fork from thread %ld: the child's mask is main's: %s\n", i, same ? "yes" : "no");
        fflush(stdout);
        raise(SIGTERM);
        _exit(0); /* not reached when SIGTERM is delivered */
    }
    int st = 0;
    waitpid(p, &st, 0);
    printf("fork from thread %ld: the child %s\n", i,
           WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM ? "died of SIGTERM" : "did not die of SIGTERM");
    if (i == 0) sem_post(&first_done);
    return NULL;
}

/* ---- 2 ---------------------------------------------------------------------- */
static int inside, entered;

static int walk_quick(struct dl_phdr_info *i, size_t s, void *a)
{
    (void)i, (void)s, (void)a;
    __atomic_store_n(&entered, 1, __ATOMIC_SEQ_CST);
    return 1;
}

static void *walker(void *arg)
{
    (void)arg;
    while (!__atomic_load_n(&inside, __ATOMIC_SEQ_CST)) sched_yield();
    dl_iterate_phdr(walk_quick, NULL);
    return NULL;
}

static int walk_slow(struct dl_phdr_info *i, size_t s, void *a)
{
    (void)i, (void)s;
    int *saw = a;
    __atomic_store_n(&inside, 1, __ATOMIC_SEQ_CST);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    do { /* 300 ms inside: the other thread, if let in, sets entered */
        if (__atomic_load_n(&entered, __ATOMIC_SEQ_CST)) *saw = 1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
    } while ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) < 300000000L);
    return 1;
}

/* ---- 3 ---------------------------------------------------------------------- */
static pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t c = PTHREAD_COND_INITIALIZER;
static int turn, rounds_done;

static void *pinger(void *arg)
{
    long me = (long)arg;
    for (int i = 0; i < 2000; i++) {
        pthread_mutex_lock(&m);
        while (turn != me) pthread_cond_wait(&c, &m);
        turn = !me;
        rounds_done++;
        pthread_cond_broadcast(&c);
        pthread_mutex_unlock(&m);
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;) pause();
    return NULL;
}

int main(void)
{
    alarm(bound_s(60)); /* a hang ends as a failure */
    sigprocmask(SIG_SETMASK, NULL, &main_mask);
    sem_init(&first_done, 0, 0);
    pthread_t t[3];
    for (long i = 0; i < 2; i++) pthread_create(&t[i], NULL, forker, (void *)i);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);

    int saw = 0;
    pthread_create(&t[0], NULL, walker, NULL);
    dl_iterate_phdr(walk_slow, &saw);
    pthread_join(t[0], NULL);
    printf("the loader's lock: another thread waited while main held it: %s\n", saw ? "no" : "yes");

    pthread_create(&t[0], NULL, pinger, (void *)0L);
    pthread_create(&t[1], NULL, pinger, (void *)1L);
    pthread_create(&t[2], NULL, sleeper, NULL);
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    void *r = NULL;
    pthread_cancel(t[2]);
    pthread_join(t[2], &r);
    printf("ping-pong rounds %d; the sleeper %s\n", rounds_done, r == PTHREAD_CANCELED ? "was canceled" : "was not canceled");
    return 0;
}
