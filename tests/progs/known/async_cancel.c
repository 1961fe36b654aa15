/* rel_preempt_cancel: pthread_cancel of threads that compute with
 * PTHREAD_CANCEL_ASYNCHRONOUS (preempted meanwhile, or not): each ends
 * cancelled, its cleanup handler runs once, and the others go on; a thread
 * with deferred cancellation that computes and then reaches
 * pthread_testcancel is cancelled there. Deterministic output; alarm bounds
 * a hang. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include "bound.h"

#define T 4
static volatile int cleanups[T + 1], started;

static void cleanup(void *arg) { cleanups[(long)arg]++; }

static void *async_spin(void *arg)
{
    long i = (long)arg;
    pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, NULL);
    pthread_cleanup_push(cleanup, arg);
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    volatile unsigned long x = i;
    for (;;) x = x * 6364136223846793005ULL + 1;
    pthread_cleanup_pop(0);
    return NULL;
}

static void *deferred(void *arg)
{
    pthread_cleanup_push(cleanup, arg);
    __atomic_add_fetch(&started, 1, __ATOMIC_SEQ_CST);
    volatile unsigned long x = 1;
    for (unsigned long i = 0; i < 200000000UL; i++) x = x * 6364136223846793005ULL + 1;
    pthread_testcancel();
    pthread_cleanup_pop(0);
    return (void *)1;
}

int main(void)
{
    alarm(bound_s(30));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t[T + 1];
    for (long i = 0; i < T; i++) pthread_create(&t[i], NULL, async_spin, (void *)i);
    pthread_create(&t[T], NULL, deferred, (void *)(long)T);
    while (__atomic_load_n(&started, __ATOMIC_SEQ_CST) < T + 1) usleep(1000);
    usleep(30000);
    for (int i = 0; i <= T; i++) pthread_cancel(t[i]);
    for (int i = 0; i <= T; i++) {
        void *r;
        pthread_join(t[i], &r);
        printf("thread %d: %s, cleanups %d\n", i, r == PTHREAD_CANCELED ? "cancelled" : "returned", cleanups[i]);
    }
    return 0;
}
