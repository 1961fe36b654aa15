/* rel_preempt_steal: threads that compute without calls, preempted and
 * (with own TLS and several workers) moved to other OS threads, keep what
 * is a thread's own: a __thread variable updated in the loop, errno,
 * pthread_self, the rounding mode (fesetround), their signal mask, and a
 * thread-local address taken before. Each checks them every few million
 * rounds, between which it makes no call. Deterministic output; alarm
 * bounds a hang. */
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "bound.h"

#define THREADS 6
static __thread uint64_t mine;
static __thread int mine_id;

static int mask_has(int sig)
{
    sigset_t cur;
    pthread_sigmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig);
}

static void *run(void *arg)
{
    long id = (long)arg;
    int modes[4] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    fesetround(modes[id % 4]);
    sigset_t one;
    sigemptyset(&one);
    sigaddset(&one, SIGUSR1 + (int)(id % 2)); /* SIGUSR1 or SIGUSR1+1 (SIGSEGV: its own mask) */
    pthread_sigmask(SIG_BLOCK, &one, NULL);
    pthread_t self = pthread_self();
    mine_id = (int)id;
    int *where = &mine_id;
    errno = 500 + (int)id;
    int bad = 0;
    uint64_t x = (uint64_t)id + 1;
    volatile double d = 1.0;
    for (int round = 0; round < 40; round++) {
        mine = 0;
        for (unsigned long i = 0; i < 2000000UL; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            mine += x >> 60; /* the thread's own, kept in TLS across preemptions */
        }
        d = d * 1.0000001 + 1e-17;
        uint64_t check = 0, y = x;
        (void)y;
        check = mine;
        if (mine_id != (int)id || where != &mine_id) bad |= 1;
        if (errno != 500 + (int)id) bad |= 2;
        if (!pthread_equal(self, pthread_self())) bad |= 4;
        if (fegetround() != modes[id % 4]) bad |= 8;
        if (mask_has(SIGUSR1 + (int)(id % 2)) != 1) bad |= 16;
        if (check > 2000000UL * 15) bad |= 32;
    }
    fesetround(FE_TONEAREST);
    return (void *)(long)(bad * 1000 + (int)(x & 0x3ff));
}

int main(void)
{
    alarm(bound_s(60));
    setvbuf(stdout, NULL, _IOLBF, 0);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, run, (void *)i);
    for (int i = 0; i < THREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        long v = (long)r;
        printf("thread %d: lost %ld (tls/errno/self/round/mask/sum bits), last %ld\n", i, v / 1000, v % 1000);
    }
    return 0;
}
